// Catalog: the feature-group registry behind the SageMaker control plane. It owns every
// group's definition and lifecycle, persists them through a CatalogStore, and publishes
// immutable snapshots that the runtime and offline store read without blocking writers.
//
// Lifecycle (spec 3.7): CreateGroup persists the group as Creating and returns at once; a
// background worker runs the creation hooks and moves it to Created (or CreateFailed).
// DeleteGroup persists Deleting and returns; the worker runs the deletion hooks (the online
// store drops the group's rows) and then removes the group, archiving its definition so
// GetById still finds it. A group left Creating or Deleting by a crash is finished after the
// next Open, once Start() is called.
#ifndef LARDER_CATALOG_CATALOG_H_
#define LARDER_CATALOG_CATALOG_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catalog/catalog_reader.h"
#include "catalog/catalog_store.h"
#include "catalog/feature_group.h"
#include "catalog/group_rules.h"
#include "common/clock.h"
#include "common/thread_annotations.h"
#include "larder/status.h"

namespace larder::catalog {

// ASCII case-insensitive hashing and equality with heterogeneous (string_view) lookup:
// group names are unique ignoring case, because the ARN lower-cases them.
struct CaseInsensitiveHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const;
};
struct CaseInsensitiveEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// One published version of the catalog. Immutable once published; share it freely.
struct CatalogSnapshot {
  // Live groups (any status until the delete finishes), keyed by name ignoring case.
  std::unordered_map<std::string, GroupPtr, CaseInsensitiveHash, CaseInsensitiveEqual> by_name;
  // Every group ever created, live or deleted (then its last definition), by id.
  std::unordered_map<uint64_t, GroupPtr> by_id;
};

struct CatalogOptions {
  // The default store keeps its files in <data_dir>/catalog. Required unless a store is given.
  std::string data_dir;
  std::string region = "us-east-1";         // appears in ARNs and offline paths
  std::string account_id = "000000000000";  // 12 digits; appears in ARNs and offline paths
  const Clock* clock = nullptr;             // not owned; nullptr means Clock::Real()
  size_t max_groups = 100;                  // live groups per catalog (AWS's soft quota)
};

// Thread-safe: every method may be called from any thread. Readers (Lookup, GetById, ForEach,
// Snapshot) take one brief lock to copy a shared_ptr and never wait for writers; writers are
// serialized among themselves.
class Catalog final : public CatalogReader {
 public:
  // A hook runs on the catalog's worker thread with the group's definition. It must be
  // idempotent: after a crash it may run again for the same group.
  using LifecycleHook = std::function<Status(const FeatureGroup&)>;

  // Opens (creating if needed) the file store in <data_dir>/catalog and loads it.
  static StatusOr<std::unique_ptr<Catalog>> Open(const CatalogOptions& options);
  // Same, with the given store instead of the default one.
  static StatusOr<std::unique_ptr<Catalog>> Open(const CatalogOptions& options,
                                                 std::unique_ptr<CatalogStore> store);

  // Stops the worker after the task in progress. Unfinished lifecycle steps are persisted and
  // resume after the next Open.
  ~Catalog() override;

  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Registers hooks; call before Start() so recovered groups see them too. A creation hook's
  // error makes the group CreateFailed with the error as FailureReason; a deletion hook's
  // error makes it DeleteFailed (DeleteGroup may then be retried). Exception: Unavailable
  // (e.g. the hook's subsystem is shutting down) leaves the group Creating/Deleting, so the
  // step runs again after the next Open.
  void AddCreationHook(LifecycleHook hook) EXCLUDES(mu_);
  void AddDeletionHook(LifecycleHook hook) EXCLUDES(mu_);

  // Starts the background worker. Until then, groups stay Creating/Deleting. Idempotent.
  void Start() EXCLUDES(mu_);

  // Waits until the worker has no pending or running task, or `timeout` passes. Returns
  // whether it became idle. (Tests use it; clients poll DescribeFeatureGroup instead.)
  bool WaitForIdle(std::chrono::milliseconds timeout) EXCLUDES(mu_);

  // CatalogReader.
  StatusOr<GroupPtr> Lookup(std::string_view name_or_arn) const override;
  StatusOr<GroupPtr> GetById(uint64_t id) const override;
  void ForEach(const std::function<void(const GroupPtr&)>& fn) const override;

  // The current published version. Never null.
  std::shared_ptr<const CatalogSnapshot> Snapshot() const EXCLUDES(snapshot_mu_);

  // Creates a group from the user-supplied fields of `definition` (name, features, identifier
  // and event time, store configs, throughput, role, description, tags); the catalog assigns
  // id, ARN, times, status, resolved offline location and the default data catalog names.
  // Errors: InvalidArgument (rules in group_rules.h), AlreadyExists (name taken, ignoring
  // case), ResourceExhausted (max_groups), IOError.
  StatusOr<GroupPtr> CreateGroup(FeatureGroup definition) EXCLUDES(write_mu_);

