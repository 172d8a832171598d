// Test doubles for the offline store's unit tests: an in-memory outbox, a catalog of fixed
// groups and a scratch directory. Test-only; not part of the larder_offline library.
#ifndef LARDER_OFFLINE_OFFLINE_TEST_UTIL_H_
#define LARDER_OFFLINE_OFFLINE_TEST_UTIL_H_

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog_reader.h"
#include "catalog/record.h"
#include "common/thread_annotations.h"
#include "offline/offline_layout.h"
#include "online/outbox.h"

namespace larder::offline::testing {

// An outbox in memory. Trim is "durable" at return: the object outlives simulated crashes.
// Thread-safe.
class FakeOutbox : public online::OutboxReader {
 public:
  uint64_t Append(uint64_t group_id, const catalog::Record& record, int64_t api_micros,
                  bool is_deleted = false) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    online::OutboxEntry e;
    e.seq = ++last_seq_;
    e.group_id = group_id;
    e.api_invocation_time_micros = api_micros;
    e.is_deleted = is_deleted;
    catalog::EncodeRecord(record, &e.record);
    entries_.push_back(std::move(e));
    return last_seq_;
  }
  // Appends raw bytes as the record (for corruption tests).
  uint64_t AppendRaw(uint64_t group_id, std::string bytes) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    online::OutboxEntry e;
    e.seq = ++last_seq_;
    e.group_id = group_id;
    e.record = std::move(bytes);
    entries_.push_back(std::move(e));
    return last_seq_;
  }

  StatusOr<std::vector<online::OutboxEntry>> Read(uint64_t after_seq, size_t max) override
      EXCLUDES(mu_) {
    MutexLock l(&mu_);
    std::vector<online::OutboxEntry> out;
    for (const auto& e : entries_) {
      if (e.seq <= after_seq) continue;
      if (out.size() >= max) break;
      out.push_back(e);
    }
    return out;
  }
  Status Trim(uint64_t up_to_seq) override EXCLUDES(mu_) {
    MutexLock l(&mu_);
    while (!entries_.empty() && entries_.front().seq <= up_to_seq) entries_.pop_front();
    trimmed_ = std::max(trimmed_, up_to_seq);
    ++trims_;
    return Status::OK();
  }
  uint64_t LastSeq() const override EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return last_seq_;
  }
  uint64_t ApproximateCount() const override EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return entries_.size();
  }
  uint64_t trimmed() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return trimmed_;
  }

 private:
  mutable Mutex mu_;
  std::deque<online::OutboxEntry> entries_ GUARDED_BY(mu_);
  uint64_t last_seq_ GUARDED_BY(mu_) = 0;
  uint64_t trimmed_ GUARDED_BY(mu_) = 0;
  uint64_t trims_ GUARDED_BY(mu_) = 0;
};

// A catalog of groups set by the test; "deleted" groups are found by id only. Thread-safe.
class FakeCatalog : public catalog::CatalogReader {
 public:
  void Put(catalog::FeatureGroup g, bool live = true) EXCLUDES(mu_) {
    g.BuildIndex();
    auto p = std::make_shared<const catalog::FeatureGroup>(std::move(g));
    MutexLock l(&mu_);
    by_id_[p->id] = p;
    if (live) {
      live_[p->name] = p;
    } else {
      live_.erase(p->name);
    }
  }
  StatusOr<catalog::GroupPtr> Lookup(std::string_view name) const override EXCLUDES(mu_) {
    MutexLock l(&mu_);
    auto it = live_.find(std::string(name));
    if (it == live_.end()) return Status::NotFound("no group " + std::string(name));
    return it->second;
  }
  StatusOr<catalog::GroupPtr> GetById(uint64_t id) const override EXCLUDES(mu_) {
    MutexLock l(&mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return Status::NotFound("no group id " + std::to_string(id));
    return it->second;
  }
  void ForEach(const std::function<void(const catalog::GroupPtr&)>& fn) const override
      EXCLUDES(mu_) {
    std::vector<catalog::GroupPtr> all;
    {
      MutexLock l(&mu_);
      for (const auto& [name, g] : live_) all.push_back(g);
    }
    for (const auto& g : all) fn(g);
  }

 private:
  mutable Mutex mu_;
  std::map<uint64_t, catalog::GroupPtr> by_id_ GUARDED_BY(mu_);
  std::map<std::string, catalog::GroupPtr> live_ GUARDED_BY(mu_);
};

inline catalog::FeatureDefinition Feature(
    std::string name, catalog::FeatureType type,
    catalog::CollectionType collection = catalog::CollectionType::kNone) {
  catalog::FeatureDefinition f;
  f.name = std::move(name);
  f.type = type;
  f.collection = collection;
  return f;
}

// customer_id String, event_time String, total_purchases Fractional, total_orders Integral,
// tags String List; created at 1700000000.5 (table customer-features_1700000000).
inline catalog::FeatureGroup CustomerGroup(uint64_t id = 1,
                                           std::string name = "customer-features") {
  using catalog::FeatureType;
  catalog::FeatureGroup g;
  g.id = id;
  g.name = std::move(name);
  g.record_identifier_name = "customer_id";
  g.event_time_feature_name = "event_time";
  g.features = {Feature("customer_id", FeatureType::kString),
                Feature("event_time", FeatureType::kString),
                Feature("total_purchases", FeatureType::kFractional),
                Feature("total_orders", FeatureType::kIntegral),
                Feature("tags", FeatureType::kString, catalog::CollectionType::kList)};
  g.offline_enabled = true;
  g.data_catalog = "AwsDataCatalog";
  g.data_database = "sagemaker_featurestore";
  g.creation_time = 1'700'000'000.5;
  g.table_name = g.name + "_1700000000";
  g.status = catalog::GroupStatus::kCreated;
  g.BuildIndex();
  return g;
}

inline catalog::Value Scalar(std::string s) {
  catalog::Value v;
  v.kind = catalog::Value::Kind::kScalar;
  v.scalar = std::move(s);
  return v;
}
inline catalog::Value List(std::vector<std::string> items) {
  catalog::Value v;
  v.kind = catalog::Value::Kind::kList;
  v.list = std::move(items);
  return v;
}
inline catalog::Value Null() { return catalog::Value(); }

inline catalog::Record MakeRecord(std::vector<catalog::Value> values, int64_t event_micros) {
  catalog::Record r;
  r.values = std::move(values);
  r.event_time_micros = event_micros;
  return r;
}

inline std::string Iso(int64_t micros) {
  UtcTime t = ToUtc(micros);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", t.year, t.month, t.day, t.hour,
                     t.minute, t.second);
}

// A CustomerGroup record; the event time `event_micros` (whole seconds) is written as ISO-8601.
inline catalog::Record CustomerRecord(const std::string& id, int64_t event_micros, double purchases,
                                      int64_t orders, std::vector<std::string> tags = {"a"}) {
  return MakeRecord({Scalar(id), Scalar(Iso(event_micros)), Scalar(fmt::format("{}", purchases)),
                     Scalar(std::to_string(orders)), List(std::move(tags))},
                    event_micros);
}

class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("larder-offline-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace larder::offline::testing

#endif  // LARDER_OFFLINE_OFFLINE_TEST_UTIL_H_
