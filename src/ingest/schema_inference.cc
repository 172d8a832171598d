#include "ingest/schema_inference.h"

#include <fmt/format.h>

#include <set>

#include "catalog/group_rules.h"
#include "common/status_macros.h"

namespace larder::ingest {
namespace {

using catalog::CollectionType;
using catalog::FeatureType;
using offline::DataType;
using offline::TypeKind;

constexpr size_t kMaxFeatureNameLength = 64;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// The service's FeatureName pattern [a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}: letters and digits,
// '-' and '_' only between them, at most 64 characters.
bool IsValidFeatureName(std::string_view name) {
  if (name.empty() || name.size() > kMaxFeatureNameLength) return false;
  if (!IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

enum class ScalarClass {
  kIntegral,
  kWideIntegral,
  kFractional,
  kText,
  kBoolean,
  kTemporal,
  kTime,
  kNull,
  kOther
};

ScalarClass Classify(TypeKind k) {
  switch (k) {
    case TypeKind::kTinyInt:
    case TypeKind::kSmallInt:
    case TypeKind::kInteger:
    case TypeKind::kBigInt:
    case TypeKind::kUTinyInt:
    case TypeKind::kUSmallInt:
    case TypeKind::kUInteger:
      return ScalarClass::kIntegral;
    case TypeKind::kUBigInt:
    case TypeKind::kHugeInt:
    case TypeKind::kUHugeInt:
      return ScalarClass::kWideIntegral;
    case TypeKind::kFloat:
    case TypeKind::kDouble:
    case TypeKind::kDecimal:
      return ScalarClass::kFractional;
    case TypeKind::kVarchar:
    case TypeKind::kUuid:
      return ScalarClass::kText;
    case TypeKind::kBoolean:
      return ScalarClass::kBoolean;
    case TypeKind::kDate:
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampTz:
      return ScalarClass::kTemporal;
    case TypeKind::kTime:
      return ScalarClass::kTime;
    case TypeKind::kNull:
      return ScalarClass::kNull;
    default:
      return ScalarClass::kOther;
  }
}

Status Unsupported(const offline::Column& c, std::string_view why) {
  return Status::InvalidArgument(
      fmt::format("column '{}' has type {}, which {}", c.name, c.type.ToSql(), why));
}

}  // namespace

StatusOr<InferredFeature> InferFeature(const offline::Column& column, bool is_event_time,
                                       const InferenceOptions& options) {
  InferredFeature f;
  f.definition.name = column.name;
  f.source_type = column.type.ToSql();
  const DataType& t = column.type;

  if (t.kind == TypeKind::kList || t.kind == TypeKind::kArray) {
    if (is_event_time) return Unsupported(column, "cannot be an event time (String or Fractional)");
    if (!options.allow_collections) {
      return Unsupported(column,
                         "becomes a List collection, and collections need InMemory online "
                         "storage: pass --online-storage-type InMemory, or drop the column");
    }
    const offline::Column element{column.name, t.children.empty() ? DataType() : t.children[0]};
    switch (Classify(element.type.kind)) {
      case ScalarClass::kIntegral:
      case ScalarClass::kWideIntegral:
        f.definition.type = FeatureType::kIntegral;
        break;
      case ScalarClass::kFractional:
        f.definition.type = FeatureType::kFractional;
        break;
      case ScalarClass::kText:
      case ScalarClass::kNull:
        f.definition.type = FeatureType::kString;
        break;
      default:
        return Unsupported(column,
                           "is a list of a type a collection cannot hold (Integral, "
                           "Fractional or String elements only)");
    }
    f.definition.collection = CollectionType::kList;
    return f;
  }

  switch (Classify(t.kind)) {
    case ScalarClass::kIntegral:
      if (is_event_time) {
        f.definition.type = FeatureType::kFractional;
        f.note = "event time as Unix seconds: Fractional (event times are String or Fractional)";
      } else {
        f.definition.type = FeatureType::kIntegral;
      }
      return f;
    case ScalarClass::kWideIntegral:
      if (is_event_time) {
        f.definition.type = FeatureType::kFractional;
        f.note = "event time as Unix seconds: Fractional";
      } else {
        f.definition.type = FeatureType::kIntegral;
        f.note = "values beyond the signed 64-bit range will be rejected at ingest";
      }
      return f;
    case ScalarClass::kFractional:
      f.definition.type = FeatureType::kFractional;
      return f;
    case ScalarClass::kText:
      f.definition.type = FeatureType::kString;
      return f;
    case ScalarClass::kBoolean:
      if (is_event_time)
        return Unsupported(column, "cannot be an event time (String or Fractional)");
      f.definition.type = FeatureType::kString;
      f.note = "boolean as String \"true\"/\"false\" (the SageMaker SDK raises on bool)";
      return f;
    case ScalarClass::kTemporal:
      f.definition.type = FeatureType::kString;
      f.note = is_event_time ? "timestamp as String, ISO-8601 UTC (\"2024-05-01T12:00:00Z\")"
                             : "date/timestamp as String, ISO-8601 UTC (the SDK raises on "
                               "datetime64)";
      return f;
    case ScalarClass::kTime:
      if (is_event_time) return Unsupported(column, "cannot be an event time (no date)");
      f.definition.type = FeatureType::kString;
      f.note = "time of day as String \"HH:MM:SS\"";
      return f;
    case ScalarClass::kNull:
      f.definition.type = FeatureType::kString;
      f.note = "every sampled value is null: String (use --type to choose)";
      return f;
    case ScalarClass::kOther:
      break;
  }
  return Unsupported(column,
                     "cannot be a feature (Integral, Fractional and String only); drop the "
                     "column or convert it");
}

StatusOr<InferredSchema> InferFromColumns(const std::vector<offline::Column>& columns,
                                          const InferenceOptions& options) {
  if (options.record_identifier.empty()) {
    return Status::InvalidArgument("--record-id is required: the column that identifies a record");
  }
  if (options.event_time.empty()) {
    return Status::InvalidArgument("--event-time is required: the column with each record's time");
  }
  std::set<std::string> names;
  std::vector<std::string> all;
  for (const offline::Column& c : columns) {
    names.insert(c.name);
    all.push_back(c.name);
  }
  auto missing = [&](std::string_view flag, const std::string& col) {
    return Status::InvalidArgument(
        fmt::format("{} '{}' is not a column of the file; its columns "
                    "are: {}",
                    flag, col, fmt::join(all, ", ")));
  };
  if (!names.contains(options.record_identifier)) {
    return missing("--record-id", options.record_identifier);
  }
  if (!names.contains(options.event_time)) return missing("--event-time", options.event_time);
  for (const auto& [col, type] : options.overrides) {
    if (!names.contains(col)) return missing("--type", col);
  }
  if (options.record_identifier == options.event_time) {
    return Status::InvalidArgument(
        fmt::format("--record-id and --event-time must be different columns, both are '{}'",
                    options.event_time));
  }

  InferredSchema schema;
  schema.format = options.format;
  for (const offline::Column& c : columns) {
    if (!IsValidFeatureName(c.name)) {
      return Status::InvalidArgument(fmt::format(
          "column '{}' is not a valid feature name: 1 to 64 letters and digits, with '-' and '_' "
          "allowed only between them; rename the column",
          c.name));
    }
    if (catalog::IsReservedFeatureName(c.name)) {
      return Status::InvalidArgument(fmt::format(
          "column '{}' uses a reserved name (is_deleted, write_time and api_invocation_time are "
          "offline store columns); rename the column",
          c.name));
    }
    if (catalog::IsPartitionColumnName(c.name)) {
      return Status::InvalidArgument(fmt::format(
          "column '{}' collides with the offline store's partition columns year, month, day and "
          "hour; rename the column",
          c.name));
    }
    const bool is_event_time = c.name == options.event_time;
    ASSIGN_OR_RETURN(InferredFeature f, InferFeature(c, is_event_time, options));
    if (auto it = options.overrides.find(c.name); it != options.overrides.end()) {
      if (f.definition.collection != CollectionType::kNone) {
        return Status::InvalidArgument(
            fmt::format("--type {}={}: the column is a list; its element type is inferred", c.name,
                        catalog::FeatureTypeName(it->second)));
      }
      if (is_event_time && it->second == FeatureType::kIntegral) {
        return Status::InvalidArgument(
            fmt::format("--type {}=Integral: the event time must be String or Fractional", c.name));
      }
      if (f.definition.type != it->second) {
        f.note = fmt::format("--type: {} instead of the inferred {}",
                             catalog::FeatureTypeName(it->second),
                             catalog::FeatureTypeName(f.definition.type));
        f.definition.type = it->second;
      }
    }
    if (c.name == options.record_identifier && f.definition.type == FeatureType::kFractional) {
      return Status::InvalidArgument(fmt::format(
          "--record-id column '{}' has type {} (Fractional): a record identifier must be Integral "
          "or String; pass --type {}=String",
          c.name, c.type.ToSql(), c.name));
    }
    if (c.name == options.record_identifier && f.definition.collection != CollectionType::kNone) {
      return Unsupported(c, "cannot be a record identifier");
    }
    schema.features.push_back(std::move(f));
  }
  return schema;
}

StatusOr<InferredSchema> InferSchema(const std::string& path, const InferenceOptions& options) {
  ASSIGN_OR_RETURN(FileFormat format, ResolveFileFormat(path, options.format));
  ASSIGN_OR_RETURN(std::unique_ptr<offline::Database> db, OpenSourceDatabase({}));
  ASSIGN_OR_RETURN(std::unique_ptr<offline::Connection> conn, db->Connect());
  ScanOptions scan;
  scan.format = format;
  scan.sample_rows = options.sample_rows;
  ASSIGN_OR_RETURN(std::vector<offline::Column> columns, DescribeSource(conn.get(), path, scan));
  ASSIGN_OR_RETURN(InferredSchema schema, InferFromColumns(columns, options));
  schema.path = path;
  schema.format = format;
  return schema;
}

}  // namespace larder::ingest
