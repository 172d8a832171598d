// Request metrics in the Prometheus text format (served at GET /metrics):
//   larder_requests_total{operation,status}        every API request, by HTTP status
//   larder_request_errors_total{operation,code}    failed requests, by AWS error code
//   larder_request_duration_seconds{operation}     handling time (auth + handler), 50us..10s
// Operation is HttpResponse::operation ("GetRecord", ...), "unknown" when a handler left it empty.
#ifndef LARDER_SERVER_METRICS_H_
#define LARDER_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "common/thread_annotations.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace larder::server {

// Thread-safe. Record() is meant for the request hot path: after the first request of an
// (operation, status) or (operation, code) pair on a thread, it is a lookup in a thread-local
// cache plus the metric updates, with no string building, no registry access and no lock of
// ours (prometheus-cpp's histogram takes its own per-series mutex).
class Metrics {
 public:
  // At most this many distinct operation labels; later ones are counted as "other", so
  // clients sending made-up X-Amz-Target values cannot grow the registry without bound.
  static constexpr size_t kMaxOperations = 256;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Records one finished request. `error_code` is the AWS error code ("" when it succeeded).
  void Record(std::string_view operation, int http_status, std::string_view error_code,
              double seconds);

  // Records a request the HTTP layer refused before any handler saw it (413, 431, 400, 503),
  // under operation "unknown", without a duration. Not for the hot path (takes the registry's
  // family locks).
  void RecordRejection(int http_status, std::string_view error_code);

  // All metrics in the Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

  // The Content-Type of Serialize()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct ThreadCache;
  struct OpEntry;
  ThreadCache& Cache();
  // Slow path: the series for `operation` (or "other" past the cap), created on first use.
  OpEntry MakeOpEntry(std::string_view operation) EXCLUDES(mu_);

  static std::atomic<uint64_t> next_id_;
  const uint64_t id_;  // distinguishes instances in the thread-local caches; never reused
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Histogram>* duration_;

  Mutex mu_;
  std::set<std::string, std::less<>> operations_ GUARDED_BY(mu_);
};

}  // namespace larder::server

#endif  // LARDER_SERVER_METRICS_H_
