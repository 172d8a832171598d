// FileManifest: the set of visible Parquet files of the offline store, versioned so that a
// query reads one consistent file set while the flusher adds files and compaction replaces them.
//
// Invariants:
//   - A published version never holds two files with overlapping rows: compaction swaps its
//     inputs for its output in one step (Replace).
//   - A file removed by Replace stays on disk until no Snapshot of an older version is alive
//     (TakeDeletable hands it out only then), so a running query never loses a file it reads.
#ifndef LARDER_OFFLINE_FILE_MANIFEST_H_
#define LARDER_OFFLINE_FILE_MANIFEST_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/thread_annotations.h"

namespace larder::offline {

struct OfflineFile {
  std::string root;       // the group's directory name, "<name>-<epoch>"
  std::string partition;  // "year=YYYY/month=MM/day=DD/hour=HH"
  std::string path;       // absolute path of the .parquet file
  uint64_t size_bytes = 0;
};

// Thread-safe.
class FileManifest {
 public:
  using FileList = std::vector<OfflineFile>;

  // One immutable version: files per group root, in the order they were added.
  struct Version {
    uint64_t number = 0;
    std::map<std::string, std::shared_ptr<const FileList>, std::less<>> by_root;
    // The files of `root` (empty when it has none).
    const FileList& Files(std::string_view root) const;
  };

  // A consistent version held for reading; its files stay on disk until it is destroyed.
  // Not thread-safe itself (one reader); the manifest must outlive it.
  class Snapshot {
   public:
    ~Snapshot();
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;
    const Version& version() const { return *version_; }
    const FileList& Files(std::string_view root) const { return version_->Files(root); }

   private:
    friend class FileManifest;
    Snapshot(FileManifest* owner, std::shared_ptr<const Version> version)
        : owner_(owner), version_(std::move(version)) {}
    FileManifest* owner_;
    std::shared_ptr<const Version> version_;
  };

  FileManifest();

  std::unique_ptr<Snapshot> Acquire() EXCLUDES(mu_);
  // The current version, for writers deciding what to compact (not protected from deletion).
  std::shared_ptr<const Version> Current() const EXCLUDES(mu_);

  // Publishes a version with `files` added.
  void Add(const FileList& files) EXCLUDES(mu_);
  // Publishes a version where `removed` (matched by path) are replaced by `added`.
  void Replace(const FileList& removed, const FileList& added) EXCLUDES(mu_);
  bool Contains(std::string_view path) const EXCLUDES(mu_);

  // Files removed by Replace that no live Snapshot can still read; each is handed out once.
  FileList TakeDeletable() EXCLUDES(mu_);
  // Number of removed files not yet handed out by TakeDeletable.
  size_t PendingDeletes() const EXCLUDES(mu_);

 private:
  void Release(uint64_t version_number) EXCLUDES(mu_);
  void Publish(std::shared_ptr<Version> v) REQUIRES(mu_);

  mutable Mutex mu_;
  std::shared_ptr<const Version> current_ GUARDED_BY(mu_);
  std::multiset<uint64_t> live_snapshots_ GUARDED_BY(mu_);    // version numbers held
  std::set<std::string, std::less<>> paths_ GUARDED_BY(mu_);  // paths in current_
  // (first version without the file, file)
  std::vector<std::pair<uint64_t, OfflineFile>> retired_ GUARDED_BY(mu_);
};

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_FILE_MANIFEST_H_
