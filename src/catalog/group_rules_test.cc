#include "catalog/group_rules.h"

#include <gtest/gtest.h>

#include "catalog/catalog_test_util.h"

namespace larder::catalog {
namespace {

using testing::CustomerGroup;
using testing::Feature;
using testing::InMemoryGroup;

// Expects `s` to fail with `code` and a message containing every one of `parts`.
void ExpectError(const Status& s, StatusCode code, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s.ToString();
  for (const std::string& p : parts) {
    EXPECT_NE(s.message().find(p), std::string::npos) << "'" << p << "' not in: " << s.message();
  }
}

TEST(GroupRulesTest, AcceptsTheWalkthroughSchemaAndCollections) {
  EXPECT_TRUE(ValidateNewGroup(CustomerGroup()).ok());
  FeatureGroup g = InMemoryGroup("vec");
  g.features.push_back(Feature("tags", FeatureType::kString, CollectionType::kList));
  g.features.push_back(Feature("ids", FeatureType::kIntegral, CollectionType::kSet));
  g.features.push_back(Feature("emb", FeatureType::kFractional, CollectionType::kVector, 8));
  EXPECT_TRUE(ValidateNewGroup(g).ok()) << ValidateNewGroup(g).ToString();
}

TEST(GroupRulesTest, ReservedNames) {
  for (const char* name : {"is_deleted", "write_time", "API_INVOCATION_TIME"}) {
    FeatureGroup g = CustomerGroup();
    g.features.push_back(Feature(name, FeatureType::kString));
    ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {name, "reserved"});
  }
  // year/month/day/hour clash with Glue partition columns only.
  FeatureGroup glue = CustomerGroup();
  glue.features.push_back(Feature("year", FeatureType::kIntegral));
  ExpectError(ValidateNewGroup(glue), StatusCode::kInvalidArgument, {"'year'", "partition"});
  FeatureGroup iceberg = glue;
  iceberg.table_format = "Iceberg";
  EXPECT_TRUE(ValidateNewGroup(iceberg).ok()) << ValidateNewGroup(iceberg).ToString();
  FeatureGroup online_only = glue;
  online_only.offline_enabled = false;
  EXPECT_TRUE(ValidateNewGroup(online_only).ok());
}

TEST(GroupRulesTest, DuplicateNamesIgnoringCase) {
  FeatureGroup g = CustomerGroup();
  g.features.push_back(Feature("Loyalty_Score", FeatureType::kFractional));
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument,
              {"'Loyalty_Score'", "more than once"});
}

TEST(GroupRulesTest, RecordIdentifierRules) {
  FeatureGroup g = CustomerGroup();
  g.record_identifier_name = "customer";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument,
              {"RecordIdentifierFeatureName", "'customer'", "not one of"});
  g = CustomerGroup();
  g.record_identifier_name = "loyalty_score";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument,
              {"'loyalty_score'", "Fractional", "Integral or String"});
  g = InMemoryGroup("x");
  g.features.push_back(Feature("tags", FeatureType::kString, CollectionType::kList));
  g.record_identifier_name = "tags";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'tags'", "List", "scalar"});
  g = CustomerGroup();
  g.event_time_feature_name = "customer_id";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"must be different"});
}

TEST(GroupRulesTest, EventTimeRules) {
  FeatureGroup g = CustomerGroup();
  g.event_time_feature_name = "when";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument,
              {"EventTimeFeatureName", "'when'"});
  g = CustomerGroup();
  g.features.push_back(Feature("n", FeatureType::kIntegral));
  g.event_time_feature_name = "n";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'n'", "Integral"});
  g = CustomerGroup();
  g.event_time_feature_name = "loyalty_score";  // Fractional is fine
  EXPECT_TRUE(ValidateNewGroup(g).ok());
  g.table_format = "Iceberg";  // ...but not with Iceberg
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"Iceberg", "String"});
  g = InMemoryGroup("x");
  g.features.push_back(Feature("times", FeatureType::kString, CollectionType::kSet));
  g.event_time_feature_name = "times";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'times'", "Set"});
}

