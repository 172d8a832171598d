#include "catalog/search.h"

#include <gtest/gtest.h>

#include <set>

#include "catalog/catalog_test_util.h"

namespace larder::catalog {
namespace {

using testing::CustomerGroup;
using testing::Feature;
using testing::InMemoryGroup;

SearchFilter F(std::string name, FilterOperator op, std::optional<std::string> value = {}) {
  return SearchFilter{std::move(name), op, std::move(value)};
}

class SearchTest : public ::testing::Test {
 protected:
  SearchTest() {
    FeatureGroup a = CustomerGroup("customers");
    a.creation_time = 1000;
    a.status = GroupStatus::kCreated;
    a.tags = {{"team", "growth"}, {"env", "prod"}};
    a.description = "Customer features";
    a.features[2].metadata.description = "lifetime spend";
    a.features[2].metadata.parameters = {{"unit", "usd"}, {"owner", "finance"}};
    a.features[2].metadata.last_modified_time = 5000;
    Add(a);

    FeatureGroup b = InMemoryGroup("sessions");
    b.creation_time = 2000;
    b.last_modified_time = 2500;
    b.ttl = TtlDuration{TtlUnit::kHours, 6};
    b.tags = {{"team", "web"}};
    b.features.push_back(Feature("pages", FeatureType::kString, CollectionType::kList));
    b.features.push_back(Feature("emb", FeatureType::kFractional, CollectionType::kVector, 16));
    b.status = GroupStatus::kCreating;
    Add(b);

    FeatureGroup c = CustomerGroup("orders");
    c.creation_time = 3000;
    c.status = GroupStatus::kCreated;
    c.description.clear();
    c.online_enabled = false;
    c.has_online_store_config = false;
    c.table_format = "Iceberg";
    c.features[0].metadata.parameters = {{"pii", "yes"}};
    Add(c);
  }

  void Add(FeatureGroup g) {
    g.id = next_id_++;
    g.arn = "arn:aws:sagemaker:us-east-1:000000000000:feature-group/" + g.name;
    for (FeatureDefinition& f : g.features) {
      if (f.metadata.creation_time == 0) f.metadata.creation_time = g.creation_time;
      if (f.metadata.last_modified_time == 0) f.metadata.last_modified_time = g.creation_time;
    }
    g.BuildIndex();
    auto p = std::make_shared<const FeatureGroup>(std::move(g));
    snap_.by_name[p->name] = p;
    snap_.by_id[p->id] = p;
  }

