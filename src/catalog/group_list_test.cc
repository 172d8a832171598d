#include "catalog/group_list.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "catalog/catalog_test_util.h"

namespace larder::catalog {
namespace {

using testing::CustomerGroup;
using testing::InMemoryGroup;

class ListTest : public ::testing::Test {
 protected:
  GroupPtr Add(FeatureGroup g) {
    g.id = next_id_++;
    g.arn = "arn:aws:sagemaker:us-east-1:000000000000:feature-group/" + g.name;
    g.BuildIndex();
    auto p = std::make_shared<const FeatureGroup>(std::move(g));
    snap_.by_name[p->name] = p;
    snap_.by_id[p->id] = p;
    return p;
  }
  void Remove(const std::string& name) { snap_.by_name.erase(name); }

  FeatureGroup Group(const std::string& name, double created, GroupStatus status,
                     bool offline = true) {
    FeatureGroup g = offline ? CustomerGroup(name) : InMemoryGroup(name);
    g.creation_time = created;
    g.status = status;
    return g;
  }

  std::vector<std::string> Names(const ListGroupsQuery& q) {
    auto page = ListGroups(snap_, q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    for (const GroupPtr& g : page->groups) out.push_back(g->name);
    return out;
  }

  // Follows NextToken to the end and returns every name in order.
  std::vector<std::string> AllPages(ListGroupsQuery q) {
    std::vector<std::string> out;
    for (int guard = 0; guard < 1000; ++guard) {
      auto page = ListGroups(snap_, q);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      for (const GroupPtr& g : page->groups) out.push_back(g->name);
      if (page->next_token.empty()) return out;
      q.next_token = page->next_token;
    }
    ADD_FAILURE() << "paging did not end";
    return out;
  }

  CatalogSnapshot snap_;
  uint64_t next_id_ = 1;
};

TEST_F(ListTest, DefaultIsNewestFirstTenPerPage) {
  for (int i = 0; i < 25; ++i) Add(Group("g" + std::to_string(i), 1000 + i, GroupStatus::kCreated));
  ListGroupsQuery q;
  std::vector<std::string> first = Names(q);
  ASSERT_EQ(first.size(), 10u);
  EXPECT_EQ(first.front(), "g24");
  EXPECT_EQ(first.back(), "g15");
  std::vector<std::string> all = AllPages(q);
  ASSERT_EQ(all.size(), 25u);
  EXPECT_EQ(all.back(), "g0");
}

TEST_F(ListTest, EverySortKeyAndOrder) {
  Add(Group("bravo", 3, GroupStatus::kCreated));
  Add(Group("Alpha", 2, GroupStatus::kCreating, /*offline=*/false));
  Add(Group("charlie", 1, GroupStatus::kDeleting));
  ListGroupsQuery q;
  q.sort_by = GroupSortBy::kName;
  q.descending = false;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"Alpha", "bravo", "charlie"}));
  q.descending = true;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"charlie", "bravo", "Alpha"}));
  q.sort_by = GroupSortBy::kCreationTime;
  q.descending = false;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"charlie", "Alpha", "bravo"}));
  q.sort_by = GroupSortBy::kFeatureGroupStatus;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"bravo", "Alpha", "charlie"}));
  // Groups without an offline store have no OfflineStoreStatus: last in either order, ties
  // by creation order (id).
  q.sort_by = GroupSortBy::kOfflineStoreStatus;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"bravo", "charlie", "Alpha"}));
  q.descending = true;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"bravo", "charlie", "Alpha"}));
}

TEST_F(ListTest, Filters) {
  Add(Group("customer-features", 100, GroupStatus::kCreated));
  Add(Group("Customer-Orders", 200, GroupStatus::kCreating));
  Add(Group("items", 300, GroupStatus::kCreated, /*offline=*/false));
  ListGroupsQuery q;
  q.sort_by = GroupSortBy::kName;
  q.descending = false;
  q.name_contains = "CUSTOMER";
  EXPECT_EQ(Names(q), (std::vector<std::string>{"Customer-Orders", "customer-features"}));
  q = {};
  q.status_equals = GroupStatus::kCreated;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"items", "customer-features"}));
  q = {};
  q.offline_status_equals = "Active";
  EXPECT_EQ(Names(q), (std::vector<std::string>{"Customer-Orders", "customer-features"}));
  q.offline_status_equals = "Disabled";
  EXPECT_TRUE(Names(q).empty());
  q = {};
  q.created_after = 100;  // strictly after
  q.created_before = 300;
  EXPECT_EQ(Names(q), (std::vector<std::string>{"Customer-Orders"}));
}

TEST_F(ListTest, PagingIsStableWhileGroupsComeAndGo) {
  std::mt19937 rng(7);
  for (int i = 0; i < 40; ++i) {
    Add(Group("g" + std::to_string(i), 1000 + (i % 7), GroupStatus::kCreated));  // many ties
  }
  ListGroupsQuery q;
  q.max_results = 6;
  std::set<std::string> survivors;
  for (const auto& [n, g] : snap_.by_name) survivors.insert(n);
  std::vector<std::string> seen;
  int added = 0;
  while (true) {
    auto page = ListGroups(snap_, q);
    ASSERT_TRUE(page.ok());
    for (const GroupPtr& g : page->groups) seen.push_back(g->name);
    if (page->next_token.empty()) break;
    q.next_token = page->next_token;
    // Between pages: delete a random group, including possibly the page's last one.
    std::vector<std::string> names(survivors.begin(), survivors.end());
    std::string victim = names[rng() % names.size()];
    Remove(victim);
    survivors.erase(victim);
    Add(Group("new" + std::to_string(added++), 1003, GroupStatus::kCreated));
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a group appeared twice";
  for (const std::string& s : survivors) {
    EXPECT_TRUE(unique.count(s)) << s << " existed throughout but was skipped";
  }
}

TEST_F(ListTest, RejectsForeignTokens) {
  for (int i = 0; i < 3; ++i) Add(Group("g" + std::to_string(i), i, GroupStatus::kCreated));
  ListGroupsQuery q;
  q.max_results = 1;
  auto page = ListGroups(snap_, q);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_token.empty());
  q.next_token = page->next_token;
  q.sort_by = GroupSortBy::kName;  // a different ordering
  auto other = ListGroups(snap_, q);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("NextToken"), std::string::npos);
  q.next_token = "garbage!";
  EXPECT_FALSE(ListGroups(snap_, q).ok());
  q.next_token = "abcd";
  EXPECT_FALSE(ListGroups(snap_, q).ok());
}

}  // namespace
}  // namespace larder::catalog
