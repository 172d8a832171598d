// The raw-engine peer of `larder ingest`'s offline half: DuckDB reads a CSV and writes it as one
// Parquet file (COPY ... TO ... (FORMAT parquet)), through Larder's DuckDB adapter.
//
//   larder_bench_duckdb_copy IN.csv OUT.parquet
//
// Prints one JSON line: {"rows": N, "seconds": S} where S covers opening DuckDB, the COPY and
// closing (the file is complete on disk when the program reports).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "offline/duckdb_engine.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IN.csv OUT.parquet\n", argv[0]);
    return 2;
  }
  using larder::offline::QuoteLiteral;
  const auto start = std::chrono::steady_clock::now();
  auto db = larder::offline::Database::Open({});
  if (!db.ok()) {
    std::fprintf(stderr, "duckdb: %s\n", db.status().ToString().c_str());
    return 1;
  }
  auto conn = (*db)->Connect();
  if (!conn.ok()) {
    std::fprintf(stderr, "duckdb: %s\n", conn.status().ToString().c_str());
    return 1;
  }
  auto result = (*conn)->Query(
      fmt::format("COPY (SELECT * FROM read_csv({}, header = true)) TO {} (FORMAT parquet)",
                  QuoteLiteral(argv[1]), QuoteLiteral(argv[2])));
  if (!result.ok()) {
    std::fprintf(stderr, "duckdb: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const int64_t rows = (*result)->rows_changed();
  result->reset();
  conn->reset();
  db->reset();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"rows\": %lld, \"seconds\": %.6f}\n", static_cast<long long>(rows), seconds);
  return 0;
}