TEST(GroupRulesTest, StoreRules) {
  FeatureGroup g = CustomerGroup();
  g.online_enabled = false;
  g.offline_enabled = false;
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument,
              {"OfflineStoreConfig", "OnlineStoreConfig"});

  g = CustomerGroup();
  g.features.push_back(Feature("tags", FeatureType::kString, CollectionType::kList));
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument,
              {"'tags'", "List", "InMemory", "Standard"});

  g = InMemoryGroup("x");
  g.online_enabled = false;
  g.offline_enabled = true;
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"InMemory", "EnableOnlineStore"});

  g = InMemoryGroup("x");
  g.throughput_mode = "Provisioned";
  g.provisioned_read_capacity_units = 1;
  g.provisioned_write_capacity_units = 1;
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"Provisioned", "InMemory"});

  g = CustomerGroup();
  g.table_format = "Iceberg";
  g.disable_glue_table_creation = true;
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"DisableGlueTableCreation"});
}

TEST(GroupRulesTest, VectorRules) {
  FeatureGroup g = InMemoryGroup("x");
  g.features.push_back(Feature("emb", FeatureType::kIntegral, CollectionType::kVector, 4));
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'emb'", "Fractional"});
  g = InMemoryGroup("x");
  g.features.push_back(Feature("emb", FeatureType::kFractional, CollectionType::kVector, 0));
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'emb'", "Dimension"});
  g = InMemoryGroup("x");
  g.features.push_back(Feature("emb", FeatureType::kFractional, CollectionType::kList, 4));
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'emb'", "VectorConfig"});
  g = InMemoryGroup("x");
  g.features.push_back(Feature("a", FeatureType::kFractional, CollectionType::kVector, 4));
  g.features.push_back(Feature("b", FeatureType::kFractional, CollectionType::kVector, 4));
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"'a'", "'b'", "at most one"});
}

TEST(GroupRulesTest, TtlAndThroughputAtCreate) {
  FeatureGroup g = CustomerGroup();
  g.ttl = TtlDuration{TtlUnit::kSeconds, 0};
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"TtlDuration.Value", "0"});
  g = CustomerGroup();
  g.online_enabled = false;
  g.ttl = TtlDuration{TtlUnit::kDays, 1};
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"TtlDuration"});

  g = CustomerGroup();
  g.provisioned_read_capacity_units = 5;
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"OnDemand"});
  g.throughput_mode = "Provisioned";
  ExpectError(ValidateNewGroup(g), StatusCode::kInvalidArgument, {"ProvisionedWriteCapacityUnits"});
  g.provisioned_write_capacity_units = 40001;
  ExpectError(ValidateNewGroup(g), StatusCode::kResourceExhausted, {"40001", "40000"});
  g.provisioned_write_capacity_units = 40000;
  EXPECT_TRUE(ValidateNewGroup(g).ok());
}

TEST(GroupRulesTest, FeatureCountQuota) {
  FeatureGroup g = CustomerGroup();
  while (g.features.size() < kMaxFeaturesPerGroup) {
    g.features.push_back(Feature("f" + std::to_string(g.features.size()), FeatureType::kString));
  }
  EXPECT_TRUE(ValidateNewGroup(g).ok());
  std::vector<FeatureDefinition> one = {Feature("extra", FeatureType::kString)};
  ExpectError(ValidateFeatureAdditions(g, one), StatusCode::kResourceExhausted, {"2500"});
  g.features.push_back(one[0]);
  ExpectError(ValidateNewGroup(g), StatusCode::kResourceExhausted, {"2501"});
}

