#include "ingest/entry_encoder.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <set>

#include "catalog/record.h"
#include "common/status_macros.h"

namespace larder::ingest {
namespace {

using catalog::CollectionType;
using catalog::FeatureType;
using offline::DataType;
using offline::Datum;
using offline::TypeKind;

constexpr std::string_view kIsoStyle = "1970-01-01T00:00:00Z";  // picks ISO output
constexpr std::string_view kSecondsStyle = "0";                 // picks Unix seconds output
constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr int64_t kMicrosPerSecond = 1'000'000;
// Doubles in [-2^63, 2^63) convert to int64 exactly when whole.
constexpr double kTwoTo63 = 9223372036854775808.0;

bool IsTextKind(TypeKind k) {
  switch (k) {
    case TypeKind::kVarchar:
    case TypeKind::kUuid:
    case TypeKind::kUBigInt:
    case TypeKind::kHugeInt:
    case TypeKind::kUHugeInt:
    case TypeKind::kDecimal:
      return true;
    default:
      return false;
  }
}

bool IsIntKind(TypeKind k) {
  switch (k) {
    case TypeKind::kTinyInt:
    case TypeKind::kSmallInt:
    case TypeKind::kInteger:
    case TypeKind::kBigInt:
    case TypeKind::kUTinyInt:
    case TypeKind::kUSmallInt:
    case TypeKind::kUInteger:
      return true;
    default:
      return false;
  }
}

bool IsTemporal(TypeKind k) {
  return k == TypeKind::kDate || k == TypeKind::kTimestamp || k == TypeKind::kTimestampTz;
}

// Whether a scalar column of kind `k` can feed a feature of type `t` at all (values may still
// be rejected row by row).
bool ScalarCompatible(TypeKind k, FeatureType t) {
  if (IsTextKind(k) || IsIntKind(k) || k == TypeKind::kFloat || k == TypeKind::kDouble ||
      k == TypeKind::kBoolean || k == TypeKind::kNull) {
    return true;
  }
  if (IsTemporal(k)) return t != FeatureType::kIntegral;
  if (k == TypeKind::kTime) return t == FeatureType::kString;
  return false;
}

std::string TypeName(const catalog::FeatureDefinition& f) {
  if (f.collection == CollectionType::kNone) return std::string(catalog::FeatureTypeName(f.type));
  return fmt::format("{} of {}", catalog::CollectionTypeName(f.collection),
                     catalog::FeatureTypeName(f.type));
}

}  // namespace

size_t FormatDouble(double v, char* buf, size_t size) {
  const double mag = std::fabs(v);
  std::to_chars_result r;
  if (v == 0 || (mag >= 1e-4 && mag < 1e16)) {
    r = std::to_chars(buf, buf + size, v, std::chars_format::fixed);
  } else {
    r = std::to_chars(buf, buf + size, v, std::chars_format::scientific);
  }
  return static_cast<size_t>(r.ptr - buf);
}

StatusOr<EncodePlan> PlanColumns(const catalog::FeatureGroup& group,
                                 const std::vector<offline::Column>& source,
                                 bool ignore_extra_columns) {
  EncodePlan plan;
  plan.group_name = group.name;
  std::vector<std::string> unknown;
  std::set<std::string> seen;
  // (index into plan.columns, SQL): helper columns, selected after every file column.
  std::vector<std::pair<size_t, std::string>> helpers;
  for (const offline::Column& col : source) {
    if (!seen.insert(col.name).second) {
      return Status::InvalidArgument(
          fmt::format("the file has two columns named '{}'; rename one", col.name));
    }
    const int fi = group.FeatureIndex(col.name);
    if (fi < 0) {
      unknown.push_back(col.name);
      continue;
    }
    const catalog::FeatureDefinition& f = group.features[static_cast<size_t>(fi)];
    const bool is_event_time = col.name == group.event_time_feature_name;
    ColumnPlan c;
    c.column = col.name;
    c.feature = fi;
    c.type = col.type;
    c.select_index = static_cast<int>(plan.select_list.size());
    plan.select_list.push_back(offline::QuoteIdentifier(col.name));
    auto incompatible = [&] {
      return Status::InvalidArgument(
          fmt::format("column '{}' has type {}, which cannot feed feature '{}' of type {}",
                      col.name, col.type.ToSql(), f.name, TypeName(f)));
    };
    const TypeKind k = col.type.kind;
    if (f.collection != CollectionType::kNone) {
      if (k == TypeKind::kList || k == TypeKind::kArray) {
        const TypeKind e = col.type.children.empty() ? TypeKind::kNull : col.type.children[0].kind;
        if (!ScalarCompatible(e, f.type) || IsTemporal(e) || e == TypeKind::kTime) {
          return incompatible();
        }
      } else if (k == TypeKind::kVarchar) {
        // Text such as "[1, 2, 3]": DuckDB reads it as a list.
        c.cast_type = DataType::ListOf(DataType::Scalar(TypeKind::kVarchar));
        helpers.emplace_back(plan.columns.size(), fmt::format("TRY_CAST({} AS VARCHAR[])",
                                                              offline::QuoteIdentifier(col.name)));
      } else if (k != TypeKind::kNull) {
        return incompatible();
      }
    } else {
      if (!ScalarCompatible(k, f.type)) return incompatible();
      if (is_event_time && k == TypeKind::kVarchar) {
        c.cast_type = DataType::Scalar(TypeKind::kTimestampTz);
        // Only text with a '-' can be a date: Unix seconds skip the (failing, costly) cast.
        const std::string q = offline::QuoteIdentifier(col.name);
        helpers.emplace_back(plan.columns.size(),
                             fmt::format("CASE WHEN contains({0}, '-') THEN TRY_CAST({0} AS "
                                         "TIMESTAMPTZ) END",
                                         q));
      }
    }
    if (col.name == group.record_identifier_name)
      plan.record_id = static_cast<int>(plan.columns.size());
    if (is_event_time) plan.event_time = static_cast<int>(plan.columns.size());
    plan.columns.push_back(std::move(c));
  }
  for (auto& [column, sql] : helpers) {
    plan.columns[column].cast_index = static_cast<int>(plan.select_list.size());
    plan.select_list.push_back(std::move(sql));
  }
  if (plan.record_id < 0 || plan.event_time < 0) {
    const std::string& missing =
        plan.record_id < 0 ? group.record_identifier_name : group.event_time_feature_name;
    std::vector<std::string> names;
    for (const offline::Column& col : source) names.push_back(col.name);
    return Status::InvalidArgument(fmt::format(
        "the file has no column '{}', the {} of feature group '{}' (the file's columns: {})",
        missing, plan.record_id < 0 ? "record identifier" : "event time", group.name,
        fmt::join(names, ", ")));
  }
  if (!unknown.empty()) {
    if (!ignore_extra_columns) {
      std::vector<std::string> features;
      for (const auto& f : group.features) features.push_back(f.name);
      return Status::InvalidArgument(
          fmt::format("the file has {} column{} that {} of '{}': {} (its features: {}); drop "
                      "them or pass --ignore-extra-columns",
                      unknown.size(), unknown.size() == 1 ? "" : "s",
                      unknown.size() == 1 ? "is not a feature" : "are not features", group.name,
                      fmt::join(unknown, ", "), fmt::join(features, ", ")));
    }
    plan.ignored_columns = std::move(unknown);
  }
  return plan;
}

EntryEncoder::EntryEncoder(const catalog::FeatureGroup& group, const EncodePlan& plan)
    : group_(group), plan_(plan), writer_(sb_) {
  entry_prefix_ = "{\"FeatureGroupName\":";
  AppendJsonString(group.name, &entry_prefix_);
  entry_prefix_ += ",\"Record\":[";
  for (const ColumnPlan& c : plan.columns) {
    std::string p = "{\"FeatureName\":";
    AppendJsonString(c.column, &p);
    scalar_prefix_.push_back(p + ",\"ValueAsString\":");
    list_prefix_.push_back(p + ",\"ValueAsStringList\":[");
  }
}

void EntryEncoder::AppendJsonString(std::string_view text, std::string* out) {
  sb_.Clear();
  writer_.Reset(sb_);
  writer_.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  out->append(sb_.GetString(), sb_.GetSize());
}

bool EntryEncoder::ScalarText(const ColumnPlan& c, const DataType& type, const Datum& d,
                              std::string_view* text, Status* error) {
  const catalog::FeatureDefinition& f = group_.features[static_cast<size_t>(c.feature)];
  const bool is_event_time = c.column == group_.event_time_feature_name;
  const TypeKind k = type.kind;
  if (IsTextKind(k)) {
    if (f.type == FeatureType::kString && !is_event_time) {
      *text = d.text;
      return true;
    }
    if (k == TypeKind::kDecimal && f.type == FeatureType::kFractional) {
      // Exact decimal text without the scale's trailing zeros: "1.50" -> "1.5", "3.00" -> "3".
      std::string_view t = d.text;
      if (t.find('.') != std::string_view::npos) {
        while (t.back() == '0') t.remove_suffix(1);
        if (t.back() == '.') t.remove_suffix(1);
      }
      *text = t;
      if (!is_event_time) return true;
    }
    if (is_event_time) {
      const std::string_view value = k == TypeKind::kDecimal && f.type == FeatureType::kFractional
                                         ? *text
                                         : std::string_view(d.text);
      StatusOr<int64_t> t = catalog::ParseEventTime(f.name, f.type, value);
      if (!t.ok()) {
        *error = t.status();
        return false;
      }
      *text = value;
      return true;
    }
    Status s = catalog::CanonicalizeScalar(f.name, f.type, d.text, &scratch_);
    if (!s.ok()) {
      *error = std::move(s);
      return false;
    }
    *text = scratch_;
    return true;
  }
  if (IsIntKind(k)) {
    auto r = std::to_chars(num_, num_ + sizeof(num_), d.int_value);
    *text = std::string_view(num_, static_cast<size_t>(r.ptr - num_));
    return true;
  }
  switch (k) {
    case TypeKind::kFloat:
    case TypeKind::kDouble: {
      const double v = d.double_value;
      if (!std::isfinite(v)) {
        *error = Status::InvalidArgument(
            fmt::format("feature '{}' is {} but got {}, which is not a finite number", f.name,
                        catalog::FeatureTypeName(f.type), v));
        return false;
      }
      if (f.type == FeatureType::kIntegral) {
        if (v != std::trunc(v) || v < -kTwoTo63 || v >= kTwoTo63) {
          *error = Status::InvalidArgument(fmt::format(
              "feature '{}' is Integral but got {}, which is not a whole number in the signed "
              "64-bit range",
              f.name, v));
          return false;
        }
        auto r = std::to_chars(num_, num_ + sizeof(num_), static_cast<int64_t>(v));
        *text = std::string_view(num_, static_cast<size_t>(r.ptr - num_));
        return true;
      }
      size_t n;
      if (is_event_time && f.type == FeatureType::kString) {
        // A String event time takes no exponent.
        n = static_cast<size_t>(
            std::to_chars(num_, num_ + sizeof(num_), v, std::chars_format::fixed).ptr - num_);
      } else if (k == TypeKind::kFloat) {
        // The float's own shortest text, not the widened double's (0.1f is "0.1").
        const float fv = static_cast<float>(v);
        const float mag = std::fabs(fv);
        n = static_cast<size_t>(std::to_chars(num_, num_ + sizeof(num_), fv,
                                              fv == 0 || (mag >= 1e-4f && mag < 1e16f)
                                                  ? std::chars_format::fixed
                                                  : std::chars_format::scientific)
                                    .ptr -
                                num_);
      } else {
        n = FormatDouble(v, num_, sizeof(num_));
      }
      *text = std::string_view(num_, n);
      if (is_event_time) {
        StatusOr<int64_t> t = catalog::ParseEventTime(f.name, f.type, *text);
        if (!t.ok()) {
          *error = t.status();
          return false;
        }
      }
      return true;
    }
    case TypeKind::kBoolean:
      if (f.type == FeatureType::kString) {
        *text = d.int_value != 0 ? "true" : "false";
      } else {
        *text = d.int_value != 0 ? "1" : "0";
      }
      return true;
    case TypeKind::kDate:
    case TypeKind::kTimestamp:
    case TypeKind::kTimestampTz: {
      const int64_t micros = k == TypeKind::kDate ? d.int_value * kMicrosPerDay : d.int_value;
      if (f.type == FeatureType::kFractional) {
        scratch_ = catalog::FormatEventTimeLike(FeatureType::kFractional, kSecondsStyle, micros);
      } else {
        scratch_ = catalog::FormatEventTimeLike(FeatureType::kString, kIsoStyle, micros);
        if (k == TypeKind::kDate && !is_event_time) scratch_.resize(10);  // "2024-05-01"
      }
      *text = scratch_;
      if (is_event_time) {
        StatusOr<int64_t> t = catalog::ParseEventTime(f.name, f.type, *text);
        if (!t.ok()) {
          *error = t.status();
          return false;
        }
      }
      return true;
    }
    case TypeKind::kTime: {
      const int64_t us = d.int_value;
      scratch_ = fmt::format("{:02}:{:02}:{:02}", us / 3'600'000'000, us / 60'000'000 % 60,
                             us / kMicrosPerSecond % 60);
      if (us % kMicrosPerSecond != 0) {
        scratch_ += fmt::format(".{:06}", us % kMicrosPerSecond);
        while (scratch_.back() == '0') scratch_.pop_back();
      }
      *text = scratch_;
      return true;
    }
    default:
      break;
  }
  *error = Status::InvalidArgument(fmt::format(
      "column '{}' has type {}, which cannot feed feature '{}'", c.column, type.ToSql(), f.name));
  return false;
}

bool EntryEncoder::WireText(const ColumnPlan& c, const DataType& type, const Datum& d,
                            const Datum* cast, std::string_view* text, Status* error) {
  if (ScalarText(c, type, d, text, error)) return true;
  // The event time as text DuckDB reads as a timestamp: convert it.
  if (cast != nullptr && !cast->is_null && c.cast_type.kind == TypeKind::kTimestampTz) {
    const catalog::FeatureDefinition& f = group_.features[static_cast<size_t>(c.feature)];
    scratch_ = catalog::FormatEventTimeLike(
        f.type, f.type == FeatureType::kString ? kIsoStyle : kSecondsStyle, cast->int_value);
    *text = scratch_;
    *error = Status::OK();
    return true;
  }
  return false;
}

Status EntryEncoder::Append(const std::vector<Datum>& row, std::string* out, EntryRef* ref) {
  const size_t start = out->size();
  ref->begin = static_cast<uint32_t>(start);
  out->append(entry_prefix_);
  bool first = true;
  auto fail = [&](Status s) {
    out->resize(start);
    return s;
  };
  for (size_t i = 0; i < plan_.columns.size(); ++i) {
    const ColumnPlan& c = plan_.columns[i];
    const Datum& d = row[static_cast<size_t>(c.select_index)];
    const Datum* cast = c.cast_index >= 0 ? &row[static_cast<size_t>(c.cast_index)] : nullptr;
    const bool is_id = static_cast<int>(i) == plan_.record_id;
    const bool is_et = static_cast<int>(i) == plan_.event_time;
    const bool is_nan = (c.type.kind == TypeKind::kDouble || c.type.kind == TypeKind::kFloat) &&
                        !d.is_null && std::isnan(d.double_value);
    if (d.is_null || is_nan) {
      if (is_id || is_et) {
        return fail(Status::InvalidArgument(fmt::format(
            "the {} '{}' is null", is_id ? "record identifier" : "event time", c.column)));
      }
      continue;  // absent feature, as the SDK leaves out values that are not pd.notna
    }
    const catalog::FeatureDefinition& f = group_.features[static_cast<size_t>(c.feature)];
    if (!first) out->push_back(',');
    first = false;
    if (f.collection == CollectionType::kNone) {
      std::string_view text;
      Status error;
      if (!WireText(c, c.type, d, cast, &text, &error)) return fail(std::move(error));
      if (is_id && text.empty()) {
        return fail(
            Status::InvalidArgument(fmt::format("the record identifier '{}' is empty", c.column)));
      }
      if (text.size() > catalog::kMaxValueBytes ||
          (is_id && text.size() > catalog::kMaxIdentifierBytes)) {
        return fail(Status::InvalidArgument(fmt::format(
            "feature '{}' has a value of {} bytes; the limit is {} bytes", f.name, text.size(),
            is_id ? catalog::kMaxIdentifierBytes : catalog::kMaxValueBytes)));
      }
      out->append(scalar_prefix_[i]);
      const size_t vb = out->size();
      AppendJsonString(text, out);
      if (is_id) {
        ref->id_begin = static_cast<uint32_t>(vb);
        ref->id_end = static_cast<uint32_t>(out->size());
      }
      if (is_et) {
        ref->et_begin = static_cast<uint32_t>(vb);
        ref->et_end = static_cast<uint32_t>(out->size());
      }
      out->push_back('}');
      continue;
    }
    // A collection: elements from a list column, or from text DuckDB read as a list.
    const Datum* list = &d;
    DataType element =
        c.type.children.empty() ? DataType::Scalar(TypeKind::kVarchar) : c.type.children[0];
    if (c.type.kind != TypeKind::kList && c.type.kind != TypeKind::kArray) {
      if (cast == nullptr || cast->is_null) {
        return fail(Status::InvalidArgument(fmt::format(
            "feature '{}' is a {} but got \"{}\", which is not a list such as [1, 2, 3]", f.name,
            TypeName(f), d.text)));
      }
      list = cast;
      element = DataType::Scalar(TypeKind::kVarchar);
    }
    out->append(list_prefix_[i]);
    size_t bytes = 0;
    for (size_t j = 0; j < list->children.size(); ++j) {
      const Datum& e = list->children[j];
      if (e.is_null) {
        return fail(Status::InvalidArgument(fmt::format(
            "feature '{}' has a null item at position {}; collections may not contain nulls",
            f.name, j)));
      }
      std::string_view text;
      Status error;
      if (!ScalarText(c, element, e, &text, &error)) return fail(std::move(error));
      bytes += text.size();
      if (j > 0) out->push_back(',');
      AppendJsonString(text, out);
    }
    if (bytes > catalog::kMaxValueBytes) {
      return fail(Status::InvalidArgument(
          fmt::format("feature '{}' has a value of {} bytes; the limit is {} bytes", f.name, bytes,
                      catalog::kMaxValueBytes)));
    }
    out->append("]}");
  }
  out->append("]}");
  ref->end = static_cast<uint32_t>(out->size());
  return Status::OK();
}

void EntryEncoder::AppendDatumJson(const DataType& type, const Datum& d) {
  if (d.is_null) {
    writer_.Null();
    return;
  }
  const TypeKind k = type.kind;
  if (IsTextKind(k) || k == TypeKind::kBlob) {
    writer_.String(d.text.data(), static_cast<rapidjson::SizeType>(d.text.size()));
  } else if (IsIntKind(k)) {
    writer_.Int64(d.int_value);
  } else if (k == TypeKind::kBoolean) {
    writer_.Bool(d.int_value != 0);
  } else if (k == TypeKind::kFloat || k == TypeKind::kDouble) {
    if (std::isfinite(d.double_value)) {
      writer_.Double(d.double_value);
    } else {
      const std::string s = fmt::format("{}", d.double_value);
      writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    }
  } else if (IsTemporal(k)) {
    const int64_t micros = k == TypeKind::kDate ? d.int_value * kMicrosPerDay : d.int_value;
    std::string s = catalog::FormatEventTimeLike(FeatureType::kString, kIsoStyle, micros);
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else if (k == TypeKind::kList || k == TypeKind::kArray) {
    writer_.StartArray();
    const DataType element = type.children.empty() ? DataType() : type.children[0];
    for (const Datum& e : d.children) AppendDatumJson(element, e);
    writer_.EndArray();
  } else {
    writer_.Null();
  }
}

void EntryEncoder::AppendRowJson(const std::vector<Datum>& row, std::string* out) {
  sb_.Clear();
  writer_.Reset(sb_);
  writer_.StartObject();
  for (const ColumnPlan& c : plan_.columns) {
    writer_.Key(c.column.data(), static_cast<rapidjson::SizeType>(c.column.size()));
    AppendDatumJson(c.type, row[static_cast<size_t>(c.select_index)]);
  }
  writer_.EndObject();
  out->append(sb_.GetString(), sb_.GetSize());
}

}  // namespace larder::ingest
