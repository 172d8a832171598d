#include "offline/dataset_builder.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "common/status_macros.h"
#include "offline/duckdb_engine.h"

namespace larder::offline {
namespace {

// Internal column names start with this; base files may not use it.
constexpr std::string_view kInternalPrefix = "__larder_";

std::string Q(std::string_view name) { return QuoteIdentifier(name); }
std::string L(std::string_view text) { return QuoteLiteral(text); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string FeatureSqlType(const catalog::FeatureDefinition& f) {
  std::string_view scalar = "VARCHAR";
  if (f.type == catalog::FeatureType::kIntegral) scalar = "BIGINT";
  if (f.type == catalog::FeatureType::kFractional) scalar = "DOUBLE";
  if (f.collection == catalog::CollectionType::kNone) return std::string(scalar);
  return std::string(scalar) + "[]";
}

std::string_view ComparatorSql(JoinComparator c) {
  switch (c) {
    case JoinComparator::kEquals:
      return "=";
    case JoinComparator::kNotEquals:
      return "<>";
    case JoinComparator::kLess:
      return "<";
    case JoinComparator::kLessOrEqual:
      return "<=";
    case JoinComparator::kGreater:
      return ">";
    case JoinComparator::kGreaterOrEqual:
      return ">=";
  }
  return "=";
}

std::string_view JoinTypeSql(JoinType t) {
  switch (t) {
    case JoinType::kInner:
      return "JOIN";
    case JoinType::kLeft:
      return "LEFT JOIN";
    case JoinType::kRight:
      return "RIGHT JOIN";
    case JoinType::kFull:
      return "FULL JOIN";
  }
  return "JOIN";
}

std::string_view JoinTypeName(JoinType t) {
  switch (t) {
    case JoinType::kInner:
      return "Inner";
    case JoinType::kLeft:
      return "Left";
    case JoinType::kRight:
      return "Right";
    case JoinType::kFull:
      return "Full";
  }
  return "Inner";
}

// Microseconds since the epoch of a text event time: Unix seconds as a decimal (floored to the
// microsecond, like catalog::ParseEventTime) or anything DuckDB casts to TIMESTAMPTZ (ISO-8601
// with 'Z', fraction truncated to microseconds; "yyyy-MM-dd HH:mm:ss" read as UTC). A text that is
// neither fails the statement with DuckDB's conversion error quoting it.
std::string TextToMicros(const std::string& x) {
  return fmt::format(
      "COALESCE(CAST(floor(TRY_CAST({0} AS DECIMAL(38,12)) * 1000000) AS BIGINT), "
      "epoch_us(CAST({0} AS TIMESTAMPTZ)))",
      x);
}

// Microseconds since the epoch of Unix seconds held as a number, rounded to the microsecond.
std::string SecondsToMicros(const std::string& x) {
  return fmt::format("CAST(round(CAST({} AS DOUBLE) * 1000000) AS BIGINT)", x);
}

StatusOr<std::string> EventTimeToMicros(const std::string& x, const DataType& type,
                                        std::string_view what) {
  switch (type.kind) {
    case TypeKind::kVarchar:
      return TextToMicros(x);
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampTz:
      return fmt::format("epoch_us({})", x);
    case TypeKind::kDate:
      return fmt::format("epoch_us(CAST({} AS TIMESTAMP))", x);
    case TypeKind::kTinyInt:
    case TypeKind::kSmallInt:
    case TypeKind::kInteger:
    case TypeKind::kBigInt:
    case TypeKind::kHugeInt:
    case TypeKind::kUTinyInt:
    case TypeKind::kUSmallInt:
    case TypeKind::kUInteger:
    case TypeKind::kUBigInt:
    case TypeKind::kFloat:
    case TypeKind::kDouble:
    case TypeKind::kDecimal:
      return SecondsToMicros(x);
    default:
      return Status::InvalidArgument(fmt::format(
          "{} has type {}; an event time must be a timestamp, a date, Unix seconds as a number, "
          "or text (ISO-8601 or Unix seconds)",
          what, type.ToSql()));
  }
}

// "newer than the latest marker" (spec 4): later event time; or equal event time and later
// api_invocation_time; or both equal and later write_time. `x` holds __ts/__api/__wt and `m` the
// marker's __mt/__ma/__mw.
std::string NewerThanMarker(std::string_view x, std::string_view m) {
  return fmt::format(
      "({0}.__ts > {1}.__mt OR ({0}.__ts = {1}.__mt AND ({0}.__api > {1}.__ma OR ({0}.__api = "
      "{1}.__ma AND {0}.__wt > {1}.__mw))))",
      x, m);
}

std::string MicrosLiteral(int64_t micros) {
  return fmt::format("CAST(make_timestamp(CAST({} AS BIGINT)) AS TIMESTAMPTZ)", micros);
}

Status CheckAbsolute(const std::string& path, std::string_view option) {
  if (path.empty()) return Status::InvalidArgument(fmt::format("{} is required", option));
  if (path.front() != '/') {
    return Status::InvalidArgument(fmt::format("{} '{}' must be an absolute path", option, path));
  }
  if (path.find('\0') != std::string::npos) {
    return Status::InvalidArgument(fmt::format("{} holds a NUL byte", option));
  }
  return Status::OK();
}

// A group's schema as it will be read: which columns its files hold, with their types.
struct FileSchema {
  std::map<std::string, DataType> columns;
};

// Everything the SQL generator needs about one group input.
struct GroupInput {
  const catalog::FeatureGroup* g = nullptr;
  const std::vector<std::string>* files = nullptr;
  FileSchema schema;
  std::string cte;  // CTE prefix, e.g. "g0"
};

class PlanBuilder {
 public:
  PlanBuilder(const DatasetSpec& spec, Connection* conn) : spec_(spec), conn_(conn) {}

  // Validates the spec against the inputs' schemas and returns the SELECT.
  StatusOr<std::string> Build();
  const std::vector<std::string>& output_columns() const { return output_columns_; }

 private:
  Status ValidateOptions();
  Status LoadGroupSchema(GroupInput* in, std::string_view what);
  Status LoadBaseFileSchema();
  std::string ParquetSource(const std::vector<std::string>& files) const;
  // CTEs for a group's raw rows (filters applied) and, unless include_deleted, its latest
  // markers. Appends to ctes_.
  void AddRawCtes(const GroupInput& in);
  // CTE "<cte>_kept": the rows left after dedup and delete handling (for kAllMatches and a
  // base group).
  void AddKeptCte(const GroupInput& in);
  StatusOr<std::string> BaseRelation();
  StatusOr<std::string> AsOfQuery(const std::string& base);
  StatusOr<std::string> AllMatchesQuery(const std::string& base);
  Status NameOutputs();
  std::string WithClause() const;
  const catalog::FeatureDefinition* Target(size_t i) const;

  const DatasetSpec& spec_;
  Connection* const conn_;
  GroupInput base_group_;
  std::vector<GroupInput> groups_;
  std::map<std::string, DataType> base_file_columns_;  // name -> type
  std::vector<std::string> base_file_order_;
  std::vector<std::string> base_columns_;                 // projected base columns
  std::vector<std::vector<std::string>> group_features_;  // projected features per group
  std::vector<std::string> output_columns_;
  std::vector<std::pair<std::string, std::string>> ctes_;  // name, body
  std::vector<JoinType> join_types_;
};

Status PlanBuilder::ValidateOptions() {
  const DatasetSpec& s = spec_;
  if (s.base_file.has_value() == s.base_group.has_value()) {
    return Status::InvalidArgument("give exactly one base: a base file or a base feature group");
  }
  if (s.recent.has_value() && *s.recent < 0) {
    return Status::InvalidArgument(
        fmt::format("recent must be a non-negative integer, got {}", *s.recent));
  }
  if (s.limit.has_value() && *s.limit < 0) {
    return Status::InvalidArgument(
        fmt::format("limit must be a non-negative integer, got {}", *s.limit));
  }
  if (s.event_time_start_micros && s.event_time_end_micros &&
      *s.event_time_start_micros > *s.event_time_end_micros) {
    return Status::InvalidArgument(
        fmt::format("event_time_start ({} us) is after event_time_end ({} us)",
                    *s.event_time_start_micros, *s.event_time_end_micros));
  }
  RETURN_IF_ERROR(CheckAbsolute(s.output_path, "output path"));
  std::filesystem::path out(s.output_path);
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec)) {
    return Status::InvalidArgument(
        fmt::format("output path '{}' is a directory; name a file", s.output_path));
  }
  if (!std::filesystem::is_directory(out.parent_path(), ec)) {
    return Status::InvalidArgument(fmt::format("output path '{}': directory '{}' does not exist",
                                               s.output_path, out.parent_path().string()));
  }
  if (s.base_group.has_value() && s.base_group->group == nullptr) {
    return Status::InvalidArgument("base feature group is null");
  }
  for (size_t i = 0; i < s.groups.size(); ++i) {
    const GroupJoin& j = s.groups[i];
    if (j.data.group == nullptr) {
      return Status::InvalidArgument(fmt::format("feature group #{} is null", i + 1));
    }
    if (s.join_mode == JoinMode::kAsOf) {
      if (j.comparator != JoinComparator::kEquals) {
        return Status::InvalidArgument(fmt::format(
            "feature group '{}': join_comparator '{}' needs join_mode AllMatches; the as-of "
            "join matches keys with '='",
            j.data.group->name, ComparatorSql(j.comparator)));
      }
      if (j.join_type.has_value() && *j.join_type != JoinType::kLeft &&
          *j.join_type != JoinType::kInner) {
        return Status::InvalidArgument(fmt::format(
            "feature group '{}': join_type '{}' needs join_mode AllMatches; the as-of join is "
            "Left or Inner",
            j.data.group->name, JoinTypeName(*j.join_type)));
      }
    }
  }
  return Status::OK();
}

std::string PlanBuilder::ParquetSource(const std::vector<std::string>& files) const {
  std::string list = "[";
  for (size_t i = 0; i < files.size(); ++i) {
    if (i > 0) list += ", ";
    list += L(files[i]);
  }
  list += "]";
  return "read_parquet(" + list + ", union_by_name = true, hive_partitioning = false)";
}

Status PlanBuilder::LoadGroupSchema(GroupInput* in, std::string_view what) {
  const catalog::FeatureGroup& g = *in->g;
  const catalog::FeatureDefinition* r = g.FindFeature(g.record_identifier_name);
  const catalog::FeatureDefinition* e = g.FindFeature(g.event_time_feature_name);
  if (r == nullptr || e == nullptr) {
    return Status::InvalidArgument(
        fmt::format("{} '{}' lacks its record identifier or event time feature", what, g.name));
  }
  if (e->type == catalog::FeatureType::kIntegral ||
      e->collection != catalog::CollectionType::kNone) {
    return Status::InvalidArgument(
        fmt::format("{} '{}': event time feature '{}' must be a String or Fractional scalar", what,
                    g.name, e->name));
  }
  for (const std::string& f : *in->files) {
    RETURN_IF_ERROR(CheckAbsolute(f, fmt::format("{} '{}' file", what, g.name)));
  }
  if (in->files->empty()) return Status::OK();
  ASSIGN_OR_RETURN(auto stmt,
                   conn_->Prepare("SELECT * FROM " + ParquetSource(*in->files) + " LIMIT 0"));
  for (const Column& c : stmt->columns()) in->schema.columns[c.name] = c.type;
  for (std::string_view meta : {"api_invocation_time", "write_time", "is_deleted"}) {
    if (in->schema.columns.count(std::string(meta)) == 0) {
      return Status::InvalidArgument(
          fmt::format("{} '{}': its offline files lack the column '{}'", what, g.name, meta));
    }
  }
  return Status::OK();
}

Status PlanBuilder::LoadBaseFileSchema() {
  const BaseFile& b = *spec_.base_file;
  RETURN_IF_ERROR(CheckAbsolute(b.path, "base file"));
  struct stat st;
  if (::stat(b.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(
        fmt::format("base file '{}' does not exist or is not a file", b.path));
  }
  if (b.record_identifier.empty()) {
    return Status::InvalidArgument(
        "base file: record_identifier (the identifier column) is required");
  }
  if (b.event_time.empty()) {
    return Status::InvalidArgument("base file: event_time (the event time column) is required");
  }
  ASSIGN_OR_RETURN(auto stmt, conn_->Prepare("SELECT * FROM " + std::string("read_") +
                                             (b.format == BaseFormat::kCsv ? "csv" : "parquet") +
                                             "(" + L(b.path) + ") LIMIT 0"));
  for (const Column& c : stmt->columns()) {
    if (std::string_view(c.name).starts_with(kInternalPrefix)) {
      return Status::InvalidArgument(fmt::format(
          "base file column '{}': names starting with '{}' are reserved", c.name, kInternalPrefix));
    }
    base_file_columns_[c.name] = c.type;
    base_file_order_.push_back(c.name);
  }
  return Status::OK();
}

std::string PlanBuilder::WithClause() const {
  std::string out = "WITH ";
  for (size_t i = 0; i < ctes_.size(); ++i) {
    if (i > 0) out += ",\n";
    out += ctes_[i].first + " AS NOT MATERIALIZED (\n" + ctes_[i].second + ")";
  }
  return out + "\n";
}

void PlanBuilder::AddRawCtes(const GroupInput& in) {
  const catalog::FeatureGroup& g = *in.g;
  const catalog::FeatureDefinition& e = *g.FindFeature(g.event_time_feature_name);
  std::string cols;
  for (const catalog::FeatureDefinition& f : g.features) {
    std::string t = FeatureSqlType(f);
    auto it = in.schema.columns.find(f.name);
    if (in.files->empty() || it == in.schema.columns.end()) {
      cols += fmt::format("CAST(NULL AS {}) AS {}, ", t, Q(f.name));
    } else if (it->second.ToSql() != t) {
      cols += fmt::format("CAST({0} AS {1}) AS {0}, ", Q(f.name), t);
    } else {
      cols += Q(f.name) + ", ";
    }
  }
  std::string body;
  if (in.files->empty()) {
    body = "SELECT " + cols +
           "CAST(NULL AS TIMESTAMPTZ) AS __api, CAST(NULL AS TIMESTAMPTZ) AS __wt, "
           "CAST(NULL AS BOOLEAN) AS __del, CAST(NULL AS BIGINT) AS __ts WHERE false";
  } else {
    std::string ts = e.type == catalog::FeatureType::kFractional ? SecondsToMicros(Q(e.name))
                                                                 : TextToMicros(Q(e.name));
    std::string inner = "SELECT " + cols +
                        "\"api_invocation_time\" AS __api, \"write_time\" AS __wt, "
                        "\"is_deleted\" AS __del, " +
                        ts + " AS __ts FROM " + ParquetSource(*in.files);
    std::vector<std::string> where;
    if (spec_.as_of_micros) where.push_back("__wt <= " + MicrosLiteral(*spec_.as_of_micros));
    if (spec_.event_time_start_micros) {
      where.push_back(fmt::format("__ts >= {}", *spec_.event_time_start_micros));
    }
    if (spec_.event_time_end_micros) {
      where.push_back(fmt::format("__ts <= {}", *spec_.event_time_end_micros));
    }
    if (where.empty()) {
      body = inner;
    } else {
      body = "SELECT * FROM (" + inner + ") WHERE ";
      for (size_t i = 0; i < where.size(); ++i) body += (i > 0 ? " AND " : "") + where[i];
    }
  }
  ctes_.emplace_back(in.cte + "_raw", body);
  if (!spec_.include_deleted) {
    // The latest marker per record (spec 4): by event time, api_invocation_time, write_time.
    ctes_.emplace_back(
        in.cte + "_mk",
        fmt::format("SELECT {0} AS __mr, __ts AS __mt, __api AS __ma, __wt AS __mw FROM {1}_raw "
                    "WHERE __del QUALIFY row_number() OVER (PARTITION BY {0} ORDER BY __ts DESC, "
                    "__api DESC, __wt DESC) = 1",
                    Q(g.record_identifier_name), in.cte));
  }
}

void PlanBuilder::AddKeptCte(const GroupInput& in) {
  const std::string r = Q(in.g->record_identifier_name);
  const std::string dedup = fmt::format(
      " QUALIFY row_number() OVER (PARTITION BY x.{} , x.__ts ORDER BY x.__api DESC, x.__wt DESC) "
      "= 1",
      r);
  std::string body;
  if (spec_.include_deleted) {
    body = "SELECT x.* FROM " + in.cte + "_raw x WHERE NOT x.__del";
    if (!spec_.include_duplicates) body += dedup;
  } else {
    body = fmt::format(
        "SELECT x.* FROM {0}_raw x LEFT JOIN {0}_mk m ON x.{1} = m.__mr WHERE NOT "
        "x.__del AND (m.__mr IS NULL OR {2})",
        in.cte, r, NewerThanMarker("x", "m"));
    if (!spec_.include_duplicates) body += dedup;
  }
  ctes_.emplace_back(in.cte + "_kept", body);
}

const catalog::FeatureDefinition* PlanBuilder::Target(size_t i) const {
  const GroupJoin& j = spec_.groups[i];
  const catalog::FeatureGroup& g = *j.data.group;
  return g.FindFeature(j.target_feature.empty() ? g.record_identifier_name : j.target_feature);
}

// The base relation "b": the base's output columns plus __larder_bt (event time, micros),
// __larder_bid (record identifier), __larder_k<i> (the value compared with group i, cast to its
// type) and __larder_row (a row number).
StatusOr<std::string> PlanBuilder::BaseRelation() {
  std::string select;
  std::string from;
  std::string bt;
  std::string bid;
  // Base column (or feature) -> its SQL type.
  std::function<std::optional<DataType>(const std::string&)> column_type;
  if (spec_.base_file) {
    const BaseFile& b = *spec_.base_file;
    auto type_of = [this](const std::string& name) -> std::optional<DataType> {
      auto it = base_file_columns_.find(name);
      if (it == base_file_columns_.end()) return std::nullopt;
      return it->second;
    };
    column_type = type_of;
    auto require = [&](const std::string& name, std::string_view option) -> Status {
      if (base_file_columns_.count(name) == 0) {
        std::string have;
        for (const std::string& c : base_file_order_) have += (have.empty() ? "" : ", ") + c;
        return Status::InvalidArgument(fmt::format(
            "{} '{}' is not a column of base file '{}' (columns: {})", option, name, b.path, have));
      }
      return Status::OK();
    };
    RETURN_IF_ERROR(require(b.record_identifier, "record_identifier"));
    RETURN_IF_ERROR(require(b.event_time, "event_time"));
    for (const std::string& c : b.columns) RETURN_IF_ERROR(require(c, "base column"));
    for (const GroupJoin& j : spec_.groups) {
      if (!j.base_column.empty()) RETURN_IF_ERROR(require(j.base_column, "base_column"));
    }
    base_columns_ = b.columns.empty() ? base_file_order_ : b.columns;
    if (b.format == BaseFormat::kCsv) {
      // Keys and the event time are read as text: the sniffer would turn "0042" into 42.
      std::set<std::string> text_columns = {b.record_identifier, b.event_time};
      for (const GroupJoin& j : spec_.groups) {
        text_columns.insert(j.base_column.empty() ? b.record_identifier : j.base_column);
      }
      std::string types;
      for (const std::string& c : text_columns) {
        types += (types.empty() ? "" : ", ") + L(c) + ": 'VARCHAR'";
        base_file_columns_[c] = DataType::Scalar(TypeKind::kVarchar);
      }
      from = "read_csv(" + L(b.path) + ", header = true, types = {" + types + "})";
    } else {
      from = "read_parquet(" + L(b.path) + ")";
    }
    ASSIGN_OR_RETURN(bt, EventTimeToMicros(Q(b.event_time), base_file_columns_[b.event_time],
                                           fmt::format("base column '{}'", b.event_time)));
    bid = Q(b.record_identifier);
    for (const std::string& c : base_columns_) select += Q(c) + ", ";
  } else {
    const catalog::FeatureGroup& g = *base_group_.g;
    column_type = [&g](const std::string& name) -> std::optional<DataType> {
      const catalog::FeatureDefinition* f = g.FindFeature(name);
      if (f == nullptr) return std::nullopt;
      DataType t;
      t.kind = f->type == catalog::FeatureType::kIntegral     ? TypeKind::kBigInt
               : f->type == catalog::FeatureType::kFractional ? TypeKind::kDouble
                                                              : TypeKind::kVarchar;
      if (f->collection != catalog::CollectionType::kNone) t = DataType::ListOf(t);
      return t;
    };
    for (const std::string& f : spec_.base_group_features) {
      if (g.FindFeature(f) == nullptr) {
        return Status::InvalidArgument(
            fmt::format("base feature '{}' is not a feature of feature group '{}'", f, g.name));
      }
    }
    for (const GroupJoin& j : spec_.groups) {
      if (!j.base_column.empty() && g.FindFeature(j.base_column) == nullptr) {
        return Status::InvalidArgument(fmt::format(
            "base_column '{}' is not a feature of base feature group '{}'", j.base_column, g.name));
      }
    }
    if (spec_.base_group_features.empty()) {
      for (const catalog::FeatureDefinition& f : g.features) base_columns_.push_back(f.name);
    } else {
      base_columns_ = spec_.base_group_features;
    }
    from = base_group_.cte + "_kept";
    bt = "__ts";
    bid = Q(g.record_identifier_name);
    for (const std::string& c : base_columns_) select += Q(c) + ", ";
  }
  std::string base_id_name =
      spec_.base_file ? spec_.base_file->record_identifier : base_group_.g->record_identifier_name;
  for (size_t i = 0; i < spec_.groups.size(); ++i) {
    const GroupJoin& j = spec_.groups[i];
    const std::string& col = j.base_column.empty() ? base_id_name : j.base_column;
    std::optional<DataType> have = column_type(col);
    const catalog::FeatureDefinition* target = Target(i);
    if (have->kind == TypeKind::kList || target->collection != catalog::CollectionType::kNone) {
      return Status::InvalidArgument(fmt::format(
          "feature group '{}': cannot join base column '{}' with feature '{}': collections are not "
          "join keys",
          j.data.group->name, col, target->name));
    }
    std::string want = FeatureSqlType(*target);
    if (have->ToSql() == want) {
      select += fmt::format("{} AS __larder_k{}, ", Q(col), i);
    } else {
      select += fmt::format("TRY_CAST({} AS {}) AS __larder_k{}, ", Q(col), want, i);
    }
  }
  std::string inner =
      fmt::format("SELECT {}{} AS __larder_bt, {} AS __larder_bid FROM {}", select, bt, bid, from);
  std::vector<std::string> where;
  if (spec_.event_time_start_micros) {
    where.push_back(fmt::format("__larder_bt >= {}", *spec_.event_time_start_micros));
  }
  if (spec_.event_time_end_micros) {
    where.push_back(fmt::format("__larder_bt <= {}", *spec_.event_time_end_micros));
  }
  std::string body = "SELECT *, row_number() OVER () AS __larder_row FROM (" + inner + ")";
  for (size_t i = 0; i < where.size(); ++i) body += (i == 0 ? " WHERE " : " AND ") + where[i];
  return body;
}

Status PlanBuilder::NameOutputs() {
  std::set<std::string> taken;
  for (const std::string& c : base_columns_) {
    if (!taken.insert(c).second) {
      return Status::InvalidArgument(fmt::format("base column '{}' is listed twice", c));
    }
    output_columns_.push_back(c);
  }
  for (size_t i = 0; i < spec_.groups.size(); ++i) {
    for (const std::string& f : group_features_[i]) {
      std::string suffixed = fmt::format("{}.{}", f, i + 1);
      std::string name = spec_.naming == ColumnNaming::kSdk || taken.count(f) != 0 ? suffixed : f;
      if (!taken.insert(name).second) {
        return Status::InvalidArgument(fmt::format(
            "output column '{}' (feature '{}' of feature group '{}') is produced twice; list "
            "features once or rename base columns",
            name, f, spec_.groups[i].data.group->name));
      }
      output_columns_.push_back(name);
    }
  }
  return Status::OK();
}

StatusOr<std::string> PlanBuilder::AsOfQuery(const std::string& base) {
  ctes_.emplace_back("b", base);
  std::string prev = "b";
  std::string recent_order = "__larder_bt DESC";
  for (size_t i = 0; i < groups_.size(); ++i) {
    const GroupInput& in = groups_[i];
    const std::string r = Q(in.g->record_identifier_name);
    const std::string c = in.cte;
    // 1. As-of on the narrow (record, event time) pairs of non-deleted rows. DuckDB 1.4's ASOF
    //    LEFT JOIN returns no rows at all when its right side is empty, so a row that matches
    //    nothing (NULL key) keeps it from ever being empty.
    ctes_.emplace_back(
        c + "_a",
        fmt::format("SELECT x.*, p.__ts AS __larder_m{0} FROM {1} x ASOF LEFT JOIN (SELECT {2} AS "
                    "__r, __ts FROM {3}_raw WHERE NOT __del UNION ALL SELECT NULL, NULL) p ON "
                    "x.__larder_k{0} = p.__r AND x.__larder_bt >= p.__ts",
                    i, prev, r, c));
    // 2. The row at that event time with the latest api_invocation_time, then write_time.
    std::string feats;
    for (size_t k = 0; k < group_features_[i].size(); ++k) {
      feats += fmt::format("f.{} AS __larder_g{}_{}, ", Q(group_features_[i][k]), i, k);
    }
    ctes_.emplace_back(
        c + "_j",
        fmt::format(
            "SELECT x.*, {0}f.__api AS __larder_a{1}, f.__wt AS __larder_w{1} FROM {2}_a x "
            "LEFT JOIN (SELECT * FROM {3}_raw WHERE NOT __del) f ON x.__larder_k{1} = f.{4} "
            "AND x.__larder_m{1} = f.__ts QUALIFY row_number() OVER (PARTITION BY "
            "x.__larder_row ORDER BY f.__api DESC, f.__wt DESC) = 1",
            feats, i, c, c, r));
    // 3. Delete handling: the match survives only if newer than the record's latest marker;
    //    then no older row survives either, so no match at all.
    std::string ok;
    if (spec_.include_deleted) {
      ctes_.emplace_back(c + "_c", fmt::format("SELECT x.*, x.__larder_m{0} IS NOT NULL AS "
                                               "__larder_ok{0} FROM {1}_j x",
                                               i, c));
    } else {
      ctes_.emplace_back(
          c + "_c",
          fmt::format(
              "SELECT x.*, (x.__larder_m{0} IS NOT NULL AND (m.__mr IS NULL OR "
              "(x.__larder_m{0} > m.__mt OR (x.__larder_m{0} = m.__mt AND (x.__larder_a{0} > "
              "m.__ma OR (x.__larder_a{0} = m.__ma AND x.__larder_w{0} > m.__mw)))))) AS "
              "__larder_ok{0} FROM {1}_j x LEFT JOIN {1}_mk m ON x.__larder_k{0} = m.__mr",
              i, c));
    }
    prev = c + "_c";
    recent_order += fmt::format(", CASE WHEN __larder_ok{0} THEN __larder_m{0} END DESC", i);
  }
  std::string select;
  size_t col = 0;
  for (const std::string& c : base_columns_) {
    select += (select.empty() ? "" : ", ") + Q(c) + " AS " + Q(output_columns_[col++]);
  }
  for (size_t i = 0; i < groups_.size(); ++i) {
    for (size_t k = 0; k < group_features_[i].size(); ++k) {
      select += (select.empty() ? "" : ", ") +
                fmt::format("CASE WHEN __larder_ok{0} THEN __larder_g{0}_{1} END AS {2}", i, k,
                            Q(output_columns_[col++]));
    }
  }
  std::string sql = WithClause() + "SELECT " + select + " FROM " + prev;
  std::vector<std::string> where;
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (join_types_[i] == JoinType::kInner) where.push_back(fmt::format("__larder_ok{}", i));
  }
  for (size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  if (spec_.recent) {
    sql += fmt::format(" QUALIFY row_number() OVER (PARTITION BY __larder_bid ORDER BY {}) <= {}",
                       recent_order, *spec_.recent);
  }
  if (spec_.limit) sql += fmt::format(" LIMIT {}", *spec_.limit);
  return sql;
}

StatusOr<std::string> PlanBuilder::AllMatchesQuery(const std::string& base) {
  for (const GroupInput& in : groups_) AddKeptCte(in);
  ctes_.emplace_back("b", base);
  std::string from = "b";
  std::string recent_order = "b.__larder_bt DESC";
  for (size_t i = 0; i < groups_.size(); ++i) {
    const GroupInput& in = groups_[i];
    const GroupJoin& j = spec_.groups[i];
    from += fmt::format("\n{} {}_kept {} ON b.__larder_k{} {} {}.{}", JoinTypeSql(join_types_[i]),
                        in.cte, in.cte, i, ComparatorSql(j.comparator), in.cte, Q(Target(i)->name));
    if (spec_.point_in_time) from += fmt::format(" AND b.__larder_bt >= {}.__ts", in.cte);
    recent_order += fmt::format(", {}.__ts DESC", in.cte);
  }
  std::string select;
  size_t col = 0;
  for (const std::string& c : base_columns_) {
    select +=
        (select.empty() ? "" : ", ") + fmt::format("b.{} AS {}", Q(c), Q(output_columns_[col++]));
  }
  for (size_t i = 0; i < groups_.size(); ++i) {
    for (const std::string& f : group_features_[i]) {
      select += (select.empty() ? "" : ", ") +
                fmt::format("{}.{} AS {}", groups_[i].cte, Q(f), Q(output_columns_[col++]));
    }
  }
  std::string sql = WithClause() + "SELECT " + select + " FROM " + from;
  if (spec_.recent) {
    sql += fmt::format(" QUALIFY row_number() OVER (PARTITION BY b.__larder_bid ORDER BY {}) <= {}",
                       recent_order, *spec_.recent);
  }
  if (spec_.limit) sql += fmt::format(" LIMIT {}", *spec_.limit);
  return sql;
}

StatusOr<std::string> PlanBuilder::Build() {
  RETURN_IF_ERROR(ValidateOptions());
  if (spec_.base_file) {
    RETURN_IF_ERROR(LoadBaseFileSchema());
  } else {
    base_group_.g = spec_.base_group->group.get();
    base_group_.files = &spec_.base_group->files;
    base_group_.cte = "gb";
    RETURN_IF_ERROR(LoadGroupSchema(&base_group_, "base feature group"));
  }
  for (size_t i = 0; i < spec_.groups.size(); ++i) {
    const GroupJoin& j = spec_.groups[i];
    GroupInput in;
    in.g = j.data.group.get();
    in.files = &j.data.files;
    in.cte = fmt::format("g{}", i);
    RETURN_IF_ERROR(LoadGroupSchema(&in, "feature group"));
    const catalog::FeatureGroup& g = *in.g;
    if (!j.target_feature.empty() && g.FindFeature(j.target_feature) == nullptr) {
      return Status::InvalidArgument(fmt::format(
          "target_feature '{}' is not a feature of feature group '{}'", j.target_feature, g.name));
    }
    if (spec_.join_mode == JoinMode::kAsOf && !j.target_feature.empty() &&
        j.target_feature != g.record_identifier_name) {
      return Status::InvalidArgument(fmt::format(
          "feature group '{}': target_feature '{}' needs join_mode AllMatches; the as-of join "
          "matches the record identifier '{}'",
          g.name, j.target_feature, g.record_identifier_name));
    }
    std::vector<std::string> feats;
    if (j.features.empty()) {
      for (const catalog::FeatureDefinition& f : g.features) feats.push_back(f.name);
    } else {
      for (const std::string& f : j.features) {
        if (g.FindFeature(f) == nullptr) {
          return Status::InvalidArgument(
              fmt::format("feature '{}' is not a feature of feature group '{}'", f, g.name));
        }
        feats.push_back(f);
      }
    }
    group_features_.push_back(std::move(feats));
    join_types_.push_back(j.join_type.value_or(
        spec_.join_mode == JoinMode::kAsOf ? JoinType::kLeft : JoinType::kInner));
    groups_.push_back(std::move(in));
  }
  if (spec_.base_group) {
    AddRawCtes(base_group_);
    AddKeptCte(base_group_);
  }
  for (const GroupInput& in : groups_) AddRawCtes(in);
  // BaseRelation also settles the base's output columns, which naming needs.
  ASSIGN_OR_RETURN(std::string base, BaseRelation());
  RETURN_IF_ERROR(NameOutputs());
  return spec_.join_mode == JoinMode::kAsOf ? AsOfQuery(base) : AllMatchesQuery(base);
}

StatusOr<std::unique_ptr<Database>> OpenEngine(const DatasetBuilderOptions& options,
                                               const DatasetSpec& spec) {
  std::set<std::string> dirs;
  auto add_parent = [&dirs](const std::string& path) {
    std::string parent = std::filesystem::path(path).parent_path().string();
    if (!parent.empty() && parent.back() != '/') parent += '/';
    if (!parent.empty()) dirs.insert(parent);
  };
  if (spec.base_file) add_parent(spec.base_file->path);
  if (spec.base_group) {
    for (const std::string& f : spec.base_group->files) add_parent(f);
  }
  for (const GroupJoin& j : spec.groups) {
    for (const std::string& f : j.data.files) add_parent(f);
  }
  add_parent(spec.output_path);
  DatabaseOptions o;
  o.memory_limit_bytes = options.memory_limit_bytes;
  o.threads = options.threads;
  o.temp_directory = options.temp_directory;
  o.init_sql = {
      // Row order is not part of the contract; not preserving it lets the engine stream.
      "SET preserve_insertion_order = false",
      // The plan scans each group's files several times (schema, markers, as-of, join-back):
      // read every footer once.
      "SET parquet_metadata_cache = true",
      "SET enable_progress_bar = true",
      "SET enable_progress_bar_print = false",
      "SET progress_bar_time = 0",
  };
  o.sandbox = true;
  o.allowed_directories.assign(dirs.begin(), dirs.end());
  return Database::Open(o);
}

}  // namespace

std::optional<JoinMode> JoinModeFromName(std::string_view name) {
  std::string n = Lower(name);
  if (n == "asof" || n == "as_of") return JoinMode::kAsOf;
  if (n == "allmatches" || n == "all_matches") return JoinMode::kAllMatches;
  return std::nullopt;
}

std::optional<JoinType> JoinTypeFromName(std::string_view name) {
  std::string n = Lower(name);
  if (n == "inner" || n == "inner_join") return JoinType::kInner;
  if (n == "left" || n == "left_join") return JoinType::kLeft;
  if (n == "right" || n == "right_join") return JoinType::kRight;
  if (n == "full" || n == "full_join") return JoinType::kFull;
  return std::nullopt;
}

std::optional<JoinComparator> JoinComparatorFromName(std::string_view name) {
  std::string n = Lower(name);
  if (n == "=" || n == "equals") return JoinComparator::kEquals;
  if (n == "<>" || n == "!=" || n == "not_equal_to") return JoinComparator::kNotEquals;
  if (n == "<" || n == "less_than") return JoinComparator::kLess;
  if (n == "<=" || n == "less_than_or_equal_to") return JoinComparator::kLessOrEqual;
  if (n == ">" || n == "greater_than") return JoinComparator::kGreater;
  if (n == ">=" || n == "greater_than_or_equal_to") return JoinComparator::kGreaterOrEqual;
  return std::nullopt;
}

std::optional<OutputFormat> OutputFormatFromName(std::string_view name) {
  std::string n = Lower(name);
  if (n == "csv") return OutputFormat::kCsv;
  if (n == "parquet") return OutputFormat::kParquet;
  return std::nullopt;
}

std::optional<ColumnNaming> ColumnNamingFromName(std::string_view name) {
  std::string n = Lower(name);
  if (n == "sdk") return ColumnNaming::kSdk;
  if (n == "plain") return ColumnNaming::kPlain;
  return std::nullopt;
}

std::string_view JoinModeName(JoinMode m) { return m == JoinMode::kAsOf ? "AsOf" : "AllMatches"; }
std::string_view OutputFormatName(OutputFormat f) {
  return f == OutputFormat::kCsv ? "csv" : "parquet";
}

StatusOr<std::unique_ptr<DatasetBuilder>> DatasetBuilder::Open(
    const DatasetBuilderOptions& options) {
  if (options.temp_directory.empty()) {
    return Status::InvalidArgument("dataset builder: temp_directory is required");
  }
  if (options.memory_limit_bytes < (16ll << 20)) {
    return Status::InvalidArgument(
        fmt::format("dataset builder: memory_limit_bytes must be at least 16 MiB, got {}",
                    options.memory_limit_bytes));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.temp_directory, ec);
  if (ec) {
    return Status::IOError(fmt::format("dataset builder: cannot create temp_directory '{}': {}",
                                       options.temp_directory, ec.message()));
  }
  return std::unique_ptr<DatasetBuilder>(new DatasetBuilder(options));
}

namespace {

// Resolves the base file format once, so the plan and the sandbox agree.
StatusOr<DatasetSpec> Normalize(const DatasetSpec& spec) {
  DatasetSpec s = spec;
  if (s.base_file && s.base_file->format == BaseFormat::kAuto) {
    std::string p = Lower(s.base_file->path);
    if (EndsWith(p, ".csv")) {
      s.base_file->format = BaseFormat::kCsv;
    } else if (EndsWith(p, ".parquet") || EndsWith(p, ".pq")) {
      s.base_file->format = BaseFormat::kParquet;
    } else {
      return Status::InvalidArgument(fmt::format(
          "base file '{}': cannot tell its format from the name; use .csv or .parquet, or give "
          "the format",
          s.base_file->path));
    }
  }
  return s;
}

}  // namespace

StatusOr<std::string> DatasetBuilder::Explain(const DatasetSpec& raw_spec) const {
  ASSIGN_OR_RETURN(DatasetSpec spec, Normalize(raw_spec));
  ASSIGN_OR_RETURN(auto db, OpenEngine(options_, spec));
  ASSIGN_OR_RETURN(auto conn, db->Connect());
  PlanBuilder plan(spec, conn.get());
  return plan.Build();
}

StatusOr<DatasetResult> DatasetBuilder::Build(const DatasetSpec& raw_spec,
                                              const ProgressCallback& progress) const {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(DatasetSpec spec, Normalize(raw_spec));
  ASSIGN_OR_RETURN(auto db, OpenEngine(options_, spec));
  ASSIGN_OR_RETURN(auto conn, db->Connect());
  PlanBuilder plan(spec, conn.get());
  ASSIGN_OR_RETURN(std::string select, plan.Build());

  static std::atomic<uint64_t> counter{0};
  std::filesystem::path out(spec.output_path);
  const std::string tmp = (out.parent_path() / fmt::format(".{}.tmp-{}-{}", out.filename().string(),
                                                           ::getpid(), counter.fetch_add(1)))
                              .string();
  const std::string format =
      spec.format == OutputFormat::kCsv ? "FORMAT csv, HEADER true" : "FORMAT parquet";
  const std::string copy = "COPY (" + select + ") TO " + L(tmp) + " (" + format + ")";
  DatasetResult r;
  Status run = [&]() -> Status {
    StatusOr<std::unique_ptr<PreparedStatement>> stmt = conn->Prepare(copy);
    if (!stmt.ok()) return stmt.status().WithPrefix("dataset plan");
    StatusOr<std::unique_ptr<Result>> result =
        progress ? (*stmt)->ExecuteWithProgress(progress) : (*stmt)->Execute();
    if (!result.ok()) return result.status().WithPrefix("building the dataset");
    r.rows = (*result)->rows_changed();
    return Status::OK();
  }();
  // Closing the engine waits for its worker threads, so nothing writes the tmp file after this.
  conn.reset();
  db.reset();
  std::error_code ec;
  if (run.ok()) std::filesystem::rename(tmp, out, ec);
  if (!run.ok() || ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    if (!run.ok()) return run;
    return Status::IOError(fmt::format("cannot move the dataset into '{}': {}", spec.output_path,
                                       ec.message()));
  }
  if (progress) progress(1.0);
  r.columns = plan.output_columns();
  r.elapsed_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  return r;
}

StatusOr<std::vector<std::string>> ListParquetFiles(const std::string& data_dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!std::filesystem::exists(data_dir, ec)) return files;
  std::filesystem::recursive_directory_iterator it(data_dir, ec), end;
  if (ec) return Status::IOError(fmt::format("cannot list '{}': {}", data_dir, ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::IOError(fmt::format("cannot list '{}': {}", data_dir, ec.message()));
    const std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && !name.starts_with(".") && EndsWith(name, ".parquet")) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TerminalProgressBar::TerminalProgressBar(std::FILE* out, int width)
    : out_(out), width_(width), enabled_(out != nullptr && ::isatty(::fileno(out)) == 1) {}

TerminalProgressBar::~TerminalProgressBar() {
  if (enabled_ && last_percent_ != -2) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
}

bool TerminalProgressBar::Update(double fraction) {
  if (!enabled_) return true;
  int percent = fraction < 0 ? -1 : static_cast<int>(std::min(fraction, 1.0) * 100);
  if (percent == last_percent_) return true;
  last_percent_ = percent;
  int filled = percent < 0 ? 0 : percent * width_ / 100;
  std::string bar(static_cast<size_t>(width_), ' ');
  for (int i = 0; i < filled; ++i) bar[static_cast<size_t>(i)] = '=';
  if (filled < width_ && percent >= 0) bar[static_cast<size_t>(filled)] = '>';
  if (percent < 0) {
    std::fprintf(out_, "\r[%s]  ...", bar.c_str());
  } else {
    std::fprintf(out_, "\r[%s] %3d%%", bar.c_str(), percent);
  }
  std::fflush(out_);
  return true;
}

}  // namespace larder::offline
