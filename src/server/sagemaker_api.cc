#include "server/sagemaker_api.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/group_list.h"
#include "catalog/search.h"
#include "common/status_macros.h"
#include "server/error_map.h"
#include "server/service_models.h"

namespace larder::server {
namespace {

using catalog::FeatureDefinition;
using catalog::FeatureGroup;
using catalog::GroupPtr;
using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kTargetPrefix = "SageMaker.";
constexpr int kMaxSearchDepth = 10;  // SubExpressions nesting accepted by Search

// ---- Reading requests (already validated against the model: types are right) ----

const Value* Member(const Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string String(const Value& obj, const char* key) {
  const Value* v = Member(obj, key);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

std::optional<std::string> OptString(const Value& obj, const char* key) {
  const Value* v = Member(obj, key);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> OptInt(const Value& obj, const char* key) {
  const Value* v = Member(obj, key);
  if (v == nullptr || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

bool Bool(const Value& obj, const char* key, bool dflt) {
  const Value* v = Member(obj, key);
  return v != nullptr && v->IsBool() ? v->GetBool() : dflt;
}

StatusOr<std::optional<double>> OptTime(const Value& obj, const char* key) {
  const Value* v = Member(obj, key);
  if (v == nullptr) return std::optional<double>();
  if (v->IsNumber()) return std::optional<double>(v->GetDouble());
  std::string text(v->GetString(), v->GetStringLength());
  std::optional<double> t = catalog::ParseTimestampSeconds(text);
  if (!t.has_value()) {
    return Status::InvalidArgument(std::string(key) + " '" + text +
                                   "' is not a timestamp (epoch seconds or ISO-8601)");
  }
  return t;
}

std::vector<std::pair<std::string, std::string>> Tags(const Value& obj, const char* key) {
  std::vector<std::pair<std::string, std::string>> out;
  const Value* list = Member(obj, key);
  if (list == nullptr) return out;
  for (const Value& t : list->GetArray()) out.emplace_back(String(t, "Key"), String(t, "Value"));
  return out;
}

std::vector<FeatureDefinition> Features(const Value& list) {
  std::vector<FeatureDefinition> out;
  for (const Value& f : list.GetArray()) {
    FeatureDefinition d;
    d.name = String(f, "FeatureName");
    d.type = catalog::FeatureTypeFromName(String(f, "FeatureType"))
                 .value_or(catalog::FeatureType::kString);
    if (std::optional<std::string> c = OptString(f, "CollectionType")) {
      d.collection = catalog::CollectionTypeFromName(*c).value_or(catalog::CollectionType::kNone);
    }
    if (const Value* cc = Member(f, "CollectionConfig")) {
      if (const Value* vc = Member(*cc, "VectorConfig")) {
        d.vector_dimension = static_cast<int32_t>(OptInt(*vc, "Dimension").value_or(0));
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

// TtlDuration: both members, or neither ({} means "no TTL" / "clear the TTL").
StatusOr<std::optional<catalog::TtlDuration>> Ttl(const Value& v, std::string_view field) {
  std::optional<std::string> unit = OptString(v, "Unit");
  std::optional<int64_t> value = OptInt(v, "Value");
  if (!unit.has_value() && !value.has_value()) return std::optional<catalog::TtlDuration>();
  if (!unit.has_value() || !value.has_value()) {
    return Status::InvalidArgument(
        std::string(field) + " must give both Unit and Value (or neither, for no TTL), but only " +
        (unit.has_value() ? "Unit '" + *unit + "'" : "Value " + std::to_string(*value)) +
        " is set");
  }
  return std::optional<catalog::TtlDuration>(catalog::TtlDuration{
      catalog::TtlUnitFromName(*unit).value_or(catalog::TtlUnit::kSeconds), *value});
}

StatusOr<catalog::SearchExpression> Expression(const Value& v, int depth) {
  if (depth > kMaxSearchDepth) {
    return Status::InvalidArgument("SearchExpression nests SubExpressions more than " +
                                   std::to_string(kMaxSearchDepth) + " levels deep");
  }
  auto filters = [](const Value& list) {
    std::vector<catalog::SearchFilter> out;
    for (const Value& f : list.GetArray()) {
      catalog::SearchFilter sf;
      sf.name = String(f, "Name");
      sf.op = catalog::FilterOperatorFromName(OptString(f, "Operator").value_or("Equals"))
                  .value_or(catalog::FilterOperator::kEquals);
      sf.value = OptString(f, "Value");
      out.push_back(std::move(sf));
    }
    return out;
  };
  catalog::SearchExpression e;
  if (const Value* f = Member(v, "Filters")) e.filters = filters(*f);
  if (const Value* nested = Member(v, "NestedFilters")) {
    for (const Value& n : nested->GetArray()) {
      const Value* nf = Member(n, "Filters");
      e.nested_filters.push_back(
          {String(n, "NestedPropertyName"),
           nf != nullptr ? filters(*nf) : std::vector<catalog::SearchFilter>()});
    }
  }
  if (const Value* subs = Member(v, "SubExpressions")) {
    for (const Value& s : subs->GetArray()) {
      ASSIGN_OR_RETURN(catalog::SearchExpression sub, Expression(s, depth + 1));
      e.sub_expressions.push_back(std::move(sub));
    }
  }
  e.is_or = OptString(v, "Operator").value_or("And") == "Or";
  return e;
}

// ---- Writing responses ----

void Str(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void OptStr(Writer& w, const char* key, std::string_view value) {
  if (!value.empty()) Str(w, key, value);
}

void Time(Writer& w, const char* key, double seconds) {
  w.Key(key);
  w.Double(seconds);
}

void WriteFeatures(Writer& w, const FeatureGroup& g) {
  w.Key("FeatureDefinitions");
  w.StartArray();
  for (const FeatureDefinition& f : g.features) {
    w.StartObject();
    Str(w, "FeatureName", f.name);
    Str(w, "FeatureType", catalog::FeatureTypeName(f.type));
    if (f.collection != catalog::CollectionType::kNone) {
      Str(w, "CollectionType", catalog::CollectionTypeName(f.collection));
      if (f.collection == catalog::CollectionType::kVector) {
        w.Key("CollectionConfig");
        w.StartObject();
        w.Key("VectorConfig");
        w.StartObject();
        w.Key("Dimension");
        w.Int(f.vector_dimension);
        w.EndObject();
        w.EndObject();
      }
    }
    w.EndObject();
  }
  w.EndArray();
}

void WriteTags(Writer& w, const std::vector<std::pair<std::string, std::string>>& tags) {
  w.Key("Tags");
  w.StartArray();
  for (const auto& [k, v] : tags) {
    w.StartObject();
    Str(w, "Key", k);
    Str(w, "Value", v);
    w.EndObject();
  }
  w.EndArray();
}

void WriteOfflineStatus(Writer& w, const FeatureGroup& g) {
  if (g.offline_store_status().empty()) return;
  w.Key("OfflineStoreStatus");
  w.StartObject();
  Str(w, "Status", g.offline_store_status());
  w.EndObject();
}

// The members DescribeFeatureGroup and a Search FeatureGroup record share, in model order.
void WriteGroupBody(Writer& w, const FeatureGroup& g, bool describe) {
  Str(w, "FeatureGroupArn", g.arn);
  Str(w, "FeatureGroupName", g.name);
  Str(w, "RecordIdentifierFeatureName", g.record_identifier_name);
  Str(w, "EventTimeFeatureName", g.event_time_feature_name);
  WriteFeatures(w, g);
  Time(w, "CreationTime", g.creation_time);
  if (g.last_modified_time > 0) Time(w, "LastModifiedTime", g.last_modified_time);
  if (g.has_online_store_config) {
    w.Key("OnlineStoreConfig");
    w.StartObject();
    if (!g.online_kms_key_id.empty()) {
      w.Key("SecurityConfig");
      w.StartObject();
      Str(w, "KmsKeyId", g.online_kms_key_id);
      w.EndObject();
    }
    w.Key("EnableOnlineStore");
    w.Bool(g.online_enabled);
    if (g.ttl.has_value()) {
      w.Key("TtlDuration");
      w.StartObject();
      Str(w, "Unit", catalog::TtlUnitName(g.ttl->unit));
      w.Key("Value");
      w.Int64(g.ttl->value);
      w.EndObject();
    }
    OptStr(w, "StorageType", g.online_storage_type);
    w.EndObject();
  }
  if (g.offline_enabled) {
    w.Key("OfflineStoreConfig");
    w.StartObject();
    w.Key("S3StorageConfig");
    w.StartObject();
    Str(w, "S3Uri", g.s3_uri);
    OptStr(w, "KmsKeyId", g.offline_kms_key_id);
    OptStr(w, "ResolvedOutputS3Uri", g.resolved_output_s3_uri);
    w.EndObject();
    w.Key("DisableGlueTableCreation");
    w.Bool(g.disable_glue_table_creation);
    if (!g.table_name.empty()) {
      w.Key("DataCatalogConfig");
      w.StartObject();
      Str(w, "TableName", g.table_name);
      Str(w, "Catalog", g.data_catalog);
      Str(w, "Database", g.data_database);
      w.EndObject();
    }
    OptStr(w, "TableFormat", g.table_format);
    w.EndObject();
  }
  if (describe) {
    w.Key("ThroughputConfig");
    w.StartObject();
    Str(w, "ThroughputMode", g.throughput_mode);
    if (g.provisioned_read_capacity_units.has_value()) {
      w.Key("ProvisionedReadCapacityUnits");
      w.Int64(*g.provisioned_read_capacity_units);
    }
    if (g.provisioned_write_capacity_units.has_value()) {
      w.Key("ProvisionedWriteCapacityUnits");
      w.Int64(*g.provisioned_write_capacity_units);
    }
    w.EndObject();
  }
  OptStr(w, "RoleArn", g.role_arn);
  Str(w, "FeatureGroupStatus", catalog::GroupStatusName(g.status));
  WriteOfflineStatus(w, g);
  if (!g.last_update_status.empty()) {
    w.Key("LastUpdateStatus");
    w.StartObject();
    Str(w, "Status", g.last_update_status);
    OptStr(w, "FailureReason", g.last_update_failure_reason);
    w.EndObject();
  }
  OptStr(w, "FailureReason", g.failure_reason);
  OptStr(w, "Description", g.description);
}

void WriteFeatureMetadata(Writer& w, const FeatureGroup& g, const FeatureDefinition& f) {
  Str(w, "FeatureGroupArn", g.arn);
  Str(w, "FeatureGroupName", g.name);
  Str(w, "FeatureName", f.name);
  Str(w, "FeatureType", catalog::FeatureTypeName(f.type));
  Time(w, "CreationTime", f.metadata.creation_time);
  Time(w, "LastModifiedTime", f.metadata.last_modified_time);
  OptStr(w, "Description", f.metadata.description);
  if (!f.metadata.parameters.empty()) {
    w.Key("Parameters");
    w.StartArray();
    for (const auto& [k, v] : f.metadata.parameters) {
      w.StartObject();
      Str(w, "Key", k);
      Str(w, "Value", v);
      w.EndObject();
    }
    w.EndArray();
  }
}

std::string Done(const rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

std::string ArnResponse(const std::string& arn) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "FeatureGroupArn", arn);
  w.EndObject();
  return Done(buf);
}

constexpr char kEmptyObject[] = "{}";

// Each operation: validated request in, response body (or error Status) out.
class SageMakerOps {
 public:
  SageMakerOps(catalog::Catalog* catalog, const SageMakerApiOptions& options)
      : catalog_(catalog), options_(options) {}

  StatusOr<std::string> Dispatch(std::string_view op, const Value& in) {
    if (op == "CreateFeatureGroup") return Create(in);
    if (op == "DescribeFeatureGroup") return Describe(in);
    if (op == "ListFeatureGroups") return List(in);
    if (op == "UpdateFeatureGroup") return Update(in);
    if (op == "DeleteFeatureGroup") return Delete(in);
    if (op == "DescribeFeatureMetadata") return DescribeMetadata(in);
    if (op == "UpdateFeatureMetadata") return UpdateMetadata(in);
    if (op == "Search") return Search(in);
    if (op == "AddTags") return AddTags(in);
    if (op == "ListTags") return ListTags(in);
    if (op == "DeleteTags") return DeleteTags(in);
    return Status::Internal("operation " + std::string(op) + " is in the model but not served");
  }

 private:
  StatusOr<std::string> Create(const Value& in) {
    FeatureGroup g;
    g.name = String(in, "FeatureGroupName");
    g.record_identifier_name = String(in, "RecordIdentifierFeatureName");
    g.event_time_feature_name = String(in, "EventTimeFeatureName");
    g.features = Features(*Member(in, "FeatureDefinitions"));
    if (const Value* on = Member(in, "OnlineStoreConfig")) {
      g.has_online_store_config = true;
      g.online_enabled = Bool(*on, "EnableOnlineStore", false);
      g.online_storage_type = String(*on, "StorageType");
      if (const Value* sec = Member(*on, "SecurityConfig"))
        g.online_kms_key_id = String(*sec, "KmsKeyId");
      if (const Value* ttl = Member(*on, "TtlDuration")) {
        ASSIGN_OR_RETURN(g.ttl, Ttl(*ttl, "OnlineStoreConfig.TtlDuration"));
      }
    }
    if (const Value* off = Member(in, "OfflineStoreConfig")) {
      g.offline_enabled = true;
      const Value* s3 = Member(*off, "S3StorageConfig");
      g.s3_uri = String(*s3, "S3Uri");
      g.offline_kms_key_id = String(*s3, "KmsKeyId");
      g.disable_glue_table_creation = Bool(*off, "DisableGlueTableCreation", false);
      if (const Value* dc = Member(*off, "DataCatalogConfig")) {
        g.table_name = String(*dc, "TableName");
        g.data_catalog = String(*dc, "Catalog");
        g.data_database = String(*dc, "Database");
      }
      g.table_format = String(*off, "TableFormat");
    }
    if (const Value* tp = Member(in, "ThroughputConfig")) {
      g.throughput_mode = String(*tp, "ThroughputMode");
      g.provisioned_read_capacity_units = OptInt(*tp, "ProvisionedReadCapacityUnits");
      g.provisioned_write_capacity_units = OptInt(*tp, "ProvisionedWriteCapacityUnits");
    }
    g.role_arn = String(in, "RoleArn");
    g.description = String(in, "Description");
    g.tags = Tags(in, "Tags");
    ASSIGN_OR_RETURN(GroupPtr created, catalog_->CreateGroup(std::move(g)));
    return ArnResponse(created->arn);
  }

  StatusOr<std::string> Describe(const Value& in) {
    ASSIGN_OR_RETURN(GroupPtr g, catalog_->Lookup(String(in, "FeatureGroupName")));
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    WriteGroupBody(w, *g, /*describe=*/true);
    Str(w, "NextToken", "");  // every feature fits in one reply (at most 2500)
    w.Key("OnlineStoreTotalSizeBytes");
    w.Int64(options_.online_store_size_bytes ? options_.online_store_size_bytes(*g) : 0);
    w.EndObject();
    return Done(buf);
  }

  StatusOr<std::string> List(const Value& in) {
    catalog::ListGroupsQuery q;
    q.name_contains = String(in, "NameContains");
    if (std::optional<std::string> s = OptString(in, "FeatureGroupStatusEquals")) {
      q.status_equals = catalog::GroupStatusFromName(*s);
    }
    q.offline_status_equals = String(in, "OfflineStoreStatusEquals");
    ASSIGN_OR_RETURN(q.created_after, OptTime(in, "CreationTimeAfter"));
    ASSIGN_OR_RETURN(q.created_before, OptTime(in, "CreationTimeBefore"));
    std::string sort_by = OptString(in, "SortBy").value_or("CreationTime");
    if (sort_by == "Name") q.sort_by = catalog::GroupSortBy::kName;
    if (sort_by == "FeatureGroupStatus") q.sort_by = catalog::GroupSortBy::kFeatureGroupStatus;
    if (sort_by == "OfflineStoreStatus") q.sort_by = catalog::GroupSortBy::kOfflineStoreStatus;
    if (sort_by == "CreationTime") q.sort_by = catalog::GroupSortBy::kCreationTime;
    q.descending = OptString(in, "SortOrder").value_or("Descending") == "Descending";
    q.max_results = static_cast<size_t>(OptInt(in, "MaxResults").value_or(10));
    q.next_token = String(in, "NextToken");
    ASSIGN_OR_RETURN(catalog::ListGroupsPage page, catalog::ListGroups(*catalog_->Snapshot(), q));
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("FeatureGroupSummaries");
    w.StartArray();
    for (const GroupPtr& g : page.groups) {
      w.StartObject();
      Str(w, "FeatureGroupName", g->name);
      Str(w, "FeatureGroupArn", g->arn);
      Time(w, "CreationTime", g->creation_time);
      Str(w, "FeatureGroupStatus", catalog::GroupStatusName(g->status));
      WriteOfflineStatus(w, *g);
      w.EndObject();
    }
    w.EndArray();
    OptStr(w, "NextToken", page.next_token);
    w.EndObject();
    return Done(buf);
  }

  StatusOr<std::string> Update(const Value& in) {
    std::string name = String(in, "FeatureGroupName");
    const Value* additions = Member(in, "FeatureAdditions");
    const Value* online = Member(in, "OnlineStoreConfig");
    const Value* throughput = Member(in, "ThroughputConfig");
    std::vector<std::string> kinds;
    if (additions != nullptr) kinds.push_back("FeatureAdditions");
    if (online != nullptr) kinds.push_back("OnlineStoreConfig");
    if (throughput != nullptr) kinds.push_back("ThroughputConfig");
    if (kinds.empty()) {
      return Status::InvalidArgument(
          "UpdateFeatureGroup for FeatureGroup " + name +
          " needs one of FeatureAdditions, OnlineStoreConfig or ThroughputConfig");
    }
    if (kinds.size() > 1) {
      std::string list = kinds[0];
      for (size_t i = 1; i < kinds.size(); ++i) list += " and " + kinds[i];
      return Status::InvalidArgument(
          "UpdateFeatureGroup accepts one kind of change per call, but the request for "
          "FeatureGroup " +
          name + " has " + list);
    }
    GroupPtr updated;
    if (additions != nullptr) {
      ASSIGN_OR_RETURN(updated, catalog_->AddFeatures(name, Features(*additions)));
    } else if (online != nullptr) {
      const Value* ttl = Member(*online, "TtlDuration");
      if (ttl == nullptr) {
        return Status::InvalidArgument(
            "OnlineStoreConfig in UpdateFeatureGroup must contain TtlDuration (use {} to clear "
            "the default TTL)");
      }
      ASSIGN_OR_RETURN(std::optional<catalog::TtlDuration> d,
                       Ttl(*ttl, "OnlineStoreConfig.TtlDuration"));
      ASSIGN_OR_RETURN(updated, catalog_->SetDefaultTtl(name, d));
    } else {
      catalog::ThroughputUpdate u{OptString(*throughput, "ThroughputMode"),
                                  OptInt(*throughput, "ProvisionedReadCapacityUnits"),
                                  OptInt(*throughput, "ProvisionedWriteCapacityUnits")};
      ASSIGN_OR_RETURN(updated, catalog_->UpdateThroughput(name, u));
    }
    return ArnResponse(updated->arn);
  }

  StatusOr<std::string> Delete(const Value& in) {
    RETURN_IF_ERROR(catalog_->DeleteGroup(String(in, "FeatureGroupName")));
    return std::string(kEmptyObject);
  }

  StatusOr<std::string> DescribeMetadata(const Value& in) {
    ASSIGN_OR_RETURN(GroupPtr g, catalog_->Lookup(String(in, "FeatureGroupName")));
    std::string feature = String(in, "FeatureName");
    const FeatureDefinition* f = g->FindFeature(feature);
    if (f == nullptr) {
      return Status::NotFound(
          "Resource Not Found: Amazon SageMaker can't find a Feature with name " + feature +
          " in FeatureGroup " + g->name);
    }
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    WriteFeatureMetadata(w, *g, *f);
    w.EndObject();
    return Done(buf);
  }

  StatusOr<std::string> UpdateMetadata(const Value& in) {
    catalog::Catalog::FeatureMetadataUpdate u;
    u.description = OptString(in, "Description");
    if (const Value* adds = Member(in, "ParameterAdditions")) {
      for (const Value& p : adds->GetArray()) {
        std::optional<std::string> key = OptString(p, "Key");
        std::optional<std::string> value = OptString(p, "Value");
        if (!key.has_value() || !value.has_value()) {
          return Status::InvalidArgument(
              "every ParameterAdditions entry needs both Key and Value, but one has only " +
              (key.has_value()     ? "Key '" + *key + "'"
               : value.has_value() ? "Value '" + *value + "'"
                                   : std::string("neither")));
        }
        u.parameter_additions.emplace_back(*key, *value);
      }
    }
    if (const Value* removals = Member(in, "ParameterRemovals")) {
      for (const Value& k : removals->GetArray()) {
        u.parameter_removals.emplace_back(k.GetString(), k.GetStringLength());
      }
    }
    RETURN_IF_ERROR(
        catalog_
            ->UpdateFeatureMetadata(String(in, "FeatureGroupName"), String(in, "FeatureName"), u)
            .status());
    return std::string(kEmptyObject);
  }

  StatusOr<std::string> Search(const Value& in) {
    catalog::SearchQuery q;
    q.resource = String(in, "Resource") == "FeatureMetadata"
                     ? catalog::SearchResource::kFeatureMetadata
                     : catalog::SearchResource::kFeatureGroup;
    if (const Value* e = Member(in, "SearchExpression")) {
      ASSIGN_OR_RETURN(catalog::SearchExpression expr, Expression(*e, 1));
      q.expression = std::move(expr);
    }
    q.sort_by = String(in, "SortBy");
    q.descending = OptString(in, "SortOrder").value_or("Descending") == "Descending";
    q.max_results = static_cast<size_t>(OptInt(in, "MaxResults").value_or(10));
    q.next_token = String(in, "NextToken");
    ASSIGN_OR_RETURN(catalog::SearchPage page, catalog::Search(*catalog_->Snapshot(), q));
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("Results");
    w.StartArray();
    for (const catalog::SearchHit& hit : page.hits) {
      w.StartObject();
      if (hit.feature_index < 0) {
        w.Key("FeatureGroup");
        w.StartObject();
        WriteGroupBody(w, *hit.group, /*describe=*/false);
        WriteTags(w, hit.group->tags);
        w.EndObject();
      } else {
        w.Key("FeatureMetadata");
        w.StartObject();
        WriteFeatureMetadata(w, *hit.group,
                             hit.group->features[static_cast<size_t>(hit.feature_index)]);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
    OptStr(w, "NextToken", page.next_token);
    w.Key("TotalHits");
    w.StartObject();
    w.Key("Value");
    w.Uint64(page.total_hits);
    Str(w, "Relation", "EqualTo");
    w.EndObject();
    w.EndObject();
    return Done(buf);
  }

  StatusOr<std::string> AddTags(const Value& in) {
    std::vector<std::pair<std::string, std::string>> tags = Tags(in, "Tags");
    RETURN_IF_ERROR(catalog_->AddTags(String(in, "ResourceArn"), tags).status());
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    WriteTags(w, tags);
    w.EndObject();
    return Done(buf);
  }

  StatusOr<std::string> ListTags(const Value& in) {
    ASSIGN_OR_RETURN(GroupPtr g, LookupTagged(String(in, "ResourceArn")));
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    WriteTags(w, g->tags);  // all of them (at most 50): the SDK never pages
    w.EndObject();
    return Done(buf);
  }

  StatusOr<std::string> DeleteTags(const Value& in) {
    std::vector<std::string> keys;
    for (const Value& k : Member(in, "TagKeys")->GetArray()) {
      keys.emplace_back(k.GetString(), k.GetStringLength());
    }
    RETURN_IF_ERROR(catalog_->DeleteTags(String(in, "ResourceArn"), keys).status());
    return std::string(kEmptyObject);
  }

  StatusOr<GroupPtr> LookupTagged(const std::string& arn) {
    if (arn.rfind("arn:", 0) != 0) {
      return Status::NotFound(
          "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name " + arn);
    }
    return catalog_->Lookup(arn);
  }

  catalog::Catalog* const catalog_;
  const SageMakerApiOptions& options_;
};

}  // namespace

SageMakerApi::SageMakerApi(catalog::Catalog* catalog, SageMakerApiOptions options,
                           std::unique_ptr<ServiceModel> model)
    : catalog_(catalog), options_(std::move(options)), model_(std::move(model)) {}

StatusOr<std::unique_ptr<SageMakerApi>> SageMakerApi::Create(catalog::Catalog* catalog,
                                                             SageMakerApiOptions options) {
  if (catalog == nullptr) return Status::InvalidArgument("SageMakerApi: catalog is null");
  ASSIGN_OR_RETURN(std::unique_ptr<ServiceModel> model, ServiceModel::Parse(SageMakerModelJson()));
  return std::unique_ptr<SageMakerApi>(
      new SageMakerApi(catalog, std::move(options), std::move(model)));
}

void SageMakerApi::Handle(const HttpRequest& req, HttpResponse* resp) {
  resp->content_type = "application/x-amz-json-1.1";
  const std::string* target = req.Header("x-amz-target");
  if (target == nullptr || target->rfind(kTargetPrefix, 0) != 0) {
    WriteError(400, "UnknownOperationException",
               "X-Amz-Target '" + (target != nullptr ? *target : std::string()) +
                   "' does not name a SageMaker operation",
               resp);
    return;
  }
  std::string op = target->substr(kTargetPrefix.size());
  if (!model_->HasOperation(op)) {
    WriteError(400, "UnknownOperationException",
               "Larder does not serve SageMaker operation '" + op +
                   "'; it serves the Feature Store operations (CreateFeatureGroup, "
                   "DescribeFeatureGroup, ListFeatureGroups, UpdateFeatureGroup, "
                   "DeleteFeatureGroup, DescribeFeatureMetadata, UpdateFeatureMetadata, Search, "
                   "AddTags, ListTags, DeleteTags)",
               resp);
    return;
  }
  resp->operation = op;
  rapidjson::Document doc;
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc.SetObject();
  } else {
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(
        req.body.data(), req.body.size());
    if (doc.HasParseError()) {
      WriteError(400, "SerializationException",
                 std::string("the request body is not valid JSON: ") +
                     rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                     std::to_string(doc.GetErrorOffset()),
                 resp);
      return;
    }
    if (!doc.IsObject()) {
      WriteError(400, "SerializationException", "the request body must be a JSON object", resp);
      return;
    }
  }
  Status valid = model_->ValidateInput(op, doc);
  if (!valid.ok()) {
    WriteStatus(Protocol::kControlPlane, valid, resp);
    return;
  }
  SageMakerOps ops(catalog_, options_);
  StatusOr<std::string> body = ops.Dispatch(op, doc);
  if (!body.ok()) {
    WriteStatus(Protocol::kControlPlane, body.status(), resp);
    return;
  }
  resp->status = 200;
  resp->body = std::move(body).value();
}

}  // namespace larder::server
