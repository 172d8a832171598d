#include "catalog/search.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>

#include "catalog/page_token.h"
#include "common/status_macros.h"

namespace larder::catalog {
namespace {

enum class PropType { kText, kNumber, kTime, kBool, kUnknown };

constexpr std::string_view kOperatorNames[] = {"Equals",      "NotEquals",
                                               "GreaterThan", "GreaterThanOrEqualTo",
                                               "LessThan",    "LessThanOrEqualTo",
                                               "Contains",    "Exists",
                                               "NotExists",   "In"};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// ---- Property names and types ----

PropType FeatureMemberType(std::string_view member) {
  if (member == "FeatureName" || member == "FeatureType" || member == "CollectionType") {
    return PropType::kText;
  }
  if (member == "CollectionConfig.VectorConfig.Dimension") return PropType::kNumber;
  return PropType::kUnknown;
}

PropType GroupPropType(std::string_view name) {
  static const std::map<std::string_view, PropType> kProps = {
      {"FeatureGroupName", PropType::kText},
      {"FeatureGroupArn", PropType::kText},
      {"RecordIdentifierFeatureName", PropType::kText},
      {"EventTimeFeatureName", PropType::kText},
      {"Description", PropType::kText},
      {"RoleArn", PropType::kText},
      {"FeatureGroupStatus", PropType::kText},
      {"FailureReason", PropType::kText},
      {"CreationTime", PropType::kTime},
      {"LastModifiedTime", PropType::kTime},
      {"OfflineStoreStatus.Status", PropType::kText},
      {"OnlineStoreConfig.EnableOnlineStore", PropType::kBool},
      {"OnlineStoreConfig.StorageType", PropType::kText},
      {"OnlineStoreConfig.SecurityConfig.KmsKeyId", PropType::kText},
      {"OnlineStoreConfig.TtlDuration.Unit", PropType::kText},
      {"OnlineStoreConfig.TtlDuration.Value", PropType::kNumber},
      {"OfflineStoreConfig.S3StorageConfig.S3Uri", PropType::kText},
      {"OfflineStoreConfig.S3StorageConfig.KmsKeyId", PropType::kText},
      {"OfflineStoreConfig.S3StorageConfig.ResolvedOutputS3Uri", PropType::kText},
      {"OfflineStoreConfig.DisableGlueTableCreation", PropType::kBool},
      {"OfflineStoreConfig.DataCatalogConfig.TableName", PropType::kText},
      {"OfflineStoreConfig.DataCatalogConfig.Catalog", PropType::kText},
      {"OfflineStoreConfig.DataCatalogConfig.Database", PropType::kText},
      {"OfflineStoreConfig.TableFormat", PropType::kText},
      {"LastUpdateStatus.Status", PropType::kText},
      {"LastUpdateStatus.FailureReason", PropType::kText},
  };
  auto it = kProps.find(name);
  if (it != kProps.end()) return it->second;
  if (StartsWith(name, "Tags.") && name.size() > 5) return PropType::kText;
  if (StartsWith(name, "FeatureDefinitions.")) return FeatureMemberType(name.substr(19));
  return PropType::kUnknown;
}

PropType MetadataPropType(std::string_view name) {
  if (name == "FeatureGroupName" || name == "FeatureGroupArn" || name == "FeatureName" ||
      name == "FeatureType" || name == "Description" || name == "AllParameters") {
    return PropType::kText;
  }
  if (name == "CreationTime" || name == "LastModifiedTime") return PropType::kTime;
  if (StartsWith(name, "Parameters.") && name.size() > 11) return PropType::kText;
  return PropType::kUnknown;
}

// The nested collections each resource allows, and the type of a member inside one.
PropType NestedMemberType(SearchResource r, std::string_view nested, std::string_view name) {
  if (!StartsWith(name, nested) || name.size() <= nested.size() + 1 || name[nested.size()] != '.') {
    return PropType::kUnknown;
  }
  std::string_view member = name.substr(nested.size() + 1);
  if (r == SearchResource::kFeatureGroup && nested == "FeatureDefinitions") {
    return FeatureMemberType(member);
  }
  if (r == SearchResource::kFeatureGroup && nested == "Tags") {
    return member == "Key" || member == "Value" ? PropType::kText : PropType::kUnknown;
  }
  if (r == SearchResource::kFeatureMetadata && nested == "Parameters") {
    return member == "Key" || member == "Value" ? PropType::kText : PropType::kUnknown;
  }
  return PropType::kUnknown;
}

// ---- Values ----

// A property's values on one item (several for multi-valued properties).
struct Values {
  std::vector<std::string> text;  // kText, kBool ("true"/"false"), kUnknown (always empty)
  std::vector<double> num;        // kNumber, kTime
};

void AddText(Values* v, std::string_view s, bool if_nonempty = true) {
  if (!if_nonempty || !s.empty()) v->text.emplace_back(s);
}

void FeatureMemberValues(const FeatureDefinition& f, std::string_view member, Values* v) {
  if (member == "FeatureName") AddText(v, f.name);
  if (member == "FeatureType") AddText(v, FeatureTypeName(f.type));
  if (member == "CollectionType") AddText(v, CollectionTypeName(f.collection));
  if (member == "CollectionConfig.VectorConfig.Dimension" &&
      f.collection == CollectionType::kVector) {
    v->num.push_back(f.vector_dimension);
  }
}

double GroupLastModified(const FeatureGroup& g) {
  return g.last_modified_time > 0 ? g.last_modified_time : g.creation_time;
}

void GroupValues(const FeatureGroup& g, std::string_view name, Values* v) {
  auto text = [&](std::string_view s) { AddText(v, s); };
  auto boolean = [&](bool b) { v->text.emplace_back(b ? "true" : "false"); };
  if (name == "FeatureGroupName") return text(g.name);
  if (name == "FeatureGroupArn") return text(g.arn);
  if (name == "RecordIdentifierFeatureName") return text(g.record_identifier_name);
  if (name == "EventTimeFeatureName") return text(g.event_time_feature_name);
  if (name == "Description") return text(g.description);
  if (name == "RoleArn") return text(g.role_arn);
  if (name == "FeatureGroupStatus") return text(GroupStatusName(g.status));
  if (name == "FailureReason") return text(g.failure_reason);
  if (name == "CreationTime") return v->num.push_back(g.creation_time);
  if (name == "LastModifiedTime") return v->num.push_back(GroupLastModified(g));
  if (name == "OfflineStoreStatus.Status") return text(g.offline_store_status());
  if (name == "LastUpdateStatus.Status") return text(g.last_update_status);
  if (name == "LastUpdateStatus.FailureReason") return text(g.last_update_failure_reason);
  if (StartsWith(name, "OnlineStoreConfig.")) {
    if (!g.has_online_store_config) return;
    if (name == "OnlineStoreConfig.EnableOnlineStore") return boolean(g.online_enabled);
    if (name == "OnlineStoreConfig.StorageType") return text(g.online_storage_type);
    if (name == "OnlineStoreConfig.SecurityConfig.KmsKeyId") return text(g.online_kms_key_id);
    if (name == "OnlineStoreConfig.TtlDuration.Unit" && g.ttl.has_value()) {
      return text(TtlUnitName(g.ttl->unit));
    }
    if (name == "OnlineStoreConfig.TtlDuration.Value" && g.ttl.has_value()) {
      return v->num.push_back(static_cast<double>(g.ttl->value));
    }
    return;
  }
  if (StartsWith(name, "OfflineStoreConfig.")) {
    if (!g.offline_enabled) return;
    if (name == "OfflineStoreConfig.S3StorageConfig.S3Uri") return text(g.s3_uri);
    if (name == "OfflineStoreConfig.S3StorageConfig.KmsKeyId") return text(g.offline_kms_key_id);
    if (name == "OfflineStoreConfig.S3StorageConfig.ResolvedOutputS3Uri") {
      return text(g.resolved_output_s3_uri);
    }
    if (name == "OfflineStoreConfig.DisableGlueTableCreation") {
      return boolean(g.disable_glue_table_creation);
    }
    if (name == "OfflineStoreConfig.DataCatalogConfig.TableName") return text(g.table_name);
    if (name == "OfflineStoreConfig.DataCatalogConfig.Catalog") return text(g.data_catalog);
    if (name == "OfflineStoreConfig.DataCatalogConfig.Database") return text(g.data_database);
    if (name == "OfflineStoreConfig.TableFormat") return text(g.table_format);
    return;
  }
  if (StartsWith(name, "Tags.")) {
    std::string_view key = name.substr(5);
    for (const auto& [k, val] : g.tags) {
      if (k == key) AddText(v, val, /*if_nonempty=*/false);
    }
    return;
  }
  if (StartsWith(name, "FeatureDefinitions.")) {
    for (const FeatureDefinition& f : g.features) FeatureMemberValues(f, name.substr(19), v);
  }
}

void MetadataValues(const FeatureGroup& g, const FeatureDefinition& f, std::string_view name,
                    Values* v) {
  if (name == "FeatureGroupName") return AddText(v, g.name);
  if (name == "FeatureGroupArn") return AddText(v, g.arn);
  if (name == "FeatureName") return AddText(v, f.name);
  if (name == "FeatureType") return AddText(v, FeatureTypeName(f.type));
  if (name == "Description") return AddText(v, f.metadata.description);
  if (name == "CreationTime") return v->num.push_back(f.metadata.creation_time);
  if (name == "LastModifiedTime") return v->num.push_back(f.metadata.last_modified_time);
  if (name == "AllParameters") {
    for (const auto& [k, val] : f.metadata.parameters) {
      AddText(v, k);
      AddText(v, val);
    }
    return;
  }
  if (StartsWith(name, "Parameters.")) {
    auto it = f.metadata.parameters.find(std::string(name.substr(11)));
    if (it != f.metadata.parameters.end()) AddText(v, it->second, /*if_nonempty=*/false);
  }
}

// One result candidate.
struct Item {
  const FeatureGroup* group;
  const FeatureDefinition* feature;  // FeatureMetadata only
};

void ItemValues(const Item& item, std::string_view name, Values* v) {
  if (item.feature != nullptr) {
    MetadataValues(*item.group, *item.feature, name, v);
  } else {
    GroupValues(*item.group, name, v);
  }
}

// An element of a nested collection: a feature, a tag or a parameter.
struct Element {
  const FeatureDefinition* feature = nullptr;
  const std::pair<const std::string, std::string>* param = nullptr;
  const std::pair<std::string, std::string>* tag = nullptr;
};

void ElementValues(const Element& e, std::string_view member, Values* v) {
  if (e.feature != nullptr) return FeatureMemberValues(*e.feature, member, v);
  const std::string* key = e.param != nullptr ? &e.param->first : &e.tag->first;
  const std::string* value = e.param != nullptr ? &e.param->second : &e.tag->second;
  if (member == "Key") AddText(v, *key, false);
  if (member == "Value") AddText(v, *value, false);
}

// ---- Compiled expressions ----

std::optional<double> ParseNumber(std::string_view s) {
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Epoch seconds, or ISO-8601: YYYY-MM-DD[(T| )hh:mm[:ss[.fff...]]][Z|(+|-)hh[:]mm].
std::optional<double> ParseTime(std::string_view s) {
  if (std::optional<double> n = ParseNumber(s)) return n;
  std::tm tm{};
  int year, month, day;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' ||
      !ParseDigits(s, 5, 2, &month) || s[7] != '-' || !ParseDigits(s, 8, 2, &day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  size_t pos = 10;
  double frac = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    int h, m;
    if (!ParseDigits(s, pos + 1, 2, &h) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &m) || h > 23 || m > 59) {
      return std::nullopt;
    }
    tm.tm_hour = h;
    tm.tm_min = m;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      int sec;
      if (!ParseDigits(s, pos + 1, 2, &sec) || sec > 60) return std::nullopt;
      tm.tm_sec = sec;
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        size_t start = ++pos;
        double scale = 0.1;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          frac += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (pos == start) return std::nullopt;
      }
    }
  }
  int offset = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      pos = s.size();
    } else if (s[pos] == '+' || s[pos] == '-') {
      int sign = s[pos] == '-' ? -1 : 1;
      int oh, om;
      size_t mpos = pos + 3 < s.size() && s[pos + 3] == ':' ? pos + 4 : pos + 3;
      if (!ParseDigits(s, pos + 1, 2, &oh) || !ParseDigits(s, mpos, 2, &om) ||
          mpos + 2 != s.size()) {
        return std::nullopt;
      }
      offset = sign * (oh * 3600 + om * 60);
      pos = s.size();
    } else {
      return std::nullopt;
    }
  }
  time_t t = timegm(&tm);
  return static_cast<double>(t - offset) + frac;
}

