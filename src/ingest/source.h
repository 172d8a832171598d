// Input files for bulk ingestion and schema inference: CSV (with a header row), Parquet, and JSON
// (newline-delimited records, or one array of records), all read by DuckDB through the offline
// module's adapter. Nothing here parses a file by hand.
//
// Thread-safety: pure functions, except that the returned Database is thread-safe as documented
// in offline/duckdb_engine.h.
#ifndef LARDER_INGEST_SOURCE_H_
#define LARDER_INGEST_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "larder/status.h"
#include "offline/duckdb_engine.h"

namespace larder::ingest {

enum class FileFormat { kAuto, kCsv, kParquet, kJson };

// "auto", "csv", "parquet", "json" (also "jsonl", "ndjson"); nullopt for anything else.
std::optional<FileFormat> FileFormatFromName(std::string_view name);
std::string_view FileFormatName(FileFormat f);

// `requested` unless kAuto; else by extension (".csv", ".tsv", ".txt", optionally ".gz";
// ".parquet", ".pq"; ".json", ".jsonl", ".ndjson"). InvalidArgument names the file and lists
// the extensions when it cannot tell.
StatusOr<FileFormat> ResolveFileFormat(const std::string& path, FileFormat requested);

struct ScanOptions {
  FileFormat format = FileFormat::kCsv;  // resolved (not kAuto)
  // CSV: read every column as VARCHAR (the loader converts text itself, so one bad value
  // rejects one row instead of failing the scan). No effect on Parquet and JSON.
  bool all_varchar = false;
  // Rows DuckDB samples to detect CSV/JSON types (DuckDB's default is 20480). -1: all rows.
  int64_t sample_rows = 20480;
};

// The DuckDB table function call that reads `path`, e.g.
// read_csv('/data/x.csv', header = true, all_varchar = true).
std::string ScanSql(const std::string& path, const ScanOptions& options);

struct SourceDbOptions {
  int threads = 0;                 // DuckDB worker threads; 0 = one per core
  int64_t memory_limit_bytes = 0;  // 0 = DuckDB's default
};

// An in-memory DuckDB instance for reading input files.
StatusOr<std::unique_ptr<offline::Database>> OpenSourceDatabase(const SourceDbOptions& options);

// The columns of `path` as DuckDB reads it with `options` (sniffing a sample for CSV and JSON).
// IOError when the file cannot be read; InvalidArgument (DuckDB's message, naming the file) when
// it does not parse.
StatusOr<std::vector<offline::Column>> DescribeSource(offline::Connection* conn,
                                                      const std::string& path,
                                                      const ScanOptions& options);

// Checks that `path` is a readable regular file; IOError naming it otherwise.
Status CheckReadable(const std::string& path);

}  // namespace larder::ingest

#endif  // LARDER_INGEST_SOURCE_H_
