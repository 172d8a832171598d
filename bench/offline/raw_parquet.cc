// Peer for bench/offline: DuckDB writing N rows of the benchmark's shape (string id, string event
// time, 8 doubles, then api_invocation_time/write_time timestamps and is_deleted) straight to a
// zstd Parquet file. Only the COPY is timed: it is the raw engine's share of what Larder's
// flusher does (Larder also reads the outbox, decodes records, splits hourly partitions and
// makes the files durable with fsync + rename).
//
// Usage: bench_offline_raw_parquet ROWS OUT_DIR   -> prints "raw_copy_seconds <s>"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "offline/duckdb_engine.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ROWS OUT_DIR\n", argv[0]);
    return 2;
  }
  const long rows = std::atol(argv[1]);
  const std::string out = std::string(argv[2]) + "/raw.parquet";
  larder::offline::DatabaseOptions options;
  options.threads = 2;
  auto db = larder::offline::Database::Open(options);
  if (!db.ok()) return std::fprintf(stderr, "%s\n", db.status().ToString().c_str()), 1;
  auto conn = (*db)->Connect();
  if (!conn.ok()) return std::fprintf(stderr, "%s\n", conn.status().ToString().c_str()), 1;
  larder::Status s = (*conn)->Execute(
      "CREATE TABLE t AS SELECT 'C' || lpad(i::VARCHAR, 8, '0') AS customer_id, "
      "(1700000000 + i % 86400)::VARCHAR AS event_time, "
      "random() * 5000 AS f1, random() * 200 AS f2, random() * 365 AS f3, random() * 100 AS f4, "
      "random() AS f5, random() * 2000 AS f6, random() AS f7, random() AS f8, "
      "now()::TIMESTAMP AS api_invocation_time, now()::TIMESTAMP AS write_time, "
      "false AS is_deleted FROM range(" + std::to_string(rows) + ") r(i)");
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  auto t0 = std::chrono::steady_clock::now();
  s = (*conn)->Execute("COPY t TO '" + out + "' (FORMAT parquet, COMPRESSION zstd)");
  auto t1 = std::chrono::steady_clock::now();
  if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  std::printf("raw_copy_seconds %.3f\n", std::chrono::duration<double>(t1 - t0).count());
  return 0;
}
