#include "ingest/source.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/status_macros.h"

namespace larder::ingest {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != suffix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<FileFormat> FileFormatFromName(std::string_view name) {
  if (name == "auto") return FileFormat::kAuto;
  if (name == "csv") return FileFormat::kCsv;
  if (name == "parquet") return FileFormat::kParquet;
  if (name == "json" || name == "jsonl" || name == "ndjson") return FileFormat::kJson;
  return std::nullopt;
}

std::string_view FileFormatName(FileFormat f) {
  switch (f) {
    case FileFormat::kAuto:
      return "auto";
    case FileFormat::kCsv:
      return "csv";
    case FileFormat::kParquet:
      return "parquet";
    case FileFormat::kJson:
      return "json";
  }
  return "auto";
}

StatusOr<FileFormat> ResolveFileFormat(const std::string& path, FileFormat requested) {
  if (requested != FileFormat::kAuto) return requested;
  std::string_view p = path;
  if (EndsWith(p, ".gz")) p.remove_suffix(3);
  if (EndsWith(p, ".csv") || EndsWith(p, ".tsv") || EndsWith(p, ".txt")) return FileFormat::kCsv;
  if (EndsWith(p, ".parquet") || EndsWith(p, ".pq")) return FileFormat::kParquet;
  if (EndsWith(p, ".json") || EndsWith(p, ".jsonl") || EndsWith(p, ".ndjson")) {
    return FileFormat::kJson;
  }
  return Status::InvalidArgument(fmt::format(
      "cannot tell the format of '{}' from its name (expected .csv, .tsv, .parquet, .pq, .json, "
      ".jsonl or .ndjson); pass --format csv|parquet|json",
      path));
}

std::string ScanSql(const std::string& path, const ScanOptions& options) {
  const std::string file = offline::QuoteLiteral(path);
  switch (options.format) {
    case FileFormat::kParquet:
      return fmt::format("read_parquet({})", file);
    case FileFormat::kJson:
      return fmt::format("read_json({}, format = 'auto', sample_size = {})", file,
                         options.sample_rows);
    case FileFormat::kCsv:
    case FileFormat::kAuto:
      break;
  }
  // A header row is required: the loader maps columns to features by name.
  return fmt::format("read_csv({}, header = true, sample_size = {}{})", file, options.sample_rows,
                     options.all_varchar ? ", all_varchar = true" : "");
}

StatusOr<std::unique_ptr<offline::Database>> OpenSourceDatabase(const SourceDbOptions& options) {
  offline::DatabaseOptions db;
  db.threads = options.threads;
  db.memory_limit_bytes = options.memory_limit_bytes;
  return offline::Database::Open(db);
}

Status CheckReadable(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return Status::IOError(fmt::format("cannot read '{}': no such file", path));
  }
  if (std::filesystem::is_directory(st)) {
    return Status::IOError(fmt::format("cannot read '{}': it is a directory", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  }
  return Status::OK();
}

StatusOr<std::vector<offline::Column>> DescribeSource(offline::Connection* conn,
                                                      const std::string& path,
                                                      const ScanOptions& options) {
  RETURN_IF_ERROR(CheckReadable(path));
  auto stmt = conn->Prepare("SELECT * FROM " + ScanSql(path, options));
  if (!stmt.ok()) {
    return Status(stmt.status().code(),
                  fmt::format("cannot read '{}' as {}: {}", path, FileFormatName(options.format),
                              stmt.status().message()));
  }
  return (*stmt)->columns();
}

}  // namespace larder::ingest
