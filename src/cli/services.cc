// Wiring of the subsystems behind `larder serve`. One section per subsystem, in dependency
// order; each section opens what it needs under config.data_dir, hands ownership to
// `s.owned` (or its handler), and registers any flush/stop work in `s.on_shutdown`.
// A section that returns an error aborts start-up; what was already opened is destroyed in
// reverse order.
#include "cli/services.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "catalog/catalog.h"
#include "common/status_macros.h"
#include "common/thread_annotations.h"
#include "offline/flusher.h"
#include "offline/query_engine.h"
#include "online/rocksdb_store.h"
#include "server/athena_api.h"
#include "server/larder_api.h"
#include "server/runtime_api.h"
#include "server/sagemaker_api.h"

namespace larder::cli {

StatusOr<Services> OpenServices(const ServeConfig& config) {
  Services s;

  // ---- 1. Catalog + control plane (X-Amz-Target: SageMaker.*) ----
  // The catalog's lifecycle worker starts at the end, once later sections have registered
  // their hooks (e.g. the online store's AddDeletionHook), so that groups a crash left
  // Creating/Deleting are finished with every hook in place.
  catalog::CatalogOptions catalog_options;
  catalog_options.data_dir = config.data_dir.string();
  catalog_options.region = config.region;
  catalog_options.account_id = config.account_id;
  catalog_options.clock = config.clock;
  ASSIGN_OR_RETURN(std::unique_ptr<catalog::Catalog> opened_catalog,
                   catalog::Catalog::Open(catalog_options));
  catalog::Catalog* catalog = s.owned.Adopt(std::move(opened_catalog));
  // The control-plane handler is built in section 2, once the online store can report sizes.

  // ---- 2. Online store + runtime (rest-json, no X-Amz-Target) ----
  online::RocksDbStoreOptions online_options;
  online_options.path = (config.data_dir / "online").string();
  ASSIGN_OR_RETURN(online_options.durability, online::ParseDurability(config.durability));
  online_options.block_cache_bytes = static_cast<size_t>(config.online_block_cache_mb) << 20;
  online_options.write_buffer_bytes = static_cast<size_t>(config.online_write_buffer_mb) << 20;
  online_options.clock = config.clock;
  ASSIGN_OR_RETURN(std::unique_ptr<online::OnlineStore> opened_store,
                   online::OpenRocksDbStore(online_options));
  online::OnlineStore* online_store = s.owned.Adopt(std::move(opened_store));
  // Deleting a group drops its online rows. The gate keeps the catalog's worker (which
  // outlives the store) from reaching the store once shutdown has begun.
  struct OnlineStoreGate {
    Mutex mu;
    online::OnlineStore* store GUARDED_BY(mu) = nullptr;
  };
  auto gate = std::make_shared<OnlineStoreGate>();
  {
    MutexLock l(&gate->mu);
    gate->store = online_store;
  }
  catalog->AddDeletionHook([gate](const catalog::FeatureGroup& group) -> Status {
    MutexLock l(&gate->mu);
    if (gate->store == nullptr) return Status::Unavailable("the online store is shutting down");
    return gate->store->DropGroup(group.id);
  });
  s.on_shutdown.push_back([gate] {
    MutexLock l(&gate->mu);
    gate->store = nullptr;
  });
  s.runtime = std::make_unique<server::RuntimeApi>(catalog, online_store, config.clock);
  // Describe's OnlineStoreTotalSizeBytes comes from the store (0 once shutdown has begun).
  server::SageMakerApiOptions control_plane_options;
  control_plane_options.online_store_size_bytes =
      [gate](const catalog::FeatureGroup& group) -> int64_t {
    MutexLock l(&gate->mu);
    if (gate->store == nullptr) return 0;
    return static_cast<int64_t>(gate->store->ApproximateGroupBytes(group.id));
  };
  ASSIGN_OR_RETURN(s.control_plane,
                   server::SageMakerApi::Create(catalog, std::move(control_plane_options)));

  // ---- 3. Offline store + Athena (X-Amz-Target: AmazonAthena.*) ----
  // The flusher drains the online store's outbox into Parquet (recovering an interrupted flush
  // first); the query engine reads it through sandboxed DuckDB sessions; Athena runs queries
  // on its workers. Shutdown: Athena cancels its queries, then the flusher flushes what is
  // left while the online store is still open (it was adopted earlier, so it is destroyed later).
  if (config.flush_interval_ms < 1) {
    return Status::InvalidArgument(
        fmt::format("--flush-interval-ms must be >= 1, got {}", config.flush_interval_ms));
  }
  if (config.query_workers < 1) {
    return Status::InvalidArgument(
        fmt::format("--query-workers must be >= 1, got {}", config.query_workers));
  }
  if (config.query_timeout_ms < 1) {
    return Status::InvalidArgument(
        fmt::format("--query-timeout-ms must be >= 1, got {}", config.query_timeout_ms));
  }
  if (config.query_memory_limit_mb < 64) {
    return Status::InvalidArgument(
        fmt::format("--query-memory-limit-mb must be >= 64, got {}", config.query_memory_limit_mb));
  }
  offline::FlusherOptions flusher_options;
  flusher_options.data_dir = config.data_dir.string();
  flusher_options.account_id = config.account_id;
  flusher_options.region = config.region;
  flusher_options.flush_interval_ms = config.flush_interval_ms;
  flusher_options.flush_rows = std::max<uint64_t>(config.flush_rows, 1);
  flusher_options.clock = config.clock;
  ASSIGN_OR_RETURN(std::unique_ptr<offline::Flusher> opened_flusher,
                   offline::Flusher::Open(flusher_options, online_store->outbox(), catalog));
  offline::Flusher* flusher = s.owned.Adopt(std::move(opened_flusher));
  offline::QueryEngineOptions query_options;
  query_options.data_dir = config.data_dir.string();
  query_options.sessions = config.query_workers;
  query_options.memory_limit_bytes = static_cast<int64_t>(config.query_memory_limit_mb) << 20;
  query_options.timeout_ms = config.query_timeout_ms;
  query_options.extra_allowed_directories = {(config.data_dir / "query-results").string() + "/"};
  query_options.clock = config.clock;
  ASSIGN_OR_RETURN(std::unique_ptr<offline::QueryEngine> opened_engine,
                   offline::QueryEngine::Open(query_options, catalog, flusher));
  offline::QueryEngine* query_engine = s.owned.Adopt(std::move(opened_engine));
  server::AthenaApiOptions athena_options;
  athena_options.data_dir = config.data_dir.string();
  athena_options.workers = config.query_workers;
  athena_options.clock = config.clock;
  ASSIGN_OR_RETURN(std::unique_ptr<server::AthenaApi> athena,
                   server::AthenaApi::Create(query_engine, athena_options));
  server::AthenaApi* athena_raw = athena.get();
  s.athena = std::move(athena);
  flusher->Start();
  s.on_shutdown.push_back([flusher] {
    Status st = flusher->Stop();
    if (!st.ok()) spdlog::error("offline store: final flush: {}", st.ToString());
  });
  s.on_shutdown.push_back([athena_raw] { athena_raw->Stop(); });

  // ---- 4. Datasets (X-Amz-Target: Larder.*) ----
  // Builds read the flusher's manifest after a Sync, so they see every acknowledged write.
  server::LarderApiOptions larder_options;
  larder_options.data_dir = config.data_dir.string();
  larder_options.account_id = config.account_id;
  larder_options.region = config.region;
  larder_options.allowed_base_dirs = config.dataset_base_dirs;
  larder_options.memory_limit_bytes = static_cast<int64_t>(config.dataset_memory_limit_mb) << 20;
  ASSIGN_OR_RETURN(s.larder, server::LarderApi::Create(catalog, flusher, larder_options));

  // ---- Last: start the catalog's lifecycle worker (every hook is registered now). ----
  catalog->Start();
  return s;
}

}  // namespace larder::cli
