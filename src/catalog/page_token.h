// Opaque continuation tokens for ListFeatureGroups and Search. A token records the sort
// position of the last item returned (keyset paging), so later pages neither repeat nor skip
// items that exist throughout the paging, whatever is created or deleted in between.
//
// Thread-safety: values and pure functions.
#ifndef LARDER_CATALOG_PAGE_TOKEN_H_
#define LARDER_CATALOG_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "larder/status.h"

namespace larder::catalog {

// A sortable property value.
struct SortKey {
  enum class Kind : uint8_t { kNumber = 0, kString = 1, kMissing = 2 };
  Kind kind = Kind::kMissing;
  double number = 0;  // when kNumber
  std::string text;   // when kString (compared byte-wise)

  static SortKey Number(double v) { return {Kind::kNumber, v, {}}; }
  static SortKey String(std::string v) { return {Kind::kString, 0, std::move(v)}; }
};

// Three-way comparison in ascending order: numbers before strings; missing values compare
// equal to each other. Returns <0, 0 or >0.
int CompareSortKeys(const SortKey& a, const SortKey& b);

// Where a page ended: the last item's sort key and its unique tiebreakers.
struct PageCursor {
  std::string query;  // identifies the ordering the token belongs to (sort property + order)
  SortKey key;
  uint64_t id = 0;   // group id
  int64_t sub = -1;  // feature index for per-feature results, else -1
};

std::string EncodePageToken(const PageCursor& cursor);
// InvalidArgument naming the token if it is not one EncodePageToken produced for `query`.
StatusOr<PageCursor> DecodePageToken(std::string_view token, std::string_view query);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_PAGE_TOKEN_H_