struct CompiledFilter {
  std::string name;    // full property name
  std::string member;  // inside a nested filter: the part after "<Nested>."
  FilterOperator op;
  PropType type;
  std::string text;             // text / bool operand
  double number = 0;            // number / time operand
  std::vector<std::string> in;  // In operands
};

struct CompiledNested {
  std::string collection;  // FeatureDefinitions | Tags | Parameters
  std::vector<CompiledFilter> filters;
};

struct CompiledExpression {
  std::vector<CompiledFilter> filters;
  std::vector<CompiledNested> nested;
  std::vector<CompiledExpression> subs;
  bool is_or = false;
};

std::string Describe(const SearchFilter& f) {
  return "Filter '" + f.name + "' with Operator " + std::string(FilterOperatorName(f.op));
}

StatusOr<CompiledFilter> CompileFilter(const SearchFilter& f, PropType type) {
  CompiledFilter c{f.name, "", f.op, type, "", 0, {}};
  if (f.op == FilterOperator::kExists || f.op == FilterOperator::kNotExists) return c;
  if (!f.value.has_value()) {
    return Status::InvalidArgument(Describe(f) + " needs a Value");
  }
  const std::string& value = *f.value;
  bool ordering = f.op == FilterOperator::kGreaterThan ||
                  f.op == FilterOperator::kGreaterThanOrEqualTo ||
                  f.op == FilterOperator::kLessThan || f.op == FilterOperator::kLessThanOrEqualTo;
  bool textual = f.op == FilterOperator::kContains || f.op == FilterOperator::kIn;
  switch (type) {
    case PropType::kText:
    case PropType::kUnknown:
      if (ordering && type == PropType::kText) {
        return Status::InvalidArgument(Describe(f) +
                                       ": ordering operators are not supported for the text "
                                       "property '" +
                                       f.name + "'");
      }
      c.text = value;
      break;
    case PropType::kBool: {
      if (ordering || textual) {
        return Status::InvalidArgument(Describe(f) + ": '" + f.name +
                                       "' is a boolean property; use Equals or NotEquals");
      }
      std::string lower = value;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower != "true" && lower != "false") {
        return Status::InvalidArgument(Describe(f) + ": Value '" + value +
                                       "' is not a boolean (true or false)");
      }
      c.text = lower;
      break;
    }
    case PropType::kNumber:
    case PropType::kTime: {
      if (textual) {
        return Status::InvalidArgument(Describe(f) +
                                       ": Contains and In apply only to text "
                                       "properties, and '" +
                                       f.name + "' is not one");
      }
      std::optional<double> n = type == PropType::kTime ? ParseTime(value) : ParseNumber(value);
      if (!n.has_value()) {
        return Status::InvalidArgument(
            Describe(f) + ": Value '" + value + "' is not " +
            (type == PropType::kTime ? "a timestamp (epoch seconds or ISO-8601)" : "a number"));
      }
      c.number = *n;
      break;
    }
  }
  if (f.op == FilterOperator::kIn) {
    size_t start = 0;
    while (true) {
      size_t comma = value.find(',', start);
      c.in.push_back(value.substr(start, comma == std::string::npos ? comma : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return c;
}

StatusOr<CompiledExpression> Compile(SearchResource r, const SearchExpression& e) {
  CompiledExpression out;
  out.is_or = e.is_or;
  for (const SearchFilter& f : e.filters) {
    PropType t =
        r == SearchResource::kFeatureGroup ? GroupPropType(f.name) : MetadataPropType(f.name);
    ASSIGN_OR_RETURN(CompiledFilter c, CompileFilter(f, t));
    out.filters.push_back(std::move(c));
  }
  for (const NestedSearchFilter& n : e.nested_filters) {
    bool known =
        r == SearchResource::kFeatureGroup
            ? (n.nested_property_name == "FeatureDefinitions" || n.nested_property_name == "Tags")
            : n.nested_property_name == "Parameters";
    if (!known) {
      return Status::InvalidArgument(
          "NestedPropertyName '" + n.nested_property_name + "' is not a nested property of " +
          (r == SearchResource::kFeatureGroup ? "FeatureGroup (use FeatureDefinitions or Tags)"
                                              : "FeatureMetadata (use Parameters)"));
    }
    CompiledNested cn{n.nested_property_name, {}};
    for (const SearchFilter& f : n.filters) {
      PropType t = NestedMemberType(r, n.nested_property_name, f.name);
      if (t == PropType::kUnknown) {
        return Status::InvalidArgument("Filter '" + f.name + "' in NestedFilters '" +
                                       n.nested_property_name + "' is not a member of " +
                                       n.nested_property_name);
      }
      ASSIGN_OR_RETURN(CompiledFilter c, CompileFilter(f, t));
      c.member = f.name.substr(n.nested_property_name.size() + 1);
      cn.filters.push_back(std::move(c));
    }
    out.nested.push_back(std::move(cn));
  }
  for (const SearchExpression& sub : e.sub_expressions) {
    ASSIGN_OR_RETURN(CompiledExpression c, Compile(r, sub));
    out.subs.push_back(std::move(c));
  }
  return out;
}

bool Matches(const CompiledFilter& f, const Values& v) {
  bool numeric = f.type == PropType::kNumber || f.type == PropType::kTime;
  size_t n = numeric ? v.num.size() : v.text.size();
  auto any_num = [&](auto pred) { return std::any_of(v.num.begin(), v.num.end(), pred); };
  auto any_text = [&](auto pred) { return std::any_of(v.text.begin(), v.text.end(), pred); };
  auto equals = [&]() {
    return numeric ? any_num([&](double x) { return x == f.number; })
                   : any_text([&](const std::string& x) { return x == f.text; });
  };
  switch (f.op) {
    case FilterOperator::kExists:
      return n > 0;
    case FilterOperator::kNotExists:
      return n == 0;
    case FilterOperator::kEquals:
      return equals();
    case FilterOperator::kNotEquals:
      return !equals();
    case FilterOperator::kGreaterThan:
      return numeric ? any_num([&](double x) { return x > f.number; })
                     : any_text([&](const std::string& x) { return x > f.text; });
    case FilterOperator::kGreaterThanOrEqualTo:
      return numeric ? any_num([&](double x) { return x >= f.number; })
                     : any_text([&](const std::string& x) { return x >= f.text; });
    case FilterOperator::kLessThan:
      return numeric ? any_num([&](double x) { return x < f.number; })
                     : any_text([&](const std::string& x) { return x < f.text; });
    case FilterOperator::kLessThanOrEqualTo:
      return numeric ? any_num([&](double x) { return x <= f.number; })
                     : any_text([&](const std::string& x) { return x <= f.text; });
    case FilterOperator::kContains:
      return any_text([&](const std::string& x) { return x.find(f.text) != std::string::npos; });
    case FilterOperator::kIn:
      return any_text([&](const std::string& x) {
        return std::find(f.in.begin(), f.in.end(), x) != f.in.end();
      });
  }
  return false;
}

bool NestedMatches(const CompiledNested& n, const Item& item) {
  auto all = [&](const Element& e) {
    return std::all_of(n.filters.begin(), n.filters.end(), [&](const CompiledFilter& f) {
      Values v;
      ElementValues(e, f.member, &v);
      return Matches(f, v);
    });
  };
  if (n.collection == "FeatureDefinitions") {
    return std::any_of(item.group->features.begin(), item.group->features.end(),
                       [&](const FeatureDefinition& f) {
                         return all(Element{&f, nullptr, nullptr});
                       });
  }
  if (n.collection == "Tags") {
    return std::any_of(item.group->tags.begin(), item.group->tags.end(), [&](const auto& t) {
      return all(Element{nullptr, nullptr, &t});
    });
  }
  const auto& params = item.feature->metadata.parameters;
  return std::any_of(params.begin(), params.end(), [&](const auto& p) {
    return all(Element{nullptr, &p, nullptr});
  });
}

bool Evaluate(const CompiledExpression& e, const Item& item) {
  std::vector<bool> results;
  for (const CompiledFilter& f : e.filters) {
    Values v;
    ItemValues(item, f.name, &v);
    results.push_back(Matches(f, v));
  }
  for (const CompiledNested& n : e.nested) results.push_back(NestedMatches(n, item));
  for (const CompiledExpression& sub : e.subs) results.push_back(Evaluate(sub, item));
  if (e.is_or)
    return results.empty() || std::find(results.begin(), results.end(), true) != results.end();
  return std::find(results.begin(), results.end(), false) == results.end();
}

SortKey ItemSortKey(const Item& item, const std::string& sort_by, PropType type) {
  Values v;
  ItemValues(item, sort_by, &v);
  if (type == PropType::kNumber || type == PropType::kTime) {
    return v.num.empty() ? SortKey() : SortKey::Number(v.num.front());
  }
  return v.text.empty() ? SortKey() : SortKey::String(v.text.front());
}

struct Entry {
  SortKey key;
  Item item;
  GroupPtr group;
  int feature_index;
};

bool Before(const Entry& a, const Entry& b, bool descending) {
  bool a_missing = a.key.kind == SortKey::Kind::kMissing;
  bool b_missing = b.key.kind == SortKey::Kind::kMissing;
  if (a_missing != b_missing) return b_missing;
  int c = CompareSortKeys(a.key, b.key);
  if (c != 0) return descending ? c > 0 : c < 0;
  if (a.group->id != b.group->id) return a.group->id < b.group->id;
  return a.feature_index < b.feature_index;
}

}  // namespace

std::optional<double> ParseTimestampSeconds(std::string_view text) { return ParseTime(text); }

std::optional<FilterOperator> FilterOperatorFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kOperatorNames); ++i) {
    if (kOperatorNames[i] == name) return static_cast<FilterOperator>(i);
  }
  return std::nullopt;
}

