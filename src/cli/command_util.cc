#include "cli/command_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include "catalog/record.h"
#include "common/clock.h"
#include "common/status_macros.h"

namespace larder::cli {
namespace {

constexpr int kFirstPollMs = 50;
constexpr int kMaxPollMs = 1000;

}  // namespace

int Fail(std::string_view command, const Status& status) {
  fmt::print(stderr, "larder {}: {}\n", command, status.message());
  return 1;
}

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

const rapidjson::Value* GetMember(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string_view GetString(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = GetMember(obj, name);
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

double GetNumber(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = GetMember(obj, name);
  return v != nullptr && v->IsNumber() ? v->GetDouble() : 0;
}

bool GetBool(const rapidjson::Value& obj, const char* name) {
  const rapidjson::Value* v = GetMember(obj, name);
  return v != nullptr && v->IsBool() && v->GetBool();
}

StatusOr<catalog::FeatureGroup> GroupFromDescribe(const rapidjson::Value& d) {
  catalog::FeatureGroup g;
  g.name = std::string(GetString(d, "FeatureGroupName"));
  g.arn = std::string(GetString(d, "FeatureGroupArn"));
  g.record_identifier_name = std::string(GetString(d, "RecordIdentifierFeatureName"));
  g.event_time_feature_name = std::string(GetString(d, "EventTimeFeatureName"));
  g.description = std::string(GetString(d, "Description"));
  g.creation_time = GetNumber(d, "CreationTime");
  if (auto s = catalog::GroupStatusFromName(GetString(d, "FeatureGroupStatus")); s.has_value()) {
    g.status = *s;
  }
  const rapidjson::Value* defs = GetMember(d, "FeatureDefinitions");
  if (g.name.empty() || g.record_identifier_name.empty() || g.event_time_feature_name.empty() ||
      defs == nullptr || !defs->IsArray()) {
    return Status::InvalidArgument(
        "DescribeFeatureGroup's reply lacks the group's name, record identifier, event time or "
        "feature definitions");
  }
  for (const rapidjson::Value& def : defs->GetArray()) {
    catalog::FeatureDefinition f;
    f.name = std::string(GetString(def, "FeatureName"));
    const std::string_view type = GetString(def, "FeatureType");
    auto t = catalog::FeatureTypeFromName(type);
    if (!t) {
      return Status::InvalidArgument(
          fmt::format("feature '{}' has an unknown FeatureType '{}'", f.name, type));
    }
    f.type = *t;
    if (const std::string_view c = GetString(def, "CollectionType"); !c.empty()) {
      auto ct = catalog::CollectionTypeFromName(c);
      if (!ct) {
        return Status::InvalidArgument(
            fmt::format("feature '{}' has an unknown CollectionType '{}'", f.name, c));
      }
      f.collection = *ct;
    }
    if (const rapidjson::Value* cc = GetMember(def, "CollectionConfig")) {
      if (const rapidjson::Value* vc = GetMember(*cc, "VectorConfig")) {
        f.vector_dimension = static_cast<int32_t>(GetNumber(*vc, "Dimension"));
      }
    }
    g.features.push_back(std::move(f));
  }
  if (const rapidjson::Value* on = GetMember(d, "OnlineStoreConfig")) {
    g.has_online_store_config = true;
    g.online_enabled = GetBool(*on, "EnableOnlineStore");
    g.online_storage_type = std::string(GetString(*on, "StorageType"));
    if (const rapidjson::Value* ttl = GetMember(*on, "TtlDuration")) {
      if (auto unit = catalog::TtlUnitFromName(GetString(*ttl, "Unit")); unit.has_value()) {
        g.ttl = catalog::TtlDuration{*unit, static_cast<int64_t>(GetNumber(*ttl, "Value"))};
      }
    }
  }
  if (const rapidjson::Value* off = GetMember(d, "OfflineStoreConfig")) {
    g.offline_enabled = true;
    if (const rapidjson::Value* s3 = GetMember(*off, "S3StorageConfig")) {
      g.s3_uri = std::string(GetString(*s3, "S3Uri"));
      g.resolved_output_s3_uri = std::string(GetString(*s3, "ResolvedOutputS3Uri"));
    }
    if (const rapidjson::Value* dc = GetMember(*off, "DataCatalogConfig")) {
      g.data_catalog = std::string(GetString(*dc, "Catalog"));
      g.data_database = std::string(GetString(*dc, "Database"));
      g.table_name = std::string(GetString(*dc, "TableName"));
    }
    g.table_format = std::string(GetString(*off, "TableFormat"));
  }
  g.BuildIndex();
  if (g.record_identifier_index() < 0 || g.event_time_index() < 0) {
    return Status::InvalidArgument(fmt::format(
        "feature group '{}' does not define its record identifier '{}' or event time '{}'", g.name,
        g.record_identifier_name, g.event_time_feature_name));
  }
  return g;
}

StatusOr<rapidjson::Document> DescribeGroup(AwsClient* client, std::string_view name) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  w.Key("FeatureGroupName");
  WriteString(w, name);
  w.EndObject();
  return client->SageMaker("DescribeFeatureGroup", {sb.GetString(), sb.GetSize()});
}

StatusOr<rapidjson::Document> WaitWhileStatus(AwsClient* client, std::string_view name,
                                              std::string_view transitional,
                                              double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  int poll_ms = kFirstPollMs;
  while (true) {
    ASSIGN_OR_RETURN(rapidjson::Document d, DescribeGroup(client, name));
    const std::string_view status = GetString(d, "FeatureGroupStatus");
    if (status != transitional) return d;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded(
          fmt::format("feature group '{}' is still {} after {} s (--wait-timeout)", name, status,
                      timeout_seconds));
    }
    // Polling the server's state, as the SDK does (botocore has no feature-group waiter).
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    poll_ms = std::min(poll_ms * 2, kMaxPollMs);
  }
}

std::string NowEventTime(catalog::FeatureType type) {
  const int64_t micros = Clock::Real()->NowMicros();
  if (type == catalog::FeatureType::kString) return catalog::FormatIsoMillis(micros);
  return catalog::FormatEventTimeLike(catalog::FeatureType::kFractional, "0", micros / 1000 * 1000);
}

StatusOr<catalog::TtlDuration> ParseTtl(std::string_view text, std::string_view flag) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format(
        "{} must be a number followed by s, m, h, d or w (e.g. 7d, 12h), got '{}'", flag, text));
  };
  if (text.size() < 2) return bad();
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, value);
  if (ec != std::errc() || ptr != text.data() + text.size() - 1 || value < 1) return bad();
  catalog::TtlUnit unit;
  switch (text.back()) {
    case 's':
      unit = catalog::TtlUnit::kSeconds;
      break;
    case 'm':
      unit = catalog::TtlUnit::kMinutes;
      break;
    case 'h':
      unit = catalog::TtlUnit::kHours;
      break;
    case 'd':
      unit = catalog::TtlUnit::kDays;
      break;
    case 'w':
      unit = catalog::TtlUnit::kWeeks;
      break;
    default:
      return bad();
  }
  return catalog::TtlDuration{unit, value};
}

}  // namespace larder::cli
