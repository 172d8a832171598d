// Env: the file operations the offline store's crash-safe protocols use, behind an interface so
// tests can inject a crash between any two steps (cf. LevelDB's Env). Parquet bytes are written
// by DuckDB directly; the protocol marks those steps with CrashPoint().
#ifndef LARDER_OFFLINE_FILE_ENV_H_
#define LARDER_OFFLINE_FILE_ENV_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/thread_annotations.h"
#include "larder/status.h"

namespace larder::offline {

struct DirEntry {
  std::string name;
  bool is_dir = false;
};

// Thread-safe.
class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX implementation. Never null, never destroyed.
  static Env* Posix();

  // mkdir -p. Every directory it creates is made durable in its parent (fsync of the parent).
  virtual Status CreateDirs(const std::string& path) = 0;
  // Writes `data` to a new or truncated file; not durable until SyncFile.
  virtual Status WriteFile(const std::string& path, std::string_view data) = 0;
  virtual StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // fsync of a file's contents.
  virtual Status SyncFile(const std::string& path) = 0;
  // fsync of a directory, making renames, creations and deletions in it durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // rename(2): atomic, replaces `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // unlink(2); OK when the file is already gone.
  virtual Status DeleteFile(const std::string& path) = 0;
  // Entries of a directory except "." and "..", unsorted; NotFound if it does not exist.
  virtual StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // A step of a protocol that does not go through the Env (e.g. DuckDB writing a Parquet file
  // has just happened). The real Env returns OK; a test Env may fail here.
  virtual Status CrashPoint(std::string_view step) { return Status::OK(); }
};

// Test Env: forwards to `base` until its `crash_at`-th mutating call (CreateDirs, WriteFile,
// SyncFile, SyncDir, Rename, DeleteFile, CrashPoint; counted from 1), which fails with IOError
// "injected crash", as does every call after it (reads too): the process is "dead" from then on.
// crash_at = 0 never crashes and only counts. Thread-safe.
class CrashingEnv : public Env {
 public:
  CrashingEnv(Env* base, uint64_t crash_at) : base_(base), crash_at_(crash_at) {}

  uint64_t mutations() const { return count_.load(); }
  bool crashed() const { return dead_.load(); }
  // The step that crashed, e.g. "Rename /x/.a.tmp".
  std::string crash_step() const EXCLUDES(mu_);

  Status CreateDirs(const std::string& path) override;
  Status WriteFile(const std::string& path, std::string_view data) override;
  StatusOr<std::string> ReadFile(const std::string& path) override;
  Status SyncFile(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override;
  StatusOr<std::vector<DirEntry>> ListDir(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  StatusOr<uint64_t> FileSize(const std::string& path) override;
  Status CrashPoint(std::string_view step) override;

 private:
  // OK to go on with a mutation described by `step`, or the injected crash.
  Status Mutate(std::string step) EXCLUDES(mu_);
  Status Dead() const;

  Env* const base_;
  const uint64_t crash_at_;
  std::atomic<uint64_t> count_{0};
  std::atomic<bool> dead_{false};
  mutable Mutex mu_;
  std::string crash_step_ GUARDED_BY(mu_);
};

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_FILE_ENV_H_