  // Starts deleting the group called `name` (a name, not an ARN). Deleting a group that is
  // already Deleting is a no-op. NotFound if there is no such group.
  Status DeleteGroup(std::string_view name) EXCLUDES(write_mu_);

  // UpdateFeatureGroup's three kinds of change. The group must be Created (else
  // FailedPrecondition). Each sets LastModifiedTime and LastUpdateStatus Successful.
  StatusOr<GroupPtr> AddFeatures(std::string_view name_or_arn,
                                 std::vector<FeatureDefinition> additions) EXCLUDES(write_mu_);
  // nullopt clears the default TTL.
  StatusOr<GroupPtr> SetDefaultTtl(std::string_view name_or_arn, std::optional<TtlDuration> ttl)
      EXCLUDES(write_mu_);
  StatusOr<GroupPtr> UpdateThroughput(std::string_view name_or_arn, const ThroughputUpdate& update)
      EXCLUDES(write_mu_);

  struct FeatureMetadataUpdate {
    std::optional<std::string> description;
    std::vector<std::pair<std::string, std::string>> parameter_additions;  // add or overwrite
    std::vector<std::string> parameter_removals;                           // absent keys ignored
  };
  // Updates one feature's metadata and bumps its LastModifiedTime (even if nothing else
  // changed). NotFound for an unknown group or feature; InvalidArgument if a key is both added
  // and removed; ResourceExhausted beyond 25 parameters.
  StatusOr<GroupPtr> UpdateFeatureMetadata(std::string_view name_or_arn,
                                           std::string_view feature_name,
                                           const FeatureMetadataUpdate& update) EXCLUDES(write_mu_);

  // Tags of the group whose ARN is `arn`. AddTags overwrites existing keys.
  StatusOr<GroupPtr> AddTags(std::string_view arn,
                             const std::vector<std::pair<std::string, std::string>>& tags)
      EXCLUDES(write_mu_);
  StatusOr<GroupPtr> DeleteTags(std::string_view arn, const std::vector<std::string>& keys)
      EXCLUDES(write_mu_);

  const std::string& region() const { return options_.region; }
  const std::string& account_id() const { return options_.account_id; }
  // arn:aws:sagemaker:<region>:<account>:feature-group/<lower-cased name>
  std::string ArnFor(std::string_view name) const;

 private:
  enum class TaskKind { kFinishCreate, kFinishDelete };
  struct Task {
    TaskKind kind;
    uint64_t id;
  };

  Catalog(const CatalogOptions& options, std::unique_ptr<CatalogStore> store);
  Status Load() EXCLUDES(write_mu_);

  double NowSeconds() const;
  // Replaces (or adds) `group` in a new published snapshot; removes it from the live map
  // when `archived`.
  void Publish(GroupPtr group, bool archived) REQUIRES(write_mu_) EXCLUDES(snapshot_mu_);
  void Enqueue(Task task) EXCLUDES(mu_);
  // Applies `mutate` to a copy of the live group `name_or_arn` (which must be Created unless
  // `any_live_status`), persists and publishes it.
  StatusOr<GroupPtr> Mutate(std::string_view name_or_arn, bool any_live_status,
                            const std::function<Status(FeatureGroup*)>& mutate) EXCLUDES(write_mu_);

  void WorkerLoop() EXCLUDES(mu_);
  void FinishCreate(uint64_t id) EXCLUDES(mu_, write_mu_);
  void FinishDelete(uint64_t id) EXCLUDES(mu_, write_mu_);

  const CatalogOptions options_;
  const Clock* const clock_;

  // Serializes writers and the store. Lock order: write_mu_, then mu_, then snapshot_mu_.
  Mutex write_mu_;
  const std::unique_ptr<CatalogStore> store_ PT_GUARDED_BY(write_mu_);

  mutable Mutex snapshot_mu_;
  std::shared_ptr<const CatalogSnapshot> snapshot_ GUARDED_BY(snapshot_mu_);

  // Worker state.
  Mutex mu_;
  std::condition_variable_any work_cv_;  // tasks_ grew or stop_ was set
  std::condition_variable_any idle_cv_;  // the worker became idle
  std::deque<Task> tasks_ GUARDED_BY(mu_);
  bool busy_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  bool started_ GUARDED_BY(mu_) = false;
  std::vector<LifecycleHook> creation_hooks_ GUARDED_BY(mu_);
  std::vector<LifecycleHook> deletion_hooks_ GUARDED_BY(mu_);
  std::thread worker_;  // joinable once started; touched only by Start() and the destructor
};

}  // namespace larder::catalog

#endif  // LARDER_CATALOG_CATALOG_H_
