// DatasetBuilder: point-in-time training datasets from the offline store, with the semantics of
// the SageMaker SDK's DatasetBuilder (spec section 4; docs/datasets.md is the full contract).
//
// A dataset is a base table -- a CSV or Parquet file of entity rows, or one feature group's
// offline rows -- joined with one or more feature groups. Each group's rows first go through the
// SDK's record handling:
//   filters      as_of: write_time <= T; event time range: start <= event time <= end.
//   dedup        one row per (record identifier, event time): the latest api_invocation_time,
//                then the latest write_time (skipped with include_duplicates).
//   deletes      per identifier the latest delete marker by (event time, api_invocation_time,
//                write_time); only rows strictly newer than it survive (skipped with
//                include_deleted, which only drops the markers themselves).
// Then, per join mode:
//   kAsOf        (default) one output row per base row; per group, the surviving row of the
//                base row's key with the latest event time <= the base row's event time (ties:
//                the latest api_invocation_time, then write_time). LEFT by default: base rows
//                without a match keep nulls; INNER drops them.
//   kAllMatches  the SDK's literal query: every surviving row matching the join condition
//                (and, with point_in_time, event time <= the base event time), any join type.
// Finally `recent` keeps, per base record identifier, the rows ranked first by base event time
// DESC, then each group's event time DESC (the SDK's row_recent), and `limit` caps the row count.
//
// Event times are compared as instants, whatever their text: a String event time is ISO-8601
// (0..9 fraction digits, truncated to microseconds) or Unix seconds as a decimal string, a
// Fractional one Unix seconds (rounded to the microsecond); a base file's event-time column may
// also be a TIMESTAMP, a DATE or a number of Unix seconds.
//
// Execution: the plan is one DuckDB statement, COPY (...) TO a temporary file beside the output,
// renamed into place on success, so a failed or cancelled build leaves no partial output. The
// engine streams and spills to `temp_directory`, so memory stays within `memory_limit_bytes`
// whatever the input size. Each Build opens its own sandboxed engine that can read only the
// directories of its inputs and write only the output's directory.
//
// Thread-safety: thread-safe; concurrent Builds each use up to memory_limit_bytes.
#ifndef LARDER_OFFLINE_DATASET_BUILDER_H_
#define LARDER_OFFLINE_DATASET_BUILDER_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog_reader.h"
#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::offline {

enum class JoinMode { kAsOf, kAllMatches };
// The SDK's JoinTypeEnum without CROSS_JOIN (which the SDK combines with an ON clause that
// Athena rejects).
enum class JoinType { kInner, kLeft, kRight, kFull };
enum class JoinComparator { kEquals, kNotEquals, kLess, kLessOrEqual, kGreater, kGreaterOrEqual };
enum class OutputFormat { kCsv, kParquet };
enum class BaseFormat { kAuto, kCsv, kParquet };  // kAuto: by extension (.csv, .parquet/.pq)
// kSdk: every joined column is "<feature>.<i+1>" (i = the group's position), as the SDK aliases
// them. kPlain: joined columns keep their names; only a name already taken gets ".<i+1>".
enum class ColumnNaming { kSdk, kPlain };

// Wire names, for JSON and flags: "AsOf"/"AllMatches"; "Inner"/"Left"/"Right"/"Full" (also the
// SDK's "INNER_JOIN"...); "="/"<>"/"<"/"<="/">"/">=" (also "EQUALS", "NOT_EQUAL_TO",
// "LESS_THAN", ...); "csv"/"parquet"; "Sdk"/"Plain". nullopt for anything else.
std::optional<JoinMode> JoinModeFromName(std::string_view name);
std::optional<JoinType> JoinTypeFromName(std::string_view name);
std::optional<JoinComparator> JoinComparatorFromName(std::string_view name);
std::optional<OutputFormat> OutputFormatFromName(std::string_view name);
std::optional<ColumnNaming> ColumnNamingFromName(std::string_view name);
std::string_view JoinModeName(JoinMode m);
std::string_view OutputFormatName(OutputFormat f);  // "csv" / "parquet"

// One feature group's offline data: its definition and its Parquet files (offline layout:
// features, then api_invocation_time, write_time, is_deleted). The files must stay readable
// for the whole Build (hold a FileManifest::Snapshot).
struct GroupData {
  catalog::GroupPtr group;         // required
  std::vector<std::string> files;  // absolute paths; may be empty
};

