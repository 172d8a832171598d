#include "catalog/catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/status_macros.h"

namespace larder::catalog {
namespace {

char LowerAscii(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

Status GroupNotFound(std::string_view name_or_arn) {
  return Status::NotFound(
      "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name " +
      std::string(name_or_arn));
}

std::string TrimTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

size_t CaseInsensitiveHash::operator()(std::string_view s) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) {
    h ^= static_cast<unsigned char>(LowerAscii(c));
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

bool CaseInsensitiveEqual::operator()(std::string_view a, std::string_view b) const {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

Catalog::Catalog(const CatalogOptions& options, std::unique_ptr<CatalogStore> store)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      store_(std::move(store)),
      snapshot_(std::make_shared<const CatalogSnapshot>()) {}

StatusOr<std::unique_ptr<Catalog>> Catalog::Open(const CatalogOptions& options) {
  if (options.data_dir.empty()) {
    return Status::InvalidArgument("CatalogOptions.data_dir is empty");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<FileCatalogStore> store,
                   FileCatalogStore::Open(options.data_dir + "/catalog"));
  return Open(options, std::move(store));
}

StatusOr<std::unique_ptr<Catalog>> Catalog::Open(const CatalogOptions& options,
                                                 std::unique_ptr<CatalogStore> store) {
  if (store == nullptr) return Status::InvalidArgument("Catalog::Open: store is null");
  if (options.account_id.size() != 12 ||
      !std::all_of(options.account_id.begin(), options.account_id.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument("account id '" + options.account_id +
                                   "' is not 12 decimal digits");
  }
  if (options.region.empty()) return Status::InvalidArgument("region is empty");
  std::unique_ptr<Catalog> catalog(new Catalog(options, std::move(store)));
  RETURN_IF_ERROR(catalog->Load());
  return catalog;
}

Status Catalog::Load() {
  MutexLock l(&write_mu_);
  ASSIGN_OR_RETURN(CatalogStore::Contents contents, store_->Load());
  auto snap = std::make_shared<CatalogSnapshot>();
  for (FeatureGroup& g : contents.archived) {
    auto p = std::make_shared<const FeatureGroup>(std::move(g));
    snap->by_id[p->id] = p;
  }
  std::vector<Task> recovered;
  for (FeatureGroup& g : contents.live) {
    auto p = std::make_shared<const FeatureGroup>(std::move(g));
    if (!snap->by_name.emplace(p->name, p).second) {
      return Status::Corruption("two live feature groups are named '" + p->name +
                                "' (ignoring case); ids " + std::to_string(p->id) + " and " +
                                std::to_string(snap->by_name.find(p->name)->second->id));
    }
    snap->by_id[p->id] = p;
    if (p->status == GroupStatus::kCreating) recovered.push_back({TaskKind::kFinishCreate, p->id});
    if (p->status == GroupStatus::kDeleting) recovered.push_back({TaskKind::kFinishDelete, p->id});
  }
  {
    MutexLock s(&snapshot_mu_);
    snapshot_ = std::move(snap);
  }
  for (const Task& t : recovered) Enqueue(t);
  return Status::OK();
}

Catalog::~Catalog() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Catalog::AddCreationHook(LifecycleHook hook) {
  MutexLock l(&mu_);
  creation_hooks_.push_back(std::move(hook));
}

void Catalog::AddDeletionHook(LifecycleHook hook) {
  MutexLock l(&mu_);
  deletion_hooks_.push_back(std::move(hook));
}

void Catalog::Start() {
  MutexLock l(&mu_);
  if (started_) return;
  started_ = true;
  worker_ = std::thread([this] { WorkerLoop(); });
}

bool Catalog::WaitForIdle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock l(&mu_);
  while (!tasks_.empty() || busy_) {
    if (idle_cv_.wait_until(mu_, deadline) == std::cv_status::timeout) {
      return tasks_.empty() && !busy_;
    }
  }
  return true;
}

void Catalog::Enqueue(Task task) {
  {
    MutexLock l(&mu_);
    tasks_.push_back(task);
  }
  work_cv_.notify_one();
}

void Catalog::WorkerLoop() {
  while (true) {
    Task task;
    {
      MutexLock l(&mu_);
      while (tasks_.empty() && !stop_) work_cv_.wait(mu_);
      if (stop_) return;
      task = tasks_.front();
      tasks_.pop_front();
      busy_ = true;
    }
    if (task.kind == TaskKind::kFinishCreate) {
      FinishCreate(task.id);
    } else {
      FinishDelete(task.id);
    }
    {
      MutexLock l(&mu_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

double Catalog::NowSeconds() const { return static_cast<double>(clock_->NowMicros()) / 1e6; }

std::string Catalog::ArnFor(std::string_view name) const {
  return "arn:aws:sagemaker:" + options_.region + ":" + options_.account_id + ":feature-group/" +
         Lower(name);
}

std::shared_ptr<const CatalogSnapshot> Catalog::Snapshot() const {
  MutexLock l(&snapshot_mu_);
  return snapshot_;
}

StatusOr<GroupPtr> Catalog::Lookup(std::string_view name_or_arn) const {
  std::shared_ptr<const CatalogSnapshot> snap = Snapshot();
  std::string_view name = name_or_arn;
  bool is_arn = name.substr(0, 4) == "arn:";
  if (is_arn) {
    constexpr std::string_view kMarker = ":feature-group/";
    size_t p = name.find(kMarker);
    if (p == std::string_view::npos) return GroupNotFound(name_or_arn);
    name = name.substr(p + kMarker.size());
  }
  auto it = snap->by_name.find(name);
  if (it == snap->by_name.end()) return GroupNotFound(name_or_arn);
  if (is_arn && !CaseInsensitiveEqual()(it->second->arn, name_or_arn)) {
    return GroupNotFound(name_or_arn);
  }
  return it->second;
}

StatusOr<GroupPtr> Catalog::GetById(uint64_t id) const {
  std::shared_ptr<const CatalogSnapshot> snap = Snapshot();
  auto it = snap->by_id.find(id);
  if (it == snap->by_id.end()) {
    return Status::NotFound("no feature group has ever had id " + std::to_string(id));
  }
  return it->second;
}

void Catalog::ForEach(const std::function<void(const GroupPtr&)>& fn) const {
  std::shared_ptr<const CatalogSnapshot> snap = Snapshot();
  for (const auto& [name, g] : snap->by_name) fn(g);
}

void Catalog::Publish(GroupPtr group, bool archived) {
  auto next = std::make_shared<CatalogSnapshot>(*Snapshot());
  next->by_id[group->id] = group;
  if (archived) {
    next->by_name.erase(group->name);
  } else {
    next->by_name.insert_or_assign(group->name, group);
  }
  MutexLock l(&snapshot_mu_);
  snapshot_ = std::move(next);
}

StatusOr<GroupPtr> Catalog::CreateGroup(FeatureGroup g) {
  RETURN_IF_ERROR(ValidateNewGroup(g));
  MutexLock l(&write_mu_);
  std::shared_ptr<const CatalogSnapshot> snap = Snapshot();
  if (snap->by_name.count(g.name) != 0) {
    return Status::AlreadyExists("Resource Already Exists: FeatureGroup with name " + g.name +
                                 " already exists. Choose a different name.");
  }
  if (snap->by_name.size() >= options_.max_groups) {
    std::string n = std::to_string(options_.max_groups);
    return Status::ResourceExhausted(
        "The account-level service limit 'Maximum number of feature groups' is " + n +
        " FeatureGroups, with current utilization of " + std::to_string(snap->by_name.size()) +
        " FeatureGroups and a request delta of 1 FeatureGroups. Please use AWS Service Quotas "
        "to request an increase for this quota. If AWS Service Quotas is not available, contact "
        "AWS support to request an increase for this quota.");
  }
  ASSIGN_OR_RETURN(g.id, store_->AllocateId());
  double now = NowSeconds();
  std::string epoch = std::to_string(static_cast<int64_t>(std::floor(now)));
  g.arn = ArnFor(g.name);
  g.creation_time = now;
  g.last_modified_time = 0;
  g.status = GroupStatus::kCreating;
  g.failure_reason.clear();
  g.last_update_status.clear();
  g.last_update_failure_reason.clear();
  if (g.throughput_mode.empty()) g.throughput_mode = "OnDemand";
  if (g.offline_enabled) {
    g.resolved_output_s3_uri = TrimTrailingSlashes(g.s3_uri) + "/" + options_.account_id +
                               "/sagemaker/" + options_.region + "/offline-store/" + g.name + "-" +
                               epoch + "/data";
    if (g.data_catalog.empty() && g.data_database.empty() && g.table_name.empty()) {
      g.data_catalog = "AwsDataCatalog";
      g.data_database = "sagemaker_featurestore";
      g.table_name = g.name + "_" + epoch;
    }
  }
  for (FeatureDefinition& f : g.features) {
    f.metadata.creation_time = now;
    f.metadata.last_modified_time = now;
  }
  g.BuildIndex();
  RETURN_IF_ERROR(store_->PutGroup(g));
  auto p = std::make_shared<const FeatureGroup>(std::move(g));
  Publish(p, /*archived=*/false);
  Enqueue({TaskKind::kFinishCreate, p->id});
  return GroupPtr(p);
}

Status Catalog::DeleteGroup(std::string_view name) {
  MutexLock l(&write_mu_);
  if (name.substr(0, 4) == "arn:") return GroupNotFound(name);
  ASSIGN_OR_RETURN(GroupPtr cur, Lookup(name));
  if (cur->status == GroupStatus::kDeleting) return Status::OK();
  FeatureGroup g = *cur;
  g.status = GroupStatus::kDeleting;
  RETURN_IF_ERROR(store_->PutGroup(g));
  auto p = std::make_shared<const FeatureGroup>(std::move(g));
  Publish(p, /*archived=*/false);
  Enqueue({TaskKind::kFinishDelete, p->id});
  return Status::OK();
}

void Catalog::FinishCreate(uint64_t id) {
  StatusOr<GroupPtr> found = GetById(id);
  if (!found.ok() || (*found)->status != GroupStatus::kCreating) return;
  std::vector<LifecycleHook> hooks;
  {
    MutexLock l(&mu_);
    hooks = creation_hooks_;
  }
  Status hook_status;
  for (const LifecycleHook& hook : hooks) {
    hook_status = hook(**found);
    if (!hook_status.ok()) break;
  }
  if (hook_status.code() == StatusCode::kUnavailable) {
    spdlog::warn("catalog: creation of feature group '{}' postponed to the next start: {}",
                 (*found)->name, hook_status.ToString());
    return;
  }
  MutexLock l(&write_mu_);
  StatusOr<GroupPtr> cur = GetById(id);  // a delete may have overtaken the hooks
  if (!cur.ok() || (*cur)->status != GroupStatus::kCreating) return;
  FeatureGroup g = **cur;
  if (hook_status.ok()) {
    g.status = GroupStatus::kCreated;
  } else {
    g.status = GroupStatus::kCreateFailed;
    g.failure_reason = hook_status.message();
  }
  Status s = store_->PutGroup(g);
  if (!s.ok()) {
    // The persisted state is still Creating, so the next Open retries; report it now.
    spdlog::error("catalog: persisting status of feature group '{}' failed: {}", g.name,
                  s.ToString());
    g.status = GroupStatus::kCreateFailed;
    g.failure_reason = "could not persist the feature group: " + s.message();
  }
  Publish(std::make_shared<const FeatureGroup>(std::move(g)), /*archived=*/false);
}

void Catalog::FinishDelete(uint64_t id) {
  StatusOr<GroupPtr> found = GetById(id);
  if (!found.ok() || (*found)->status != GroupStatus::kDeleting) return;
  std::vector<LifecycleHook> hooks;
  {
    MutexLock l(&mu_);
    hooks = deletion_hooks_;
  }
  Status hook_status;
  for (const LifecycleHook& hook : hooks) {
    hook_status = hook(**found);
    if (!hook_status.ok()) break;
  }
  if (hook_status.code() == StatusCode::kUnavailable) {
    spdlog::warn("catalog: deletion of feature group '{}' postponed to the next start: {}",
                 (*found)->name, hook_status.ToString());
    return;
  }
  MutexLock l(&write_mu_);
  StatusOr<GroupPtr> cur = GetById(id);
  if (!cur.ok() || (*cur)->status != GroupStatus::kDeleting) return;
  if (hook_status.ok()) hook_status = store_->DeleteGroup(id);
  if (hook_status.ok()) {
    Publish(*cur, /*archived=*/true);
    return;
  }
  spdlog::error("catalog: deleting feature group '{}' failed: {}", (*cur)->name,
                hook_status.ToString());
  FeatureGroup g = **cur;
  g.status = GroupStatus::kDeleteFailed;
  g.failure_reason = hook_status.message();
  Status s = store_->PutGroup(g);
  if (!s.ok()) {
    spdlog::error("catalog: persisting DeleteFailed for '{}' failed: {}", g.name, s.ToString());
  }
  Publish(std::make_shared<const FeatureGroup>(std::move(g)), /*archived=*/false);
}

StatusOr<GroupPtr> Catalog::Mutate(std::string_view name_or_arn, bool any_live_status,
                                   const std::function<Status(FeatureGroup*)>& mutate) {
  MutexLock l(&write_mu_);
  ASSIGN_OR_RETURN(GroupPtr cur, Lookup(name_or_arn));
  bool allowed = any_live_status ? cur->status != GroupStatus::kDeleting
                                 : cur->status == GroupStatus::kCreated;
  if (!allowed) {
    return Status::FailedPrecondition("FeatureGroup " + cur->name + " is " +
                                      std::string(GroupStatusName(cur->status)) +
                                      "; it can be updated only when its status is " +
                                      (any_live_status ? "not Deleting" : "Created"));
  }
  FeatureGroup g = *cur;
  RETURN_IF_ERROR(mutate(&g));
  g.BuildIndex();
  RETURN_IF_ERROR(store_->PutGroup(g));
  auto p = std::make_shared<const FeatureGroup>(std::move(g));
  Publish(p, /*archived=*/false);
  return GroupPtr(p);
}

StatusOr<GroupPtr> Catalog::AddFeatures(std::string_view name_or_arn,
                                        std::vector<FeatureDefinition> additions) {
  double now = NowSeconds();
  return Mutate(name_or_arn, false, [&](FeatureGroup* g) -> Status {
    RETURN_IF_ERROR(ValidateFeatureAdditions(*g, additions));
    for (FeatureDefinition& f : additions) {
      f.metadata.creation_time = now;
      f.metadata.last_modified_time = now;
      g->features.push_back(std::move(f));
    }
    g->last_modified_time = now;
    g->last_update_status = "Successful";
    g->last_update_failure_reason.clear();
    return Status::OK();
  });
}

StatusOr<GroupPtr> Catalog::SetDefaultTtl(std::string_view name_or_arn,
                                          std::optional<TtlDuration> ttl) {
  double now = NowSeconds();
  return Mutate(name_or_arn, false, [&](FeatureGroup* g) -> Status {
    RETURN_IF_ERROR(ValidateTtlUpdate(*g, ttl));
    g->ttl = ttl;
    g->last_modified_time = now;
    g->last_update_status = "Successful";
    g->last_update_failure_reason.clear();
    return Status::OK();
  });
}

StatusOr<GroupPtr> Catalog::UpdateThroughput(std::string_view name_or_arn,
                                             const ThroughputUpdate& update) {
  double now = NowSeconds();
  return Mutate(name_or_arn, false, [&](FeatureGroup* g) -> Status {
    FeatureGroup updated;
    RETURN_IF_ERROR(ApplyThroughputUpdate(*g, update, now, &updated));
    *g = std::move(updated);
    g->last_modified_time = now;
    g->last_update_status = "Successful";
    g->last_update_failure_reason.clear();
    return Status::OK();
  });
}

StatusOr<GroupPtr> Catalog::UpdateFeatureMetadata(std::string_view name_or_arn,
                                                  std::string_view feature_name,
                                                  const FeatureMetadataUpdate& update) {
  double now = NowSeconds();
  return Mutate(name_or_arn, true, [&](FeatureGroup* g) -> Status {
    int i = g->FeatureIndex(feature_name);
    if (i < 0) {
      return Status::NotFound(
          "Resource Not Found: Amazon SageMaker can't find a Feature with name " +
          std::string(feature_name) + " in FeatureGroup " + g->name);
    }
    for (const std::string& key : update.parameter_removals) {
      for (const auto& [k, v] : update.parameter_additions) {
        if (k == key) {
          return Status::InvalidArgument("Parameter key '" + key +
                                         "' is in both ParameterAdditions and ParameterRemovals");
        }
      }
    }
    FeatureMetadata& m = g->features[static_cast<size_t>(i)].metadata;
    std::map<std::string, std::string> params = m.parameters;
    for (const std::string& key : update.parameter_removals) params.erase(key);
    for (const auto& [k, v] : update.parameter_additions) params[k] = v;
    if (params.size() > kMaxFeatureParameters) {
      return Status::ResourceExhausted(
          "Feature " + std::string(feature_name) + " would have " + std::to_string(params.size()) +
          " parameters; a feature may have at most " + std::to_string(kMaxFeatureParameters));
    }
    m.parameters = std::move(params);
    if (update.description.has_value()) m.description = *update.description;
    m.last_modified_time = now;
    return Status::OK();
  });
}

StatusOr<GroupPtr> Catalog::AddTags(std::string_view arn,
                                    const std::vector<std::pair<std::string, std::string>>& tags) {
  if (arn.substr(0, 4) != "arn:") return GroupNotFound(arn);
  return Mutate(arn, true, [&](FeatureGroup* g) -> Status {
    RETURN_IF_ERROR(ValidateTags(g->tags, tags));
    for (const auto& tag : tags) {
      auto it = std::find_if(g->tags.begin(), g->tags.end(),
                             [&](const auto& t) { return t.first == tag.first; });
      if (it != g->tags.end()) {
        it->second = tag.second;
      } else {
        g->tags.push_back(tag);
      }
    }
    return Status::OK();
  });
}

StatusOr<GroupPtr> Catalog::DeleteTags(std::string_view arn, const std::vector<std::string>& keys) {
  if (arn.substr(0, 4) != "arn:") return GroupNotFound(arn);
  return Mutate(arn, true, [&](FeatureGroup* g) -> Status {
    std::erase_if(g->tags, [&](const auto& t) {
      return std::find(keys.begin(), keys.end(), t.first) != keys.end();
    });
    return Status::OK();
  });
}

}  // namespace larder::catalog
