// The semantic rules of feature-group definitions and updates (spec 3.1, 3.2, 3.7): what the
// service model's shapes cannot express. The Catalog applies them to every create and update,
// whoever the caller is; the protocol layer checks shapes (lengths, patterns, enums) first.
//
// Every failure is InvalidArgument (ValidationException) naming the field and the value,
// except quota overruns, which are ResourceExhausted (ResourceLimitExceeded).
//
// Thread-safety: pure functions.
#ifndef LARDER_CATALOG_GROUP_RULES_H_
#define LARDER_CATALOG_GROUP_RULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::catalog {

inline constexpr size_t kMaxFeaturesPerGroup = 2500;  // AWS quota
inline constexpr size_t kMaxFeatureAdditions = 100;   // per UpdateFeatureGroup
inline constexpr int64_t kMaxCapacityUnits = 40000;   // provisioned RCU/WCU per group
inline constexpr size_t kMaxTagsPerResource = 50;
inline constexpr size_t kMaxFeatureParameters = 25;
inline constexpr double kOnDemandSwitchIntervalSeconds = 24 * 3600;

// Names every offline table carries (spec 4): no feature may use them, in any letter case.
bool IsReservedFeatureName(std::string_view name);
// Names of the Glue/Hive partition columns (year, month, day, hour), which collide with
// features only in groups whose offline store uses the Glue layout (not Iceberg).
bool IsPartitionColumnName(std::string_view name);

// Checks a complete definition as CreateFeatureGroup received it: feature names and types,
// identifier and event time, store combinations, TTL, throughput, table format and tags.
// `group` needs only its user-supplied fields; server-assigned ones are ignored.
Status ValidateNewGroup(const FeatureGroup& group);

// Checks UpdateFeatureGroup FeatureAdditions against the current definition: at most 100, no
// name already in the group (features are never renamed or removed), the same per-feature
// rules as at create, and the 2500-feature quota (ResourceExhausted).
Status ValidateFeatureAdditions(const FeatureGroup& group,
                                const std::vector<FeatureDefinition>& additions);

// Checks a new default TTL for `group` (nullopt clears it): the group needs an online store.
Status ValidateTtlUpdate(const FeatureGroup& group, const std::optional<TtlDuration>& ttl);

// UpdateFeatureGroup ThroughputConfig: every member optional.
struct ThroughputUpdate {
  std::optional<std::string> mode;  // "OnDemand" | "Provisioned"
  std::optional<int64_t> read_capacity_units;
  std::optional<int64_t> write_capacity_units;
};

// Applies `update` to a copy of `group`'s throughput settings, checking the rules (InMemory
// cannot be Provisioned, capacities only when Provisioned, at most 40000, one switch to
// OnDemand per 24 hours as of `now_seconds`). On success writes the new settings into *out.
Status ApplyThroughputUpdate(const FeatureGroup& group, const ThroughputUpdate& update,
                             double now_seconds, FeatureGroup* out);

// Checks tags being added to a resource that already has `existing`: no "aws:" prefix, no key
// twice in `added`, and at most 50 tags in the result (ResourceExhausted).
Status ValidateTags(const std::vector<std::pair<std::string, std::string>>& existing,
                    const std::vector<std::pair<std::string, std::string>>& added);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_GROUP_RULES_H_