struct BaseFile {
  std::string path;  // absolute
  BaseFormat format = BaseFormat::kAuto;
  std::string record_identifier;     // column name; required
  std::string event_time;            // column name; required
  std::vector<std::string> columns;  // output columns, in order; empty = all
};

struct GroupJoin {
  GroupData data;
  std::vector<std::string> features;  // output features, in order; empty = all
  // The base column compared with the group; empty = the base's record identifier.
  std::string base_column;
  // The group's feature it is compared with; empty = the group's record identifier. kAsOf needs
  // the record identifier (as-of is defined per record).
  std::string target_feature;
  JoinComparator comparator = JoinComparator::kEquals;  // kAsOf needs kEquals
  // nullopt: kLeft for kAsOf, kInner (the SDK's default) for kAllMatches. kAsOf allows kLeft and
  // kInner only.
  std::optional<JoinType> join_type;
};

struct DatasetSpec {
  // Exactly one base: a file, or a feature group (its rows after the record handling above).
  std::optional<BaseFile> base_file;
  std::optional<GroupData> base_group;
  std::vector<std::string> base_group_features;  // output features of base_group; empty = all

  std::vector<GroupJoin> groups;  // joined in order; may be empty (then the base alone)

  JoinMode join_mode = JoinMode::kAsOf;
  // kAllMatches only: add "base event time >= group event time" to each join condition (the
  // SDK's point_in_time_accurate_join()). kAsOf is always point-in-time.
  bool point_in_time = true;
  bool include_deleted = false;         // include_deleted_records()
  bool include_duplicates = false;      // include_duplicated_records(); no effect in kAsOf
  std::optional<int64_t> as_of_micros;  // as_of(): write_time <= this
  std::optional<int64_t> event_time_start_micros;  // with_event_time_range(): inclusive
  std::optional<int64_t> event_time_end_micros;    // inclusive
  std::optional<int64_t> recent;  // with_number_of_recent_records_by_record_identifier(); >= 0
  std::optional<int64_t> limit;   // with_number_of_records_from_query_results(); >= 0
  ColumnNaming naming = ColumnNaming::kSdk;

  OutputFormat format = OutputFormat::kParquet;
  std::string output_path;  // absolute; its directory must exist; replaced if it exists
};

struct DatasetBuilderOptions {
  int64_t memory_limit_bytes = 1ll << 30;  // the engine's limit; it spills beyond it
  int threads = 0;                         // 0 = one per core
  // Where the engine spills; required. Created if missing.
  std::string temp_directory;
};

struct DatasetResult {
  int64_t rows = 0;
  std::vector<std::string> columns;
  int64_t elapsed_micros = 0;
};

// Called with the fraction done, 0..1 (-1 while the engine has no estimate yet), from the thread
// running Build. Return false to cancel: Build then fails with Cancelled and writes nothing.
using ProgressCallback = std::function<bool(double fraction)>;

class DatasetBuilder {
 public:
  static StatusOr<std::unique_ptr<DatasetBuilder>> Open(const DatasetBuilderOptions& options);

  // Validates `spec` (InvalidArgument naming the option and value), builds the dataset into
  // spec.output_path and returns its row count and columns.
  StatusOr<DatasetResult> Build(const DatasetSpec& spec,
                                const ProgressCallback& progress = nullptr) const;

  // The SELECT that Build would run, for diagnostics. Reads the inputs' schemas.
  StatusOr<std::string> Explain(const DatasetSpec& spec) const;

 private:
  explicit DatasetBuilder(DatasetBuilderOptions options) : options_(std::move(options)) {}
  const DatasetBuilderOptions options_;
};

// The Parquet files of a group under an offline data directory (OfflineLayout::DataDir), found
// by listing it: every "*.parquet" not starting with '.'. For tools and benchmarks; the server
// reads the flusher's manifest instead. Sorted; empty when the directory does not exist.
StatusOr<std::vector<std::string>> ListParquetFiles(const std::string& data_dir);

// A one-line progress bar on a terminal: "\r[=====>    ]  52%". Prints only when `out` is a
// TTY. Not thread-safe (one Build's callback).
class TerminalProgressBar {
 public:
  explicit TerminalProgressBar(std::FILE* out = stderr, int width = 40);
  ~TerminalProgressBar();  // ends the line if anything was printed
  // Usable as a ProgressCallback (always returns true).
  bool Update(double fraction);
  ProgressCallback Callback() {
    return [this](double f) { return Update(f); };
  }

 private:
  std::FILE* const out_;
  const int width_;
  const bool enabled_;
  int last_percent_ = -2;
};

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_DATASET_BUILDER_H_
