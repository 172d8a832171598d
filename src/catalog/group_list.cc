#include "catalog/group_list.h"

#include <algorithm>
#include <cctype>

#include "catalog/page_token.h"
#include "common/status_macros.h"

namespace larder::catalog {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

SortKey KeyOf(const FeatureGroup& g, GroupSortBy by) {
  switch (by) {
    case GroupSortBy::kName:
      return SortKey::String(g.name);
    case GroupSortBy::kFeatureGroupStatus:
      return SortKey::String(std::string(GroupStatusName(g.status)));
    case GroupSortBy::kOfflineStoreStatus:
      if (g.offline_store_status().empty()) return SortKey();
      return SortKey::String(std::string(g.offline_store_status()));
    case GroupSortBy::kCreationTime:
      return SortKey::Number(g.creation_time);
  }
  return SortKey();
}

std::string QueryId(const ListGroupsQuery& q) {
  return "list/" + std::to_string(static_cast<int>(q.sort_by)) + (q.descending ? "/d" : "/a");
}

struct Entry {
  SortKey key;
  GroupPtr group;
};

// Strict weak order of the listing: by key (in the requested direction; missing keys last
// either way), then by id ascending.
bool Before(const Entry& a, const Entry& b, bool descending) {
  bool a_missing = a.key.kind == SortKey::Kind::kMissing;
  bool b_missing = b.key.kind == SortKey::Kind::kMissing;
  if (a_missing != b_missing) return b_missing;
  int c = CompareSortKeys(a.key, b.key);
  if (c != 0) return descending ? c > 0 : c < 0;
  return a.group->id < b.group->id;
}

}  // namespace

StatusOr<ListGroupsPage> ListGroups(const CatalogSnapshot& snapshot, const ListGroupsQuery& q) {
  std::optional<PageCursor> cursor;
  if (!q.next_token.empty()) {
    ASSIGN_OR_RETURN(PageCursor c, DecodePageToken(q.next_token, QueryId(q)));
    cursor = std::move(c);
  }
  std::string needle = Lower(q.name_contains);
  std::vector<Entry> entries;
  for (const auto& [name, g] : snapshot.by_name) {
    if (!needle.empty() && Lower(g->name).find(needle) == std::string::npos) continue;
    if (q.status_equals.has_value() && g->status != *q.status_equals) continue;
    if (!q.offline_status_equals.empty() && g->offline_store_status() != q.offline_status_equals) {
      continue;
    }
    if (q.created_after.has_value() && !(g->creation_time > *q.created_after)) continue;
    if (q.created_before.has_value() && !(g->creation_time < *q.created_before)) continue;
    entries.push_back({KeyOf(*g, q.sort_by), g});
  }
  std::sort(entries.begin(), entries.end(),
            [&](const Entry& a, const Entry& b) { return Before(a, b, q.descending); });
  auto begin = entries.begin();
  if (cursor.has_value()) {
    // The cursor is a position, not an item: the item itself may be gone.
    Entry at{cursor->key, nullptr};
    auto probe = std::make_shared<FeatureGroup>();
    probe->id = cursor->id;
    at.group = probe;
    begin = std::upper_bound(
        entries.begin(), entries.end(), at,
        [&](const Entry& a, const Entry& b) { return Before(a, b, q.descending); });
  }
  ListGroupsPage page;
  size_t max = std::max<size_t>(q.max_results, 1);
  for (auto it = begin; it != entries.end() && page.groups.size() < max; ++it) {
    page.groups.push_back(it->group);
  }
  size_t consumed = static_cast<size_t>(begin - entries.begin()) + page.groups.size();
  if (consumed < entries.size() && !page.groups.empty()) {
    const GroupPtr& last = page.groups.back();
    page.next_token = EncodePageToken({QueryId(q), KeyOf(*last, q.sort_by), last->id, -1});
  }
  return page;
}

}  // namespace larder::catalog