TEST(GroupRulesTest, FeatureAdditions) {
  FeatureGroup g = CustomerGroup();
  g.BuildIndex();
  EXPECT_TRUE(ValidateFeatureAdditions(g, {Feature("new", FeatureType::kIntegral)}).ok());
  ExpectError(ValidateFeatureAdditions(g, {}), StatusCode::kInvalidArgument, {"at least one"});
  ExpectError(ValidateFeatureAdditions(g, {Feature("event_time", FeatureType::kFractional)}),
              StatusCode::kInvalidArgument, {"'event_time'", "already has"});
  ExpectError(ValidateFeatureAdditions(g, {Feature("EVENT_TIME", FeatureType::kString)}),
              StatusCode::kInvalidArgument, {"'EVENT_TIME'"});
  ExpectError(ValidateFeatureAdditions(
                  g, {Feature("a", FeatureType::kString), Feature("a", FeatureType::kString)}),
              StatusCode::kInvalidArgument, {"'a'", "more than once"});
  ExpectError(ValidateFeatureAdditions(g, {Feature("write_time", FeatureType::kString)}),
              StatusCode::kInvalidArgument, {"FeatureAdditions", "'write_time'"});
  ExpectError(ValidateFeatureAdditions(g, {Feature("hour", FeatureType::kString)}),
              StatusCode::kInvalidArgument, {"'hour'"});
  std::vector<FeatureDefinition> many;
  for (int i = 0; i < 101; ++i)
    many.push_back(Feature("n" + std::to_string(i), FeatureType::kString));
  ExpectError(ValidateFeatureAdditions(g, many), StatusCode::kInvalidArgument, {"101", "100"});

  FeatureGroup mem = InMemoryGroup("m");
  mem.features.push_back(Feature("emb", FeatureType::kFractional, CollectionType::kVector, 2));
  mem.BuildIndex();
  ExpectError(ValidateFeatureAdditions(
                  mem, {Feature("emb2", FeatureType::kFractional, CollectionType::kVector, 2)}),
              StatusCode::kInvalidArgument, {"at most one"});
  EXPECT_TRUE(
      ValidateFeatureAdditions(mem, {Feature("l", FeatureType::kString, CollectionType::kList)})
          .ok());
}

TEST(GroupRulesTest, TtlUpdates) {
  FeatureGroup g = CustomerGroup();
  EXPECT_TRUE(ValidateTtlUpdate(g, TtlDuration{TtlUnit::kWeeks, 1}).ok());
  EXPECT_TRUE(ValidateTtlUpdate(g, std::nullopt).ok());
  ExpectError(ValidateTtlUpdate(g, TtlDuration{TtlUnit::kWeeks, -3}), StatusCode::kInvalidArgument,
              {"-3"});
  g.online_enabled = false;
  ExpectError(ValidateTtlUpdate(g, std::nullopt), StatusCode::kInvalidArgument,
              {"no online store"});
}

TEST(GroupRulesTest, ThroughputUpdates) {
  FeatureGroup g = CustomerGroup();
  FeatureGroup out;
  ExpectError(ApplyThroughputUpdate(g, {}, 0, &out), StatusCode::kInvalidArgument,
              {"at least one"});
  ExpectError(ApplyThroughputUpdate(g, {"Provisioned", std::nullopt, 5}, 0, &out),
              StatusCode::kInvalidArgument, {"ProvisionedReadCapacityUnits"});
  ExpectError(ApplyThroughputUpdate(g, {std::nullopt, 3, std::nullopt}, 0, &out),
              StatusCode::kInvalidArgument, {"OnDemand"});
  ASSERT_TRUE(ApplyThroughputUpdate(g, {"Provisioned", 3, 5}, 100, &out).ok());
  EXPECT_EQ(out.throughput_mode, "Provisioned");
  FeatureGroup back;
  ASSERT_TRUE(
      ApplyThroughputUpdate(out, {"OnDemand", std::nullopt, std::nullopt}, 200, &back).ok());
  EXPECT_EQ(back.ondemand_switch_time, 200);
  FeatureGroup offline_only = CustomerGroup();
  offline_only.online_enabled = false;
  ExpectError(ApplyThroughputUpdate(offline_only, {"Provisioned", 3, 5}, 0, &out),
              StatusCode::kInvalidArgument, {"ProvisionedReadCapacityUnits 3"});
  EXPECT_TRUE(ApplyThroughputUpdate(offline_only, {"Provisioned", std::nullopt, 5}, 0, &out).ok());
}

TEST(GroupRulesTest, Tags) {
  EXPECT_TRUE(ValidateTags({}, {{"a", "1"}, {"b", ""}}).ok());
  ExpectError(ValidateTags({}, {{"a", "1"}, {"a", "2"}}), StatusCode::kInvalidArgument,
              {"'a'", "more than once"});
  ExpectError(ValidateTags({}, {{"AWS:x", "1"}}), StatusCode::kInvalidArgument, {"'AWS:x'"});
  std::vector<std::pair<std::string, std::string>> fifty;
  for (int i = 0; i < 50; ++i) fifty.emplace_back("k" + std::to_string(i), "v");
  EXPECT_TRUE(ValidateTags(fifty, {{"k0", "overwrite"}}).ok());
  ExpectError(ValidateTags(fifty, {{"new", "x"}}), StatusCode::kResourceExhausted, {"51", "50"});
}

}  // namespace
}  // namespace larder::catalog