std::string_view FilterOperatorName(FilterOperator op) {
  return kOperatorNames[static_cast<size_t>(op)];
}

StatusOr<SearchPage> Search(const CatalogSnapshot& snapshot, const SearchQuery& q) {
  bool groups = q.resource == SearchResource::kFeatureGroup;
  std::string sort_by = q.sort_by.empty() ? "LastModifiedTime" : q.sort_by;
  PropType sort_type = groups ? GroupPropType(sort_by) : MetadataPropType(sort_by);
  if (sort_type == PropType::kUnknown || sort_by == "AllParameters" ||
      StartsWith(sort_by, "FeatureDefinitions.")) {
    return Status::InvalidArgument("SortBy '" + sort_by + "' is not a sortable " +
                                   (groups ? "FeatureGroup" : "FeatureMetadata") + " property");
  }
  std::optional<CompiledExpression> expr;
  if (q.expression.has_value()) {
    ASSIGN_OR_RETURN(CompiledExpression e, Compile(q.resource, *q.expression));
    expr = std::move(e);
  }
  std::string query_id =
      std::string(groups ? "search/fg/" : "search/fm/") + sort_by + (q.descending ? "/d" : "/a");
  std::optional<PageCursor> cursor;
  if (!q.next_token.empty()) {
    ASSIGN_OR_RETURN(PageCursor c, DecodePageToken(q.next_token, query_id));
    cursor = std::move(c);
  }

  std::vector<Entry> entries;
  auto consider = [&](const GroupPtr& g, int feature_index) {
    Item item{g.get(), feature_index < 0 ? nullptr : &g->features[feature_index]};
    if (expr.has_value() && !Evaluate(*expr, item)) return;
    entries.push_back({ItemSortKey(item, sort_by, sort_type), item, g, feature_index});
  };
  for (const auto& [name, g] : snapshot.by_name) {
    if (groups) {
      consider(g, -1);
    } else {
      for (size_t i = 0; i < g->features.size(); ++i) consider(g, static_cast<int>(i));
    }
  }
  std::sort(entries.begin(), entries.end(),
            [&](const Entry& a, const Entry& b) { return Before(a, b, q.descending); });
  auto begin = entries.begin();
  if (cursor.has_value()) {
    auto probe = std::make_shared<FeatureGroup>();
    probe->id = cursor->id;
    Entry at{cursor->key, Item{probe.get(), nullptr}, probe, static_cast<int>(cursor->sub)};
    begin = std::upper_bound(
        entries.begin(), entries.end(), at,
        [&](const Entry& a, const Entry& b) { return Before(a, b, q.descending); });
  }
  SearchPage page;
  page.total_hits = entries.size();
  size_t max = std::max<size_t>(q.max_results, 1);
  auto it = begin;
  for (; it != entries.end() && page.hits.size() < max; ++it) {
    page.hits.push_back({it->group, it->feature_index});
  }
  if (it != entries.end() && !page.hits.empty()) {
    const Entry& last = *(it - 1);
    page.next_token = EncodePageToken({query_id, last.key, last.group->id, last.feature_index});
  }
  return page;
}

}  // namespace larder::catalog
