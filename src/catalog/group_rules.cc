#include "catalog/group_rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "common/status_macros.h"

namespace larder::catalog {
namespace {

constexpr std::string_view kReservedNames[] = {"is_deleted", "write_time", "api_invocation_time"};
constexpr std::string_view kPartitionNames[] = {"year", "month", "day", "hour"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool InMemory(const FeatureGroup& g) { return g.online_storage_type == "InMemory"; }

bool UsesGlueLayout(const FeatureGroup& g) {
  return g.offline_enabled && g.table_format != "Iceberg";
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// Rules for one feature definition that hold wherever it appears (create or addition).
// `field` names the list member in messages, e.g. "FeatureDefinitions" or "FeatureAdditions".
Status CheckFeature(const FeatureGroup& g, const FeatureDefinition& f, std::string_view field) {
  if (IsReservedFeatureName(f.name)) {
    return Status::InvalidArgument(
        std::string(field) + " contains feature " + Quote(f.name) +
        ", a reserved name: feature names may not be is_deleted, write_time or "
        "api_invocation_time (in any letter case)");
  }
  if (UsesGlueLayout(g) && IsPartitionColumnName(f.name)) {
    return Status::InvalidArgument(
        std::string(field) + " contains feature " + Quote(f.name) +
        ", which collides with the offline store's partition columns year, month, day and "
        "hour; rename it or use TableFormat Iceberg");
  }
  if (f.collection == CollectionType::kNone) {
    if (f.vector_dimension != 0) {
      return Status::InvalidArgument("Feature " + Quote(f.name) +
                                     " has a CollectionConfig but no CollectionType Vector");
    }
    return Status::OK();
  }
  std::string ctype(CollectionTypeName(f.collection));
  if (!g.online_enabled || !InMemory(g)) {
    return Status::InvalidArgument(
        "Feature " + Quote(f.name) + " has CollectionType " + ctype +
        ", which requires an online store with StorageType InMemory (the group has " +
        (g.online_enabled
             ? "StorageType " +
                   (g.online_storage_type.empty() ? std::string("Standard") : g.online_storage_type)
             : std::string("no online store")) +
        ")");
  }
  if (f.collection == CollectionType::kVector) {
    if (f.type != FeatureType::kFractional) {
      return Status::InvalidArgument("Feature " + Quote(f.name) +
                                     " has CollectionType Vector, which needs FeatureType "
                                     "Fractional, but its FeatureType is " +
                                     std::string(FeatureTypeName(f.type)));
    }
    if (f.vector_dimension <= 0) {
      return Status::InvalidArgument("Feature " + Quote(f.name) +
                                     " has CollectionType Vector but no "
                                     "CollectionConfig.VectorConfig.Dimension");
    }
  } else if (f.vector_dimension != 0) {
    return Status::InvalidArgument("Feature " + Quote(f.name) + " has CollectionType " + ctype +
                                   ", but CollectionConfig.VectorConfig applies only to "
                                   "CollectionType Vector");
  }
  return Status::OK();
}

// Rules across all features of `g` (after additions): unique names, one Vector at most.
Status CheckFeatureSet(const FeatureGroup& g) {
  std::set<std::string> seen;
  const FeatureDefinition* vector = nullptr;
  for (const FeatureDefinition& f : g.features) {
    if (!seen.insert(Lower(f.name)).second) {
      return Status::InvalidArgument(
          "Feature name " + Quote(f.name) +
          " appears more than once (feature names must be unique, ignoring letter case)");
    }
    if (f.collection == CollectionType::kVector) {
      if (vector != nullptr) {
        return Status::InvalidArgument("Features " + Quote(vector->name) + " and " + Quote(f.name) +
                                       " both have CollectionType Vector; a feature group may "
                                       "have at most one Vector feature");
      }
      vector = &f;
    }
  }
  return Status::OK();
}

Status CheckCapacity(std::string_view field, const std::optional<int64_t>& units) {
  if (!units.has_value()) return Status::OK();
  if (*units < 0) {
    return Status::InvalidArgument(std::string(field) + " " + std::to_string(*units) +
                                   " is negative");
  }
  if (*units > kMaxCapacityUnits) {
    return Status::ResourceExhausted(std::string(field) + " " + std::to_string(*units) +
                                     " exceeds the per-feature-group limit of " +
                                     std::to_string(kMaxCapacityUnits));
  }
  return Status::OK();
}

// The throughput rules for a complete (mode, rcu, wcu) setting of group `g`.
Status CheckThroughput(const FeatureGroup& g, const std::string& mode,
                       const std::optional<int64_t>& rcu, const std::optional<int64_t>& wcu) {
  if (mode != "OnDemand" && mode != "Provisioned") {
    return Status::InvalidArgument("ThroughputConfig.ThroughputMode " + Quote(mode) +
                                   " is not one of OnDemand, Provisioned");
  }
  if (mode == "OnDemand") {
    if (rcu.has_value() || wcu.has_value()) {
      return Status::InvalidArgument(
          "ThroughputConfig.ProvisionedReadCapacityUnits and ProvisionedWriteCapacityUnits may "
          "be set only with ThroughputMode Provisioned, but ThroughputMode is OnDemand");
    }
    return Status::OK();
  }
  if (g.online_enabled && InMemory(g)) {
    return Status::InvalidArgument(
        "ThroughputConfig.ThroughputMode Provisioned is not supported for an online store with "
        "StorageType InMemory");
  }
  RETURN_IF_ERROR(CheckCapacity("ThroughputConfig.ProvisionedReadCapacityUnits", rcu));
  RETURN_IF_ERROR(CheckCapacity("ThroughputConfig.ProvisionedWriteCapacityUnits", wcu));
  if (!wcu.has_value()) {
    return Status::InvalidArgument(
        "ThroughputConfig.ThroughputMode Provisioned requires ProvisionedWriteCapacityUnits");
  }
  if (g.online_enabled && !rcu.has_value()) {
    return Status::InvalidArgument(
        "ThroughputConfig.ThroughputMode Provisioned requires ProvisionedReadCapacityUnits for a "
        "group with an online store");
  }
  if (!g.online_enabled && rcu.has_value()) {
    return Status::InvalidArgument(
        "ThroughputConfig.ProvisionedReadCapacityUnits " + std::to_string(*rcu) +
        " applies only to a group with an online store, and this group has none");
  }
  return Status::OK();
}

}  // namespace

bool IsReservedFeatureName(std::string_view name) {
  std::string lower = Lower(name);
  return std::find(std::begin(kReservedNames), std::end(kReservedNames), lower) !=
         std::end(kReservedNames);
}

bool IsPartitionColumnName(std::string_view name) {
  std::string lower = Lower(name);
  return std::find(std::begin(kPartitionNames), std::end(kPartitionNames), lower) !=
         std::end(kPartitionNames);
}

Status ValidateNewGroup(const FeatureGroup& g) {
  if (g.features.empty()) {
    return Status::InvalidArgument("FeatureDefinitions must define at least one feature");
  }
  if (g.features.size() > kMaxFeaturesPerGroup) {
    return Status::ResourceExhausted("FeatureDefinitions has " + std::to_string(g.features.size()) +
                                     " features; a feature group may have at most " +
                                     std::to_string(kMaxFeaturesPerGroup));
  }
  // Store configuration first: the per-feature rules depend on it.
  if (!g.online_enabled && !g.offline_enabled) {
    return Status::InvalidArgument(
        "FeatureGroup " + Quote(g.name) +
        " needs a store: give OfflineStoreConfig, or OnlineStoreConfig with EnableOnlineStore "
        "true (or both)");
  }
  if (!g.online_storage_type.empty() && g.online_storage_type != "Standard" &&
      g.online_storage_type != "InMemory") {
    return Status::InvalidArgument("OnlineStoreConfig.StorageType " + Quote(g.online_storage_type) +
                                   " is not one of Standard, InMemory");
  }
  if (InMemory(g) && !g.online_enabled) {
    return Status::InvalidArgument(
        "OnlineStoreConfig.StorageType InMemory requires EnableOnlineStore true");
  }
  if (g.ttl.has_value()) {
    if (!g.online_enabled) {
      return Status::InvalidArgument(
          "OnlineStoreConfig.TtlDuration applies to the online store, but EnableOnlineStore is "
          "not true");
    }
    if (g.ttl->value < 1) {
      return Status::InvalidArgument("OnlineStoreConfig.TtlDuration.Value " +
                                     std::to_string(g.ttl->value) + " must be at least 1");
    }
  }
  if (g.offline_enabled) {
    if (!g.table_format.empty() && g.table_format != "Default" && g.table_format != "Glue" &&
        g.table_format != "Iceberg") {
      return Status::InvalidArgument("OfflineStoreConfig.TableFormat " + Quote(g.table_format) +
                                     " is not one of Default, Glue, Iceberg");
    }
    if (g.table_format == "Iceberg" && g.disable_glue_table_creation) {
      return Status::InvalidArgument(
          "OfflineStoreConfig.DisableGlueTableCreation must be false with TableFormat Iceberg");
    }
  }
  RETURN_IF_ERROR(CheckThroughput(g, g.throughput_mode, g.provisioned_read_capacity_units,
                                  g.provisioned_write_capacity_units));

  for (const FeatureDefinition& f : g.features) {
    RETURN_IF_ERROR(CheckFeature(g, f, "FeatureDefinitions"));
  }
  RETURN_IF_ERROR(CheckFeatureSet(g));

  auto find = [&](const std::string& name) -> const FeatureDefinition* {
    for (const FeatureDefinition& f : g.features) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  const FeatureDefinition* id = find(g.record_identifier_name);
  if (id == nullptr) {
    return Status::InvalidArgument("RecordIdentifierFeatureName " +
                                   Quote(g.record_identifier_name) +
                                   " is not one of the FeatureDefinitions");
  }
  if (id->type == FeatureType::kFractional) {
    return Status::InvalidArgument("RecordIdentifierFeatureName " + Quote(id->name) +
                                   " has FeatureType Fractional; the record identifier must be "
                                   "Integral or String");
  }
  if (id->collection != CollectionType::kNone) {
    return Status::InvalidArgument("RecordIdentifierFeatureName " + Quote(id->name) +
                                   " has CollectionType " +
                                   std::string(CollectionTypeName(id->collection)) +
                                   "; the record identifier must be a scalar");
  }
  const FeatureDefinition* et = find(g.event_time_feature_name);
  if (et == nullptr) {
    return Status::InvalidArgument("EventTimeFeatureName " + Quote(g.event_time_feature_name) +
                                   " is not one of the FeatureDefinitions");
  }
  if (et->type == FeatureType::kIntegral) {
    return Status::InvalidArgument("EventTimeFeatureName " + Quote(et->name) +
                                   " has FeatureType Integral; the event time must be String "
                                   "(ISO-8601) or Fractional (Unix seconds)");
  }
  if (et->collection != CollectionType::kNone) {
    return Status::InvalidArgument(
        "EventTimeFeatureName " + Quote(et->name) + " has CollectionType " +
        std::string(CollectionTypeName(et->collection)) + "; the event time must be a scalar");
  }
  if (id == et) {
    return Status::InvalidArgument(
        "RecordIdentifierFeatureName and EventTimeFeatureName are "
        "both " +
        Quote(id->name) + "; they must be different features");
  }
  if (g.offline_enabled && g.table_format == "Iceberg" && et->type != FeatureType::kString) {
    return Status::InvalidArgument("EventTimeFeatureName " + Quote(et->name) +
                                   " has FeatureType Fractional; TableFormat Iceberg needs a "
                                   "String event time");
  }
  return ValidateTags({}, g.tags);
}

Status ValidateFeatureAdditions(const FeatureGroup& g,
                                const std::vector<FeatureDefinition>& additions) {
  if (additions.empty()) {
    return Status::InvalidArgument("FeatureAdditions must contain at least one feature");
  }
  if (additions.size() > kMaxFeatureAdditions) {
    return Status::InvalidArgument("FeatureAdditions has " + std::to_string(additions.size()) +
                                   " features; at most " + std::to_string(kMaxFeatureAdditions) +
                                   " can be added per UpdateFeatureGroup call");
  }
  for (const FeatureDefinition& f : additions) {
    if (const FeatureDefinition* old = g.FindFeature(f.name)) {
      return Status::InvalidArgument("FeatureAdditions contains feature " + Quote(f.name) +
                                     ", which FeatureGroup " + Quote(g.name) + " already has (as " +
                                     std::string(FeatureTypeName(old->type)) +
                                     "); features cannot be redefined, renamed or removed");
    }
    RETURN_IF_ERROR(CheckFeature(g, f, "FeatureAdditions"));
  }
  FeatureGroup merged = g;
  merged.features.insert(merged.features.end(), additions.begin(), additions.end());
  if (merged.features.size() > kMaxFeaturesPerGroup) {
    return Status::ResourceExhausted(
        "FeatureGroup " + Quote(g.name) + " has " + std::to_string(g.features.size()) +
        " features; adding " + std::to_string(additions.size()) + " would exceed the limit of " +
        std::to_string(kMaxFeaturesPerGroup) + " features per feature group");
  }
  return CheckFeatureSet(merged);
}

Status ValidateTtlUpdate(const FeatureGroup& g, const std::optional<TtlDuration>& ttl) {
  if (!g.online_enabled) {
    return Status::InvalidArgument(
        "OnlineStoreConfig.TtlDuration cannot be updated: FeatureGroup " + Quote(g.name) +
        " has no online store");
  }
  if (ttl.has_value() && ttl->value < 1) {
    return Status::InvalidArgument("OnlineStoreConfig.TtlDuration.Value " +
                                   std::to_string(ttl->value) + " must be at least 1");
  }
  return Status::OK();
}

Status ApplyThroughputUpdate(const FeatureGroup& g, const ThroughputUpdate& u, double now_seconds,
                             FeatureGroup* out) {
  if (!u.mode.has_value() && !u.read_capacity_units.has_value() &&
      !u.write_capacity_units.has_value()) {
    return Status::InvalidArgument(
        "ThroughputConfig must set at least one of ThroughputMode, ProvisionedReadCapacityUnits "
        "and ProvisionedWriteCapacityUnits");
  }
  std::string mode = u.mode.value_or(g.throughput_mode);
  std::optional<int64_t> rcu = u.read_capacity_units;
  std::optional<int64_t> wcu = u.write_capacity_units;
  if (mode == "Provisioned" && g.throughput_mode == "Provisioned") {
    if (!rcu.has_value()) rcu = g.provisioned_read_capacity_units;
    if (!wcu.has_value()) wcu = g.provisioned_write_capacity_units;
  }
  RETURN_IF_ERROR(CheckThroughput(g, mode, rcu, wcu));
  double switch_time = g.ondemand_switch_time;
  if (mode == "OnDemand" && g.throughput_mode == "Provisioned") {
    if (switch_time > 0 && now_seconds - switch_time < kOnDemandSwitchIntervalSeconds) {
      double wait_hours = (kOnDemandSwitchIntervalSeconds - (now_seconds - switch_time)) / 3600;
      return Status::InvalidArgument(
          "FeatureGroup " + Quote(g.name) +
          " switched to ThroughputMode OnDemand less than 24 hours ago; it may switch to "
          "OnDemand once per 24 hours (try again in " +
          std::to_string(static_cast<int64_t>(std::ceil(wait_hours))) + " hours)");
    }
    switch_time = now_seconds;
  }
  *out = g;
  out->throughput_mode = mode;
  out->provisioned_read_capacity_units = rcu;
  out->provisioned_write_capacity_units = wcu;
  out->ondemand_switch_time = switch_time;
  return Status::OK();
}

Status ValidateTags(const std::vector<std::pair<std::string, std::string>>& existing,
                    const std::vector<std::pair<std::string, std::string>>& added) {
  std::set<std::string> keys;
  for (const auto& [k, v] : added) {
    if (Lower(k).rfind("aws:", 0) == 0) {
      return Status::InvalidArgument("Tag key " + Quote(k) +
                                     " uses the prefix 'aws:', which is reserved for AWS use");
    }
    if (!keys.insert(k).second) {
      return Status::InvalidArgument("Tag key " + Quote(k) +
                                     " appears more than once; tag keys must be unique");
    }
  }
  size_t total = keys.size();
  for (const auto& [k, v] : existing) {
    if (!keys.count(k)) ++total;
  }
  if (total > kMaxTagsPerResource) {
    return Status::ResourceExhausted("Adding these tags would give the resource " +
                                     std::to_string(total) + " tags; the limit is " +
                                     std::to_string(kMaxTagsPerResource));
  }
  return Status::OK();
}

}  // namespace larder::catalog
