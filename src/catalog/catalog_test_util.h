// Test helpers shared by the catalog unit tests: valid definitions to start from.
#ifndef LARDER_CATALOG_CATALOG_TEST_UTIL_H_
#define LARDER_CATALOG_CATALOG_TEST_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "catalog/feature_group.h"

namespace larder::catalog::testing {

inline FeatureDefinition Feature(std::string name, FeatureType type,
                                 CollectionType collection = CollectionType::kNone,
                                 int32_t dimension = 0) {
  FeatureDefinition f;
  f.name = std::move(name);
  f.type = type;
  f.collection = collection;
  f.vector_dimension = dimension;
  return f;
}

// The walkthrough's customer-features schema (seeds/000): online + offline store.
inline FeatureGroup CustomerGroup(std::string name = "customer-features") {
  FeatureGroup g;
  g.name = std::move(name);
  g.record_identifier_name = "customer_id";
  g.event_time_feature_name = "event_time";
  g.features = {Feature("customer_id", FeatureType::kString),
                Feature("event_time", FeatureType::kString),
                Feature("total_purchases", FeatureType::kFractional),
                Feature("preferred_category", FeatureType::kString),
                Feature("loyalty_score", FeatureType::kFractional)};
  g.has_online_store_config = true;
  g.online_enabled = true;
  g.offline_enabled = true;
  g.s3_uri = "s3://bucket/feature-store/";
  g.role_arn = "arn:aws:iam::123456789012:role/FeatureStoreRole";
  g.description = "Customer behavioral features";
  return g;
}

// An online-only InMemory group that may hold collections.
inline FeatureGroup InMemoryGroup(std::string name) {
  FeatureGroup g;
  g.name = std::move(name);
  g.record_identifier_name = "id";
  g.event_time_feature_name = "ts";
  g.features = {Feature("id", FeatureType::kIntegral), Feature("ts", FeatureType::kFractional)};
  g.has_online_store_config = true;
  g.online_enabled = true;
  g.online_storage_type = "InMemory";
  return g;
}

}  // namespace larder::catalog::testing

#endif  // LARDER_CATALOG_CATALOG_TEST_UTIL_H_
