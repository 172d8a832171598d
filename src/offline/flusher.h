// Flusher: drains the online store's outbox into the offline store's Parquet files, exactly once
// and crash-safe, and compacts small files in the background.
//
// One flush transaction covers the outbox entries (A, B] (docs/offline-store.md):
//   1. write each (group, hour partition)'s rows to a hidden tmp file ".<final>.tmp" beside its
//      final name (DuckDB's COPY ... (FORMAT parquet, COMPRESSION zstd)), fsync each;
//   2. write offline/_flush/flush-<B>.intent listing (tmp, final) pairs and B: write to a tmp
//      name, fsync, rename, fsync the directory -- the commit point;
//   3. rename every tmp to its final name, fsync the partition directories, publish the files;
//   4. Trim(B) on the outbox; delete the intent.
// Recovery (Open) finishes every intent it finds -- renames whose tmp still exists, Trim(B),
// deletes the intent -- then deletes stray tmp files (their entries are still in the outbox).
// So a crash at any point neither loses a row (entries are trimmed only after their files are
// durable) nor duplicates one (a tmp file becomes visible only through its intent, once).
//
// Compaction merges a partition's small files with the same pattern: the merged tmp file is
// written and fsynced, an intent compact-<id>.intent lists it and its inputs, the rename
// publishes it and FileManifest::Replace swaps the inputs out in one version; inputs are deleted
// once no query snapshot can read them, then the intent goes. Recovery renames the merged file
// if needed and deletes the inputs.
//
// Thread-safety: thread-safe. Flush and compaction work is serialized internally; Sync may be
// called from any number of threads.
#ifndef LARDER_OFFLINE_FLUSHER_H_
#define LARDER_OFFLINE_FLUSHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog_reader.h"
#include "catalog/record.h"
#include "common/clock.h"
#include "common/thread_annotations.h"
#include "larder/status.h"
#include "offline/duckdb_engine.h"
#include "offline/file_env.h"
#include "offline/file_manifest.h"
#include "offline/offline_layout.h"
#include "online/outbox.h"

namespace larder::offline {

struct FlusherOptions {
  std::string data_dir;  // required
  std::string account_id = "000000000000";
  std::string region = "us-east-1";
  // The background thread flushes when this many outbox entries wait...
  uint64_t flush_rows = 10'000;
  // ...or every this many milliseconds when any wait.
  int64_t flush_interval_ms = 1'000;
  // Outbox entries per flush transaction.
  size_t max_batch_entries = 10'000;
  // Background compaction of a partition once it has `compaction_min_files` files smaller than
  // `compaction_small_file_bytes`; one compaction reads at most `compaction_max_input_bytes`.
  bool compaction = true;
  size_t compaction_min_files = 8;
  uint64_t compaction_small_file_bytes = 32ull << 20;
  uint64_t compaction_max_input_bytes = 256ull << 20;
  int64_t compaction_interval_ms = 5'000;
  // Memory of the flusher's DuckDB instance.
  int64_t memory_limit_bytes = 512ll << 20;
  Env* env = nullptr;            // not owned; nullptr means Env::Posix()
  const Clock* clock = nullptr;  // not owned; nullptr means Clock::Real(); stamps write_time
  uint64_t random_seed = 0;      // file-name suffixes; 0 seeds from std::random_device
};

struct FlusherStats {
  uint64_t flushed_seq = 0;  // every outbox entry <= this is durable and visible
  uint64_t flushes = 0;      // committed flush transactions
  uint64_t rows_written = 0;
  uint64_t files_written = 0;
  uint64_t compactions = 0;
  uint64_t skipped_entries = 0;  // entries of groups without an offline store or unknown ids
};

class Flusher {
 public:
  // Recovers interrupted flushes and compactions, then loads the manifest from the files on
  // disk. `outbox` and `catalog` are not owned and must outlive the Flusher.
  static StatusOr<std::unique_ptr<Flusher>> Open(const FlusherOptions& options,
                                                 online::OutboxReader* outbox,
                                                 const catalog::CatalogReader* catalog);
  ~Flusher();  // Stop()
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // The visible files. Lives as long as the Flusher.
  FileManifest* manifest() { return &manifest_; }
  const OfflineLayout& layout() const { return layout_; }

  // Starts the background thread: flushes by size and age, compacts, deletes retired files.
  void Start() EXCLUDES(mu_);

  // Makes every outbox entry committed before the call durable and visible in manifest(). Does
  // the work on the calling thread unless another thread is already flushing, then waits for it.
  // DeadlineExceeded if it cannot finish by `deadline_micros` (Clock time; 0 = no deadline).
  Status Sync(int64_t deadline_micros = 0) EXCLUDES(mu_);

  // One compaction pass over the current files (the background thread runs it periodically).
  Status CompactOnce() EXCLUDES(mu_);
  // Deletes files retired by compaction that no snapshot reads any more, and the intents that
  // are then finished.
  Status CollectGarbage() EXCLUDES(mu_);

  // Flushes what is committed, stops the background thread and collects garbage. Idempotent.
  Status Stop() EXCLUDES(mu_);

  FlusherStats stats() const EXCLUDES(mu_);

 private:
  struct GroupBatch;

  Flusher(const FlusherOptions& options, online::OutboxReader* outbox,
          const catalog::CatalogReader* catalog);

  // Work methods: the caller holds the busy token (see Acquire/ReleaseBusy); they touch conn_,
  // rng_ and pending_compactions_ without mu_.
  Status Recover();
  Status LoadManifest();
  Status FlushUpTo(uint64_t target);
  Status FlushBatch(const std::vector<online::OutboxEntry>& batch);
  Status WriteParquet(const catalog::FeatureGroup& group,
                      const std::vector<std::vector<Datum>>& rows, const std::string& path);
  Status WriteIntent(const std::string& path, const std::string& json);
  Status CompactLocked();
  // Opens db_/conn_ on first use: an idle server never loads DuckDB's working set, which keeps
  // its resident memory small (DuckDB's pages are most of it once an instance exists).
  Status EnsureConnection();
  Status CollectGarbageLocked();
  std::string RandomSuffix();

  // Busy token: one thread at a time does flush/compaction work.
  bool AcquireBusy(int64_t deadline_micros) EXCLUDES(mu_);
  void ReleaseBusy() EXCLUDES(mu_);
  void Run() EXCLUDES(mu_);

  const FlusherOptions options_;
  OfflineLayout layout_;
  Env* const env_;
  const Clock* const clock_;
  online::OutboxReader* const outbox_;
  const catalog::CatalogReader* const catalog_;
  FileManifest manifest_;

  // Owned by the busy-token holder.
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
  std::mt19937_64 rng_;
  // Compaction intents waiting for their inputs to be deleted: intent path -> input paths left.
  std::map<std::string, std::set<std::string>> pending_compactions_;
  std::atomic<int64_t> last_compaction_micros_{0};  // read by the background thread

  mutable Mutex mu_;
  std::condition_variable_any cv_;
  bool busy_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  // Set when a step after a commit point failed: the on-disk state needs recovery (a restart).
  Status fatal_ GUARDED_BY(mu_);
  FlusherStats stats_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace larder::offline

#endif  // LARDER_OFFLINE_FLUSHER_H_
