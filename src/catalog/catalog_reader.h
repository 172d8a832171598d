// CatalogReader: the read side of the catalog that the runtime and the offline store need.
// The catalog (catalog.h) implements it; tests use a fake.
#ifndef LARDER_CATALOG_CATALOG_READER_H_
#define LARDER_CATALOG_CATALOG_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::catalog {

using GroupPtr = std::shared_ptr<const FeatureGroup>;

// Thread-safe; lookups are lock-free or take only a brief shared lock (runtime hot path).
class CatalogReader {
 public:
  virtual ~CatalogReader() = default;

  // The live group (any status except gone) named `name_or_arn` (a name, or its ARN), or
  // NotFound with AWS's message "Resource Not Found: Amazon SageMaker can't find a
  // FeatureGroup with name <x>". Callers check `status` themselves (runtime needs Created).
  virtual StatusOr<GroupPtr> Lookup(std::string_view name_or_arn) const = 0;

  // The group with internal id `id`, including groups that were deleted (their definitions are
  // archived so the offline store can still write rows that were queued before the delete).
  virtual StatusOr<GroupPtr> GetById(uint64_t id) const = 0;

  // Calls `fn` for every live group (a consistent snapshot), in no particular order.
  virtual void ForEach(const std::function<void(const GroupPtr&)>& fn) const = 0;
};

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_CATALOG_READER_H_
