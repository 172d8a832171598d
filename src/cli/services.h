// The subsystems behind `larder serve`: what OpenServices builds from the parsed flags, and
// who owns it. serve.cc puts the HTTP front door (router, SigV4, metrics) in front of it.
#ifndef LARDER_CLI_SERVICES_H_
#define LARDER_CLI_SERVICES_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "larder/status.h"
#include "server/http_types.h"

namespace larder::cli {

// The parsed `larder serve` flags. Defaults are the documented flag defaults.
struct ServeConfig {
  std::filesystem::path data_dir = "./larder-data";  // created if missing
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;  // 0 = pick a free port
  std::string region = "us-east-1";
  std::string account_id = "123456789012";  // 12 digits; goes into every ARN
  std::string access_key_id;                // resolved: flag, env, or DIR/credentials
  std::string secret_access_key;
  int threads = 0;  // I/O threads; 0 = hardware concurrency
  uint64_t max_body_bytes = 16 * 1024 * 1024;
  uint64_t max_header_bytes = 16 * 1024;
  int max_connections = 4096;
  int64_t read_timeout_ms = 30'000;
  const Clock* clock = Clock::Real();  // not owned

  // Online store (services.cc section 2).
  std::string durability = "process";   // "process": survives kill -9; "fsync": power loss
  // Shared RocksDB block cache (data, index and filter blocks). A cap, not an allocation: idle
  // RSS does not grow with it. 8 MiB thrashed on filter blocks when updating 1M existing records
  // (12.5k rows/s vs 44.6k rows/s with 256 MiB, bench/ingest --rerun).
  uint64_t online_block_cache_mb = 64;
  uint64_t online_write_buffer_mb = 4;  // records memtable; all memtables capped at 3x

  // Offline store + Athena (services.cc section 3).
  int64_t flush_interval_ms = 1'000;      // waiting writes reach Parquet at least this often
  uint64_t flush_rows = 10'000;           // ...or as soon as this many wait
  int query_workers = 2;                  // Athena queries that run at once
  uint64_t query_memory_limit_mb = 1024;  // DuckDB memory shared by the running queries
  int64_t query_timeout_ms = 60'000;      // a query running longer is stopped (FAILED)

  // Datasets, Larder.CreateDataset (services.cc section 4).
  std::vector<std::string> dataset_base_dirs;  // base files may come from here, besides DIR/uploads
  uint64_t dataset_memory_limit_mb = 1024;     // DuckDB memory of one dataset build (it spills)
};

// Owns heterogeneous objects (stores, engines, background workers) and destroys them in the
// reverse order of adoption. Thread-compatible. Move-only.
class OwnedObjects {
 public:
  OwnedObjects() = default;
  OwnedObjects(OwnedObjects&&) = default;
  OwnedObjects& operator=(OwnedObjects&&) = default;
  ~OwnedObjects() {
    while (!objects_.empty()) objects_.pop_back();
  }

  // Takes ownership of `object` and returns a non-owning pointer that stays valid until this
  // OwnedObjects is destroyed.
  template <typename T>
  T* Adopt(std::unique_ptr<T> object) {
    T* raw = object.get();
    objects_.push_back(std::make_unique<Holder<T>>(std::move(object)));
    return raw;
  }

 private:
  struct HolderBase {
    virtual ~HolderBase() = default;
  };
  template <typename T>
  struct Holder : HolderBase {
    explicit Holder(std::unique_ptr<T> p) : object(std::move(p)) {}
    std::unique_ptr<T> object;
  };
  std::vector<std::unique_ptr<HolderBase>> objects_;
};

// Everything `larder serve` runs. A null handler means that part is not configured yet: the
// router answers its requests with 501.
//
// Lifetime: serve.cc stops the HTTP server first (no handler runs after that), then calls
// Shutdown() (on_shutdown in reverse order: flush, stop background threads), then destroys
// Services: the handlers first, then `owned` in reverse order of adoption.
struct Services {
  OwnedObjects owned;  // declared first: destroyed last, after the handlers that use it

  std::unique_ptr<server::ApiHandler> control_plane;  // X-Amz-Target: SageMaker.*
  std::unique_ptr<server::ApiHandler> runtime;        // rest-json: /FeatureGroup/..., /Batch*
  std::unique_ptr<server::ApiHandler> athena;         // X-Amz-Target: AmazonAthena.*
  std::unique_ptr<server::ApiHandler> larder;         // X-Amz-Target: Larder.* (datasets)

  std::vector<std::function<void()>> on_shutdown;

  // Runs on_shutdown in reverse order of registration, once.
  void Shutdown() {
    while (!on_shutdown.empty()) {
      std::function<void()> fn = std::move(on_shutdown.back());
      on_shutdown.pop_back();
      fn();
    }
  }
};

// Opens the stores under config.data_dir and builds the protocol handlers.
StatusOr<Services> OpenServices(const ServeConfig& config);

}  // namespace larder::cli

#endif  // LARDER_CLI_SERVICES_H_
