// Search (Resource FeatureGroup or FeatureMetadata) over a catalog snapshot: filters with
// every operator, nested filters, sub-expressions combined with And/Or, sorting by any
// property, keyset paging and TotalHits.
//
// Property names are AWS's (docs: feature-store-search-metadata, Search API):
//   FeatureGroup: FeatureGroupName, FeatureGroupArn, RecordIdentifierFeatureName,
//     EventTimeFeatureName, Description, RoleArn, FeatureGroupStatus, FailureReason,
//     CreationTime, LastModifiedTime, OfflineStoreStatus.Status, OnlineStoreConfig.*,
//     OfflineStoreConfig.*, LastUpdateStatus.Status, FeatureDefinitions.FeatureName /
//     .FeatureType / .CollectionType (any feature), Tags.<key>.
//     NestedFilters over "FeatureDefinitions" (members as above) or "Tags" (Tags.Key,
//     Tags.Value) match when one element satisfies all of their filters.
//   FeatureMetadata: FeatureGroupName, FeatureGroupArn, FeatureName, FeatureType,
//     Description, CreationTime, LastModifiedTime, Parameters.<key>, AllParameters (every
//     key and value). NestedFilters over "Parameters" (Parameters.Key, Parameters.Value).
// Unknown properties have no value (Exists is false, NotExists and NotEquals are true).
// Text comparisons are case-sensitive; times accept epoch seconds or ISO-8601 values.
//
// Thread-safety: pure functions over an immutable snapshot.
#ifndef LARDER_CATALOG_SEARCH_H_
#define LARDER_CATALOG_SEARCH_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "larder/status.h"

namespace larder::catalog {

enum class SearchResource { kFeatureGroup, kFeatureMetadata };

enum class FilterOperator {
  kEquals,
  kNotEquals,
  kGreaterThan,
  kGreaterThanOrEqualTo,
  kLessThan,
  kLessThanOrEqualTo,
  kContains,
  kExists,
  kNotExists,
  kIn,
};
std::optional<FilterOperator> FilterOperatorFromName(std::string_view name);
std::string_view FilterOperatorName(FilterOperator op);

struct SearchFilter {
  std::string name;
  FilterOperator op = FilterOperator::kEquals;
  std::optional<std::string> value;  // required except for Exists / NotExists
};

struct NestedSearchFilter {
  std::string nested_property_name;  // "FeatureDefinitions", "Tags" or "Parameters"
  std::vector<SearchFilter> filters;
};

struct SearchExpression {
  std::vector<SearchFilter> filters;
  std::vector<NestedSearchFilter> nested_filters;
  std::vector<SearchExpression> sub_expressions;
  bool is_or = false;  // Operator Or; default And. An empty expression matches everything.
};

struct SearchQuery {
  SearchResource resource = SearchResource::kFeatureGroup;
  std::optional<SearchExpression> expression;
  std::string sort_by;     // "" means LastModifiedTime (CreationTime until first modified)
  bool descending = true;  // AWS's default
  size_t max_results = 10;
  std::string next_token;
};

struct SearchHit {
  GroupPtr group;
  int feature_index = -1;  // for FeatureMetadata: the feature in group->features
};

struct SearchPage {
  std::vector<SearchHit> hits;
  std::string next_token;  // "" when there are no more results
  size_t total_hits = 0;   // all matches, not just this page
};

// Parses a timestamp as AWS accepts it in filters and list parameters: epoch seconds
// ("1700000000", "1700000000.5") or ISO-8601 ("2024-01-02", "2024-01-02T03:04:05.123Z",
// "...+02:00"). Returns epoch seconds, or nullopt.
std::optional<double> ParseTimestampSeconds(std::string_view text);

// InvalidArgument (naming the filter and value) for a missing Value, an operator that the
// property's type does not support (ordering operators on text, Contains/In on non-text), a
// value that does not parse as the property's type, an unknown SortBy, or a bad NextToken.
StatusOr<SearchPage> Search(const CatalogSnapshot& snapshot, const SearchQuery& query);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_SEARCH_H_
