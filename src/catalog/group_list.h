// ListFeatureGroups over a catalog snapshot: filters, sorting and keyset paging.
//
// Thread-safety: pure functions over an immutable snapshot.
#ifndef LARDER_CATALOG_GROUP_LIST_H_
#define LARDER_CATALOG_GROUP_LIST_H_

#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "larder/status.h"

namespace larder::catalog {

enum class GroupSortBy { kName, kFeatureGroupStatus, kOfflineStoreStatus, kCreationTime };

struct ListGroupsQuery {
  std::string name_contains;  // substring of the name, ignoring case; "" matches all
  std::optional<GroupStatus> status_equals;
  std::string offline_status_equals;     // "" = any; "Active" | "Blocked" | "Disabled"
  std::optional<double> created_after;   // strictly after (epoch seconds)
  std::optional<double> created_before;  // strictly before
  GroupSortBy sort_by = GroupSortBy::kCreationTime;
  bool descending = true;  // Larder's default order: newest first (spec 7)
  size_t max_results = 10;
  std::string next_token;  // "" for the first page
};

struct ListGroupsPage {
  std::vector<GroupPtr> groups;
  std::string next_token;  // "" when there are no more results
};

// InvalidArgument for a NextToken not issued for the same SortBy/SortOrder.
// Ties in the sort key are broken by group id (creation order), always ascending.
StatusOr<ListGroupsPage> ListGroups(const CatalogSnapshot& snapshot, const ListGroupsQuery& q);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_GROUP_LIST_H_
