// FeatureGroup: the schema and configuration of one feature group, as the catalog stores it.
// A published FeatureGroup is immutable: readers hold std::shared_ptr<const FeatureGroup>
// and see a consistent version while the catalog publishes newer ones.
#ifndef LARDER_CATALOG_FEATURE_GROUP_H_
#define LARDER_CATALOG_FEATURE_GROUP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace larder::catalog {

enum class FeatureType { kIntegral, kFractional, kString };
enum class CollectionType { kNone, kList, kSet, kVector };
enum class TtlUnit { kSeconds, kMinutes, kHours, kDays, kWeeks };
enum class GroupStatus { kCreating, kCreated, kCreateFailed, kDeleting, kDeleteFailed };

std::string_view FeatureTypeName(FeatureType t);        // "Integral" ...
std::string_view CollectionTypeName(CollectionType t);  // "" for kNone, "List" ...
std::string_view TtlUnitName(TtlUnit u);                // "Seconds" ...
std::string_view GroupStatusName(GroupStatus s);        // "Creating" ...

// The inverses of the *Name functions above (exact, case-sensitive wire names); nullopt for
// anything else. CollectionTypeFromName("") is nullopt: absence is the caller's business.
std::optional<FeatureType> FeatureTypeFromName(std::string_view name);
std::optional<CollectionType> CollectionTypeFromName(std::string_view name);
std::optional<TtlUnit> TtlUnitFromName(std::string_view name);
std::optional<GroupStatus> GroupStatusFromName(std::string_view name);

struct TtlDuration {
  TtlUnit unit = TtlUnit::kSeconds;
  int64_t value = 0;  // >= 1
  int64_t Seconds() const;
};

// Per-feature metadata (DescribeFeatureMetadata / UpdateFeatureMetadata).
struct FeatureMetadata {
  std::string description;
  std::map<std::string, std::string> parameters;  // sorted by key
  double creation_time = 0;                       // epoch seconds
  double last_modified_time = 0;
};

struct FeatureDefinition {
  std::string name;
  FeatureType type = FeatureType::kString;
  CollectionType collection = CollectionType::kNone;
  int32_t vector_dimension = 0;  // > 0 only for kVector
  FeatureMetadata metadata;
};

struct FeatureGroup {
  // Internal id, assigned at create, never reused (not even after delete + re-create of the
  // same name). It keys the group's online data and offline outbox entries.
  uint64_t id = 0;
  std::string name;
  std::string arn;  // arn:aws:sagemaker:<region>:<account>:feature-group/<lowercased name>
  std::string record_identifier_name;
  std::string event_time_feature_name;
  std::vector<FeatureDefinition> features;  // in definition order; additions appended

  // OnlineStoreConfig
  bool has_online_store_config = false;
  bool online_enabled = false;
  std::string online_storage_type;  // "Standard" or "InMemory"; empty when not given
  std::string online_kms_key_id;
  std::optional<TtlDuration> ttl;  // group default TTL for records written from now on

  // OfflineStoreConfig
  bool offline_enabled = false;
  std::string s3_uri;
  std::string resolved_output_s3_uri;
  std::string offline_kms_key_id;
  bool disable_glue_table_creation = false;
  std::string data_catalog;   // "AwsDataCatalog"
  std::string data_database;  // "sagemaker_featurestore"
  std::string table_name;     // "<name>_<creation epoch seconds>"
  std::string table_format;   // "" unless given: "Default" | "Glue" | "Iceberg"

  // ThroughputConfig
  std::string throughput_mode = "OnDemand";
  std::optional<int64_t> provisioned_read_capacity_units;
  std::optional<int64_t> provisioned_write_capacity_units;
  // When the group last switched from Provisioned to OnDemand (epoch seconds; 0 = never): AWS
  // allows one such switch per 24 hours.
  double ondemand_switch_time = 0;

  std::string role_arn;
  std::string description;
  std::vector<std::pair<std::string, std::string>> tags;  // in insertion order
  double creation_time = 0;  // epoch seconds
  double last_modified_time = 0;
  GroupStatus status = GroupStatus::kCreating;
  std::string failure_reason;
  std::string last_update_status;  // "" | "Successful" | "Failed" | "InProgress"
  std::string last_update_failure_reason;

  // Index of the feature called `name` in `features`, or -1. O(1) after BuildIndex().
  int FeatureIndex(std::string_view name) const;
  const FeatureDefinition* FindFeature(std::string_view name) const;
  // Rebuilds the name -> index map; call after changing `features`.
  void BuildIndex();
  int record_identifier_index() const { return record_id_index_; }
  int event_time_index() const { return event_time_index_; }
  // OfflineStoreStatus.Status as Describe reports it: "Active" with an offline store, else "".
  std::string_view offline_store_status() const { return offline_enabled ? "Active" : ""; }

 private:
  std::unordered_map<std::string, int> index_;  // feature name -> position in features
  int record_id_index_ = -1;
  int event_time_index_ = -1;
};

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_FEATURE_GROUP_H_
