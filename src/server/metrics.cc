#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

namespace larder::server {
namespace {

// 50us .. 10s: GetRecord lives at the low end, Athena queries and bulk writes at the high end.
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};
  return *buckets;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Distinct Metrics instances a thread keeps caches for; older ones are dropped.
constexpr size_t kMaxCachedInstances = 8;

}  // namespace

// The series of one operation, as seen by one thread.
struct Metrics::OpEntry {
  std::string label;  // the operation label actually used ("other" past the cap)
  prometheus::Histogram* duration = nullptr;
  std::vector<std::pair<int, prometheus::Counter*>> by_status;
  std::vector<std::pair<std::string, prometheus::Counter*>> by_code;
};

// Per-thread, per-instance cache: touched only by its own thread.
struct Metrics::ThreadCache {
  std::unordered_map<std::string, OpEntry, StringHash, std::equal_to<>> ops;
};

std::atomic<uint64_t> Metrics::next_id_{1};

Metrics::Metrics()
    : id_(next_id_.fetch_add(1, std::memory_order_relaxed)),
      registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("larder_requests_total")
                   .Help("API requests served, by operation and HTTP status.")
                   .Register(*registry_);
  errors_ = &prometheus::BuildCounter()
                 .Name("larder_request_errors_total")
                 .Help("API requests that failed, by operation and AWS error code.")
                 .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("larder_request_duration_seconds")
                   .Help("Time to authenticate and handle an API request, by operation.")
                   .Register(*registry_);
}

Metrics::~Metrics() = default;

Metrics::ThreadCache& Metrics::Cache() {
  thread_local std::vector<std::pair<uint64_t, std::unique_ptr<ThreadCache>>> caches;
  for (auto& [id, cache] : caches) {
    if (id == id_) return *cache;
  }
  if (caches.size() >= kMaxCachedInstances) caches.erase(caches.begin());
  caches.emplace_back(id_, std::make_unique<ThreadCache>());
  return *caches.back().second;
}

Metrics::OpEntry Metrics::MakeOpEntry(std::string_view operation) {
  OpEntry e;
  {
    MutexLock lock(&mu_);
    if (operations_.find(operation) != operations_.end()) {
      e.label = std::string(operation);
    } else if (operations_.size() < kMaxOperations) {
      e.label = std::string(operation);
      operations_.insert(e.label);
    } else {
      e.label = "other";
    }
  }
  // Family::Add is thread-safe and returns the existing series for known labels.
  e.duration = &duration_->Add({{"operation", e.label}}, DurationBuckets());
  return e;
}

void Metrics::Record(std::string_view operation, int http_status, std::string_view error_code,
                     double seconds) {
  if (operation.empty()) operation = "unknown";
  ThreadCache& cache = Cache();
  auto it = cache.ops.find(operation);
  if (it == cache.ops.end()) {
    it = cache.ops.emplace(std::string(operation), MakeOpEntry(operation)).first;
  }
  OpEntry& e = it->second;

  prometheus::Counter* requests = nullptr;
  for (const auto& [status, counter] : e.by_status) {
    if (status == http_status) {
      requests = counter;
      break;
    }
  }
  if (requests == nullptr) {
    requests = &requests_->Add({{"operation", e.label}, {"status", std::to_string(http_status)}});
    e.by_status.emplace_back(http_status, requests);
  }
  requests->Increment();

  if (!error_code.empty()) {
    prometheus::Counter* errors = nullptr;
    for (const auto& [code, counter] : e.by_code) {
      if (code == error_code) {
        errors = counter;
        break;
      }
    }
    if (errors == nullptr) {
      errors = &errors_->Add({{"operation", e.label}, {"code", std::string(error_code)}});
      e.by_code.emplace_back(std::string(error_code), errors);
    }
    errors->Increment();
  }
  e.duration->Observe(seconds);
}

void Metrics::RecordRejection(int http_status, std::string_view error_code) {
  requests_->Add({{"operation", "unknown"}, {"status", std::to_string(http_status)}}).Increment();
  if (!error_code.empty()) {
    errors_->Add({{"operation", "unknown"}, {"code", std::string(error_code)}}).Increment();
  }
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace larder::server
