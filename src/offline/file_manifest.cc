#include "offline/file_manifest.h"

#include <algorithm>

namespace larder::offline {

const FileManifest::FileList& FileManifest::Version::Files(std::string_view root) const {
  static const FileList* const kEmpty = new FileList();  // intentionally leaked
  auto it = by_root.find(root);
  return it == by_root.end() ? *kEmpty : *it->second;
}

FileManifest::FileManifest() : current_(std::make_shared<Version>()) {}

FileManifest::Snapshot::~Snapshot() { owner_->Release(version_->number); }

std::unique_ptr<FileManifest::Snapshot> FileManifest::Acquire() {
  MutexLock l(&mu_);
  live_snapshots_.insert(current_->number);
  return std::unique_ptr<Snapshot>(new Snapshot(this, current_));
}

std::shared_ptr<const FileManifest::Version> FileManifest::Current() const {
  MutexLock l(&mu_);
  return current_;
}

void FileManifest::Release(uint64_t version_number) {
  MutexLock l(&mu_);
  auto it = live_snapshots_.find(version_number);
  if (it != live_snapshots_.end()) live_snapshots_.erase(it);
}

void FileManifest::Publish(std::shared_ptr<Version> v) {
  v->number = current_->number + 1;
  current_ = std::move(v);
}

void FileManifest::Add(const FileList& files) {
  if (files.empty()) return;
  MutexLock l(&mu_);
  auto v = std::make_shared<Version>(*current_);
  std::map<std::string, FileList, std::less<>> grown;
  for (const OfflineFile& f : files) {
    if (paths_.count(f.path) != 0) continue;
    auto [it, inserted] = grown.try_emplace(f.root);
    if (inserted) it->second = v->Files(f.root);
    it->second.push_back(f);
    paths_.insert(f.path);
  }
  for (auto& [root, list] : grown)
    v->by_root[root] = std::make_shared<const FileList>(std::move(list));
  Publish(std::move(v));
}

void FileManifest::Replace(const FileList& removed, const FileList& added) {
  MutexLock l(&mu_);
  auto v = std::make_shared<Version>(*current_);
  std::set<std::string, std::less<>> gone;
  std::set<std::string, std::less<>> roots;
  for (const OfflineFile& f : removed) {
    if (paths_.count(f.path) == 0) continue;
    gone.insert(f.path);
    roots.insert(f.root);
  }
  for (const OfflineFile& f : added) roots.insert(f.root);
  for (const std::string& root : roots) {
    FileList list;
    for (const OfflineFile& f : v->Files(root)) {
      if (gone.count(f.path) != 0) {
        retired_.emplace_back(current_->number + 1, f);
        paths_.erase(f.path);
        continue;
      }
      list.push_back(f);
    }
    for (const OfflineFile& f : added) {
      if (f.root != root || paths_.count(f.path) != 0) continue;
      list.push_back(f);
      paths_.insert(f.path);
    }
    if (list.empty()) {
      v->by_root.erase(root);
    } else {
      v->by_root[root] = std::make_shared<const FileList>(std::move(list));
    }
  }
  Publish(std::move(v));
}

bool FileManifest::Contains(std::string_view path) const {
  MutexLock l(&mu_);
  return paths_.count(path) != 0;
}

FileManifest::FileList FileManifest::TakeDeletable() {
  MutexLock l(&mu_);
  // A file first missing from version V may be read by snapshots of versions < V.
  uint64_t oldest = live_snapshots_.empty() ? UINT64_MAX : *live_snapshots_.begin();
  FileList out;
  auto keep = std::stable_partition(retired_.begin(), retired_.end(),
                                    [&](const auto& r) { return oldest < r.first; });
  for (auto it = keep; it != retired_.end(); ++it) out.push_back(std::move(it->second));
  retired_.erase(keep, retired_.end());
  return out;
}

size_t FileManifest::PendingDeletes() const {
  MutexLock l(&mu_);
  return retired_.size();
}

}  // namespace larder::offline