  // Group names matching `e` (sorted by name for comparison).
  std::set<std::string> Groups(SearchExpression e) {
    SearchQuery q;
    q.expression = std::move(e);
    q.max_results = 100;
    auto page = Search(snap_, q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::set<std::string> out;
    if (!page.ok()) return out;
    for (const SearchHit& h : page->hits) out.insert(h.group->name);
    EXPECT_EQ(page->total_hits, out.size());
    return out;
  }
  std::set<std::string> Groups(std::vector<SearchFilter> filters, bool is_or = false) {
    SearchExpression e;
    e.filters = std::move(filters);
    e.is_or = is_or;
    return Groups(std::move(e));
  }

  std::set<std::string> Features(std::vector<SearchFilter> filters) {
    SearchQuery q;
    q.resource = SearchResource::kFeatureMetadata;
    q.expression = SearchExpression{std::move(filters), {}, {}, false};
    q.max_results = 100;
    auto page = Search(snap_, q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::set<std::string> out;
    if (!page.ok()) return out;
    for (const SearchHit& h : page->hits) {
      out.insert(h.group->name + "." + h.group->features[h.feature_index].name);
    }
    return out;
  }

  Status Error(std::vector<SearchFilter> filters) {
    SearchQuery q;
    q.expression = SearchExpression{std::move(filters), {}, {}, false};
    return Search(snap_, q).status();
  }

  CatalogSnapshot snap_;
  uint64_t next_id_ = 1;
};

using S = std::set<std::string>;

TEST_F(SearchTest, TextOperators) {
  EXPECT_EQ(Groups({F("FeatureGroupName", FilterOperator::kEquals, "orders")}), S{"orders"});
  EXPECT_EQ(Groups({F("FeatureGroupName", FilterOperator::kNotEquals, "orders")}),
            (S{"customers", "sessions"}));
  EXPECT_EQ(Groups({F("FeatureGroupName", FilterOperator::kContains, "ers")}),
            (S{"customers", "orders"}));
  EXPECT_EQ(Groups({F("FeatureGroupName", FilterOperator::kIn, "orders,sessions,zzz")}),
            (S{"orders", "sessions"}));
  EXPECT_EQ(Groups({F("FeatureGroupStatus", FilterOperator::kEquals, "Creating")}), S{"sessions"});
  EXPECT_EQ(Groups({F("Description", FilterOperator::kExists)}), S{"customers"});
  EXPECT_EQ(Groups({F("Description", FilterOperator::kNotExists)}), (S{"orders", "sessions"}));
  EXPECT_EQ(Groups({F("FeatureGroupArn", FilterOperator::kContains, "feature-group/sess")}),
            S{"sessions"});
  EXPECT_EQ(Groups({F("RecordIdentifierFeatureName", FilterOperator::kEquals, "customer_id")}),
            (S{"customers", "orders"}));
  EXPECT_EQ(Groups({F("EventTimeFeatureName", FilterOperator::kEquals, "ts")}), S{"sessions"});
  EXPECT_EQ(Groups({F("OfflineStoreStatus.Status", FilterOperator::kEquals, "Active")}),
            (S{"customers", "orders"}));
  EXPECT_EQ(Groups({F("OfflineStoreConfig.TableFormat", FilterOperator::kEquals, "Iceberg")}),
            S{"orders"});
}

TEST_F(SearchTest, BooleanNumberAndTimeOperators) {
  EXPECT_EQ(Groups({F("OnlineStoreConfig.EnableOnlineStore", FilterOperator::kEquals, "True")}),
            (S{"customers", "sessions"}));
  EXPECT_EQ(Groups({F("OnlineStoreConfig.EnableOnlineStore", FilterOperator::kNotEquals, "true")}),
            S{"orders"});
  EXPECT_EQ(Groups({F("CreationTime", FilterOperator::kGreaterThan, "1000")}),
            (S{"sessions", "orders"}));
  EXPECT_EQ(Groups({F("CreationTime", FilterOperator::kGreaterThanOrEqualTo, "1000")}),
            (S{"customers", "sessions", "orders"}));
  EXPECT_EQ(Groups({F("CreationTime", FilterOperator::kLessThan, "1970-01-01T00:50:00Z")}),
            (S{"customers", "sessions"}));  // 3000 s is 00:50:00
  EXPECT_EQ(Groups({F("CreationTime", FilterOperator::kLessThanOrEqualTo,
                      "1970-01-01T00:50:00.000+00:00")}),
            (S{"customers", "sessions", "orders"}));
  // LastModifiedTime falls back to CreationTime for never-modified groups.
  EXPECT_EQ(Groups({F("LastModifiedTime", FilterOperator::kEquals, "2500")}), S{"sessions"});
  EXPECT_EQ(Groups({F("LastModifiedTime", FilterOperator::kEquals, "1000")}), S{"customers"});
  EXPECT_EQ(Groups({F("OnlineStoreConfig.TtlDuration.Value", FilterOperator::kGreaterThan, "5")}),
            S{"sessions"});
}

TEST_F(SearchTest, TagsAndFeatureDefinitions) {
  EXPECT_EQ(Groups({F("Tags.team", FilterOperator::kEquals, "web")}), S{"sessions"});
  EXPECT_EQ(Groups({F("Tags.env", FilterOperator::kExists)}), S{"customers"});
  EXPECT_EQ(Groups({F("Tags.env", FilterOperator::kNotExists)}), (S{"sessions", "orders"}));
  EXPECT_EQ(Groups({F("FeatureDefinitions.FeatureName", FilterOperator::kEquals, "pages")}),
            S{"sessions"});
  EXPECT_EQ(Groups({F("FeatureDefinitions.CollectionType", FilterOperator::kEquals, "Vector")}),
            S{"sessions"});
  // Unknown properties have no value.
  EXPECT_EQ(Groups({F("NoSuchProperty", FilterOperator::kEquals, "x")}), S{});
  EXPECT_EQ(Groups({F("NoSuchProperty", FilterOperator::kNotExists)}),
            (S{"customers", "sessions", "orders"}));
}

TEST_F(SearchTest, NestedFiltersMatchOneElement) {
  SearchExpression e;
  e.nested_filters = {NestedSearchFilter{
      "FeatureDefinitions",
      {F("FeatureDefinitions.FeatureName", FilterOperator::kEquals, "emb"),
       F("FeatureDefinitions.FeatureType", FilterOperator::kEquals, "Fractional")}}};
  EXPECT_EQ(Groups(e), S{"sessions"});
  // Both conditions hold in the group, but not on the same feature.
  e.nested_filters[0].filters[1].value = "String";
  EXPECT_EQ(Groups(e), S{});
  SearchExpression tags;
  tags.nested_filters = {NestedSearchFilter{"Tags",
                                            {F("Tags.Key", FilterOperator::kEquals, "team"),
                                             F("Tags.Value", FilterOperator::kIn, "growth,web")}}};
  EXPECT_EQ(Groups(tags), (S{"customers", "sessions"}));
}

TEST_F(SearchTest, AndOrAndSubExpressions) {
  EXPECT_EQ(Groups({F("FeatureGroupName", FilterOperator::kEquals, "orders"),
                    F("FeatureGroupStatus", FilterOperator::kEquals, "Creating")},
                   /*is_or=*/true),
            (S{"orders", "sessions"}));
  EXPECT_EQ(Groups({F("FeatureGroupName", FilterOperator::kEquals, "orders"),
                    F("FeatureGroupStatus", FilterOperator::kEquals, "Creating")}),
            S{});
  // (team = growth OR team = web) AND NOT offline  => sessions
  SearchExpression inner;
  inner.filters = {F("Tags.team", FilterOperator::kEquals, "growth"),
                   F("Tags.team", FilterOperator::kEquals, "web")};
  inner.is_or = true;
  SearchExpression outer;
  outer.filters = {F("OfflineStoreStatus.Status", FilterOperator::kNotExists)};
  outer.sub_expressions = {inner};
  EXPECT_EQ(Groups(outer), S{"sessions"});
  outer.is_or = true;
  EXPECT_EQ(Groups(outer), (S{"customers", "sessions"}));
  // Empty expressions match everything.
  EXPECT_EQ(Groups(SearchExpression{}), (S{"customers", "sessions", "orders"}));
}

TEST_F(SearchTest, FeatureMetadata) {
  EXPECT_EQ(Features({F("FeatureName", FilterOperator::kEquals, "total_purchases")}),
            (S{"customers.total_purchases", "orders.total_purchases"}));
  EXPECT_EQ(Features({F("FeatureGroupName", FilterOperator::kEquals, "sessions"),
                      F("FeatureType", FilterOperator::kEquals, "Fractional")}),
            (S{"sessions.ts", "sessions.emb"}));
  EXPECT_EQ(Features({F("Description", FilterOperator::kContains, "spend")}),
            S{"customers.total_purchases"});
  EXPECT_EQ(Features({F("Parameters.unit", FilterOperator::kEquals, "usd")}),
            S{"customers.total_purchases"});
  EXPECT_EQ(Features({F("AllParameters", FilterOperator::kContains, "pi")}),
            S{"orders.customer_id"});
  EXPECT_EQ(Features({F("AllParameters", FilterOperator::kEquals, "finance")}),
            S{"customers.total_purchases"});
  EXPECT_EQ(Features({F("LastModifiedTime", FilterOperator::kGreaterThan, "4000")}),
            S{"customers.total_purchases"});
  SearchQuery q;
  q.resource = SearchResource::kFeatureMetadata;
  q.expression = SearchExpression{};
  q.expression->nested_filters = {
      NestedSearchFilter{"Parameters",
                         {F("Parameters.Key", FilterOperator::kEquals, "owner"),
                          F("Parameters.Value", FilterOperator::kEquals, "finance")}}};
  auto page = Search(snap_, q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->hits.size(), 1u);
  EXPECT_EQ(page->hits[0].group->features[page->hits[0].feature_index].name, "total_purchases");
}

TEST_F(SearchTest, SortingAndPaging) {
  SearchQuery q;  // default: LastModifiedTime Descending
  q.max_results = 2;
  auto p1 = Search(snap_, q);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->hits.size(), 2u);
  EXPECT_EQ(p1->hits[0].group->name, "orders");    // 3000
  EXPECT_EQ(p1->hits[1].group->name, "sessions");  // 2500
  EXPECT_EQ(p1->total_hits, 3u);
  ASSERT_FALSE(p1->next_token.empty());
  q.next_token = p1->next_token;
  auto p2 = Search(snap_, q);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->hits.size(), 1u);
  EXPECT_EQ(p2->hits[0].group->name, "customers");
  EXPECT_TRUE(p2->next_token.empty());

