// CatalogStore: where the catalog keeps its feature-group definitions durably. The catalog
// talks only to this interface so another backend (e.g. PostgreSQL) can replace the default,
// which keeps one JSON file per group under DATA_DIR/catalog/.
#ifndef LARDER_CATALOG_CATALOG_STORE_H_
#define LARDER_CATALOG_CATALOG_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/feature_group.h"
#include "larder/status.h"

namespace larder::catalog {

// Not thread-safe: the Catalog serializes every call (it holds its write lock).
// Every mutating call is durable when it returns OK: a crash right after never loses it, and
// a crash during it leaves either the old or the new state, never a mix.
class CatalogStore {
 public:
  struct Contents {
    std::vector<FeatureGroup> live;      // groups not yet deleted, any status
    std::vector<FeatureGroup> archived;  // definitions of deleted groups (for GetById)
    uint64_t next_id = 1;                // every id ever handed out is below this
  };

  virtual ~CatalogStore() = default;

  // Reads everything. Discards leftovers of interrupted writes.
  virtual StatusOr<Contents> Load() = 0;

  // Returns a fresh group id and records durably that it was used: ids are never reused, not
  // even after a crash or the deletion of the group that had it.
  virtual StatusOr<uint64_t> AllocateId() = 0;

  // Creates or replaces the live definition of group `group.id`.
  virtual Status PutGroup(const FeatureGroup& group) = 0;

  // Removes group `id` from the live set, keeping its last definition in the archive.
  // NotFound if no live group has that id.
  virtual Status DeleteGroup(uint64_t id) = 0;
};

// The default store. Layout under `dir` (docs/control-plane.md):
//   groups/<id>.json    live definitions (file names are numeric ids, never group names)
//   archive/<id>.json   definitions of deleted groups
//   NEXT_ID             the next id to hand out, as decimal text
// Every file is replaced atomically: write <name>.tmp, fsync, rename, fsync the directory.
// Load() removes *.tmp leftovers and ignores other unknown files.
class FileCatalogStore final : public CatalogStore {
 public:
  // Creates `dir` (and its subdirectories) if missing.
  static StatusOr<std::unique_ptr<FileCatalogStore>> Open(const std::string& dir);

  StatusOr<Contents> Load() override;
  StatusOr<uint64_t> AllocateId() override;
  Status PutGroup(const FeatureGroup& group) override;
  Status DeleteGroup(uint64_t id) override;

 private:
  explicit FileCatalogStore(std::string dir);

  std::string dir_;
  uint64_t next_id_ = 1;  // valid after Load()
  bool loaded_ = false;
};

// A store that keeps everything in memory (tests, and a catalog that need not persist).
class MemCatalogStore final : public CatalogStore {
 public:
  StatusOr<Contents> Load() override { return contents_; }
  StatusOr<uint64_t> AllocateId() override { return contents_.next_id++; }
  Status PutGroup(const FeatureGroup& group) override;
  Status DeleteGroup(uint64_t id) override;

 private:
  Contents contents_;
};

// Writes `data` to `path` atomically and durably (tmp file, fsync, rename, fsync parent dir).
// Exposed for other modules' small metadata files.
Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_CATALOG_STORE_H_
