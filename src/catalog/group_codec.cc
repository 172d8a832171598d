#include "catalog/group_codec.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace larder::catalog {
namespace {

constexpr int kFormatVersion = 1;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void WriteStringPairs(Writer& w, const char* key,
                      const std::vector<std::pair<std::string, std::string>>& pairs) {
  w.Key(key);
  w.StartArray();
  for (const auto& [k, v] : pairs) {
    w.StartArray();
    w.String(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    w.EndArray();
  }
  w.EndArray();
}

// Reads typed members out of one JSON object, remembering the first problem so the caller
// checks once at the end (a missing or mistyped member is corruption of the whole document).
class ObjectReader {
 public:
  ObjectReader(const rapidjson::Value& v, std::string* error) : v_(v), error_(error) {}

  const rapidjson::Value* Get(const char* key) {
    auto it = v_.FindMember(key);
    if (it == v_.MemberEnd()) {
      Fail(std::string("missing member '") + key + "'");
      return nullptr;
    }
    return &it->value;
  }
  std::string String(const char* key) {
    const rapidjson::Value* m = Get(key);
    if (m == nullptr) return "";
    if (!m->IsString()) {
      Fail(std::string("member '") + key + "' is not a string");
      return "";
    }
    return std::string(m->GetString(), m->GetStringLength());
  }
  bool Bool(const char* key) {
    const rapidjson::Value* m = Get(key);
    if (m == nullptr) return false;
    if (!m->IsBool()) {
      Fail(std::string("member '") + key + "' is not a bool");
      return false;
    }
    return m->GetBool();
  }
  double Double(const char* key) {
    const rapidjson::Value* m = Get(key);
    if (m == nullptr) return 0;
    if (!m->IsNumber()) {
      Fail(std::string("member '") + key + "' is not a number");
      return 0;
    }
    return m->GetDouble();
  }
  int64_t Int(const char* key) {
    const rapidjson::Value* m = Get(key);
    if (m == nullptr) return 0;
    if (!m->IsInt64()) {
      Fail(std::string("member '") + key + "' is not an integer");
      return 0;
    }
    return m->GetInt64();
  }
  std::optional<int64_t> OptionalInt(const char* key) {
    auto it = v_.FindMember(key);
    if (it == v_.MemberEnd() || it->value.IsNull()) return std::nullopt;
    if (!it->value.IsInt64()) {
      Fail(std::string("member '") + key + "' is not an integer");
      return 0;
    }
    return it->value.GetInt64();
  }
  const rapidjson::Value* Array(const char* key) {
    const rapidjson::Value* m = Get(key);
    if (m == nullptr) return nullptr;
    if (!m->IsArray()) {
      Fail(std::string("member '") + key + "' is not an array");
      return nullptr;
    }
    return m;
  }
  std::vector<std::pair<std::string, std::string>> StringPairs(const char* key) {
    std::vector<std::pair<std::string, std::string>> out;
    const rapidjson::Value* a = Array(key);
    if (a == nullptr) return out;
    for (const auto& e : a->GetArray()) {
      if (!e.IsArray() || e.Size() != 2 || !e[0].IsString() || !e[1].IsString()) {
        Fail(std::string("member '") + key + "' holds a malformed pair");
        return out;
      }
      out.emplace_back(std::string(e[0].GetString(), e[0].GetStringLength()),
                       std::string(e[1].GetString(), e[1].GetStringLength()));
    }
    return out;
  }
  void Fail(std::string message) {
    if (error_->empty()) *error_ = std::move(message);
  }

 private:
  const rapidjson::Value& v_;
  std::string* error_;
};

}  // namespace

std::string EncodeGroup(const FeatureGroup& g) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("format_version");
  w.Int(kFormatVersion);
  w.Key("id");
  w.Uint64(g.id);
  Str(w, "name", g.name);
  Str(w, "arn", g.arn);
  Str(w, "record_identifier_name", g.record_identifier_name);
  Str(w, "event_time_feature_name", g.event_time_feature_name);
  w.Key("features");
  w.StartArray();
  for (const FeatureDefinition& f : g.features) {
    w.StartObject();
    Str(w, "name", f.name);
    Str(w, "type", FeatureTypeName(f.type));
    Str(w, "collection", CollectionTypeName(f.collection));
    w.Key("vector_dimension");
    w.Int(f.vector_dimension);
    Str(w, "description", f.metadata.description);
    std::vector<std::pair<std::string, std::string>> params(f.metadata.parameters.begin(),
                                                            f.metadata.parameters.end());
    WriteStringPairs(w, "parameters", params);
    w.Key("creation_time");
    w.Double(f.metadata.creation_time);
    w.Key("last_modified_time");
    w.Double(f.metadata.last_modified_time);
    w.EndObject();
  }
  w.EndArray();
  w.Key("has_online_store_config");
  w.Bool(g.has_online_store_config);
  w.Key("online_enabled");
  w.Bool(g.online_enabled);
  Str(w, "online_storage_type", g.online_storage_type);
  Str(w, "online_kms_key_id", g.online_kms_key_id);
  if (g.ttl.has_value()) {
    w.Key("ttl");
    w.StartObject();
    Str(w, "unit", TtlUnitName(g.ttl->unit));
    w.Key("value");
    w.Int64(g.ttl->value);
    w.EndObject();
  }
  w.Key("offline_enabled");
  w.Bool(g.offline_enabled);
  Str(w, "s3_uri", g.s3_uri);
  Str(w, "resolved_output_s3_uri", g.resolved_output_s3_uri);
  Str(w, "offline_kms_key_id", g.offline_kms_key_id);
  w.Key("disable_glue_table_creation");
  w.Bool(g.disable_glue_table_creation);
  Str(w, "data_catalog", g.data_catalog);
  Str(w, "data_database", g.data_database);
  Str(w, "table_name", g.table_name);
  Str(w, "table_format", g.table_format);
  Str(w, "throughput_mode", g.throughput_mode);
  if (g.provisioned_read_capacity_units.has_value()) {
    w.Key("provisioned_read_capacity_units");
    w.Int64(*g.provisioned_read_capacity_units);
  }
  if (g.provisioned_write_capacity_units.has_value()) {
    w.Key("provisioned_write_capacity_units");
    w.Int64(*g.provisioned_write_capacity_units);
  }
  w.Key("ondemand_switch_time");
  w.Double(g.ondemand_switch_time);
  Str(w, "role_arn", g.role_arn);
  Str(w, "description", g.description);
  WriteStringPairs(w, "tags", g.tags);
  w.Key("creation_time");
  w.Double(g.creation_time);
  w.Key("last_modified_time");
  w.Double(g.last_modified_time);
  Str(w, "status", GroupStatusName(g.status));
  Str(w, "failure_reason", g.failure_reason);
  Str(w, "last_update_status", g.last_update_status);
  Str(w, "last_update_failure_reason", g.last_update_failure_reason);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<FeatureGroup> DecodeGroup(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Status::Corruption(std::string(what) + ": not valid JSON at offset " +
                              std::to_string(doc.GetErrorOffset()) + ": " +
                              rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Status::Corruption(std::string(what) + ": not a JSON object");
  std::string error;
  ObjectReader r(doc, &error);
  int64_t version = r.Int("format_version");
  if (error.empty() && version != kFormatVersion) {
    return Status::Corruption(std::string(what) + ": unknown format_version " +
                              std::to_string(version));
  }
  FeatureGroup g;
  const rapidjson::Value* id = r.Get("id");
  if (id != nullptr && id->IsUint64()) {
    g.id = id->GetUint64();
  } else {
    r.Fail("member 'id' is not an unsigned integer");
  }
  g.name = r.String("name");
  g.arn = r.String("arn");
  g.record_identifier_name = r.String("record_identifier_name");
  g.event_time_feature_name = r.String("event_time_feature_name");
  if (const rapidjson::Value* features = r.Array("features")) {
    for (const auto& fv : features->GetArray()) {
      if (!fv.IsObject()) {
        r.Fail("a feature is not an object");
        break;
      }
      ObjectReader fr(fv, &error);
      FeatureDefinition f;
      f.name = fr.String("name");
      std::string type = fr.String("type");
      std::string collection = fr.String("collection");
      f.vector_dimension = static_cast<int32_t>(fr.Int("vector_dimension"));
      f.metadata.description = fr.String("description");
      for (auto& [k, v] : fr.StringPairs("parameters")) f.metadata.parameters[k] = v;
      f.metadata.creation_time = fr.Double("creation_time");
      f.metadata.last_modified_time = fr.Double("last_modified_time");
      std::optional<FeatureType> t = FeatureTypeFromName(type);
      if (!t.has_value()) fr.Fail("feature '" + f.name + "' has unknown type '" + type + "'");
      f.type = t.value_or(FeatureType::kString);
      if (!collection.empty()) {
        std::optional<CollectionType> c = CollectionTypeFromName(collection);
        if (!c.has_value()) {
          fr.Fail("feature '" + f.name + "' has unknown collection '" + collection + "'");
        }
        f.collection = c.value_or(CollectionType::kNone);
      }
      g.features.push_back(std::move(f));
    }
  }
  g.has_online_store_config = r.Bool("has_online_store_config");
  g.online_enabled = r.Bool("online_enabled");
  g.online_storage_type = r.String("online_storage_type");
  g.online_kms_key_id = r.String("online_kms_key_id");
  const rapidjson::Value& root = doc;
  if (auto it = root.FindMember("ttl"); it != root.MemberEnd()) {
    if (!it->value.IsObject()) {
      r.Fail("member 'ttl' is not an object");
    } else {
      ObjectReader tr(it->value, &error);
      std::string unit = tr.String("unit");
      int64_t value = tr.Int("value");
      std::optional<TtlUnit> u = TtlUnitFromName(unit);
      if (!u.has_value()) tr.Fail("unknown ttl unit '" + unit + "'");
      g.ttl = TtlDuration{u.value_or(TtlUnit::kSeconds), value};
    }
  }
  g.offline_enabled = r.Bool("offline_enabled");
  g.s3_uri = r.String("s3_uri");
  g.resolved_output_s3_uri = r.String("resolved_output_s3_uri");
  g.offline_kms_key_id = r.String("offline_kms_key_id");
  g.disable_glue_table_creation = r.Bool("disable_glue_table_creation");
  g.data_catalog = r.String("data_catalog");
  g.data_database = r.String("data_database");
  g.table_name = r.String("table_name");
  g.table_format = r.String("table_format");
  g.throughput_mode = r.String("throughput_mode");
  g.provisioned_read_capacity_units = r.OptionalInt("provisioned_read_capacity_units");
  g.provisioned_write_capacity_units = r.OptionalInt("provisioned_write_capacity_units");
  g.ondemand_switch_time = r.Double("ondemand_switch_time");
  g.role_arn = r.String("role_arn");
  g.description = r.String("description");
  g.tags = r.StringPairs("tags");
  g.creation_time = r.Double("creation_time");
  g.last_modified_time = r.Double("last_modified_time");
  std::string status = r.String("status");
  std::optional<GroupStatus> s = GroupStatusFromName(status);
  if (error.empty() && !s.has_value()) r.Fail("unknown status '" + status + "'");
  g.status = s.value_or(GroupStatus::kCreating);
  g.failure_reason = r.String("failure_reason");
  g.last_update_status = r.String("last_update_status");
  g.last_update_failure_reason = r.String("last_update_failure_reason");
  if (!error.empty()) return Status::Corruption(std::string(what) + ": " + error);
  g.BuildIndex();
  return g;
}

}  // namespace larder::catalog