  SearchQuery by_name;
  by_name.sort_by = "FeatureGroupName";
  by_name.descending = false;
  auto named = Search(snap_, by_name);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->hits[0].group->name, "customers");
  EXPECT_EQ(named->hits[2].group->name, "sessions");

  // Per-feature results page through every feature exactly once.
  SearchQuery meta;
  meta.resource = SearchResource::kFeatureMetadata;
  meta.sort_by = "FeatureName";
  meta.descending = false;
  meta.max_results = 3;
  std::vector<std::string> seen;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = Search(snap_, meta);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->total_hits, 14u);
    for (const SearchHit& h : page->hits) {
      seen.push_back(h.group->name + "." + h.group->features[h.feature_index].name);
    }
    if (page->next_token.empty()) break;
    meta.next_token = page->next_token;
  }
  ASSERT_EQ(seen.size(), 14u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 14u);
  EXPECT_EQ(seen.front(), "customers.customer_id");
}

TEST_F(SearchTest, Errors) {
  Status s = Error({F("FeatureGroupName", FilterOperator::kEquals)});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'FeatureGroupName'"), std::string::npos);
  EXPECT_NE(s.message().find("needs a Value"), std::string::npos);
  s = Error({F("FeatureGroupName", FilterOperator::kGreaterThan, "a")});
  EXPECT_NE(s.message().find("text property"), std::string::npos);
  s = Error({F("CreationTime", FilterOperator::kEquals, "yesterday")});
  EXPECT_NE(s.message().find("'yesterday'"), std::string::npos);
  s = Error({F("CreationTime", FilterOperator::kContains, "1")});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = Error({F("OnlineStoreConfig.EnableOnlineStore", FilterOperator::kEquals, "yes")});
  EXPECT_NE(s.message().find("'yes'"), std::string::npos);

  SearchQuery q;
  q.sort_by = "Bogus";
  EXPECT_NE(Search(snap_, q).status().message().find("'Bogus'"), std::string::npos);
  q = {};
  q.expression = SearchExpression{};
  q.expression->nested_filters = {NestedSearchFilter{"Parameters", {}}};
  EXPECT_NE(Search(snap_, q).status().message().find("'Parameters'"), std::string::npos);
  q.expression->nested_filters = {
      NestedSearchFilter{"Tags", {F("FeatureName", FilterOperator::kEquals, "x")}}};
  EXPECT_EQ(Search(snap_, q).status().code(), StatusCode::kInvalidArgument);
  q = {};
  q.next_token = "00";
  EXPECT_EQ(Search(snap_, q).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace larder::catalog
