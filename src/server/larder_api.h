// LarderApi: Larder's own json 1.1 operations, X-Amz-Target "Larder.<Op>" (signed like the
// control plane, signing name "sagemaker"). docs/datasets.md documents the wire format.
//
//   Larder.CreateDataset   builds a point-in-time dataset (offline/dataset_builder.h) into
//                          DATA_DIR/datasets/<DatasetId>.<csv|parquet> and answers
//                          {DatasetId, OutputPath, RowCount, Columns, ElapsedMillis}.
//
// Freshness: with a Flusher, a build first flushes every write acknowledged before the request
// (Flusher::Sync) and then reads one manifest snapshot, so it sees all of them and no file twice.
//
// Base files are a security boundary: a client names a base file relative to DATA_DIR/uploads,
// or by an absolute path inside one of `allowed_base_dirs`; the resolved path (symlinks
// followed) must stay inside one of those directories, else AccessDeniedException.
//
// Builds run on the request's I/O thread; at most `max_concurrent_builds` at once, further
// requests get ServiceUnavailable (503, which botocore retries).
//
// Thread-safety: thread-safe; Handle is called concurrently from every I/O thread.
#ifndef LARDER_SERVER_LARDER_API_H_
#define LARDER_SERVER_LARDER_API_H_

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "catalog/catalog_reader.h"
#include "common/thread_annotations.h"
#include "larder/status.h"
#include "offline/dataset_builder.h"
#include "offline/flusher.h"
#include "offline/offline_layout.h"
#include "server/http_types.h"

namespace larder::server {

struct LarderApiOptions {
  std::string data_dir;  // required: the server's data directory
  std::string account_id = "123456789012";
  std::string region = "us-east-1";
  // More absolute directories base files may be read from (besides DATA_DIR/uploads).
  std::vector<std::string> allowed_base_dirs;
  int max_concurrent_builds = 1;
  int64_t memory_limit_bytes = 1ll << 30;  // per build
  int threads = 0;                         // per build; 0 = one per core
};

class LarderApi final : public ApiHandler {
 public:
  // `catalog` is not owned and must outlive the handler. `flusher` may be null: then group
  // files are listed from disk and nothing is flushed first (tests, tools); else not owned and
  // must outlive the handler. Creates DATA_DIR/uploads and DATA_DIR/datasets.
  static StatusOr<std::unique_ptr<LarderApi>> Create(const catalog::CatalogReader* catalog,
                                                     offline::Flusher* flusher,
                                                     LarderApiOptions options);

  void Handle(const HttpRequest& req, HttpResponse* resp) override;

  std::string UploadsDir() const;   // DATA_DIR/uploads
  std::string DatasetsDir() const;  // DATA_DIR/datasets

 private:
  LarderApi(const catalog::CatalogReader* catalog, offline::Flusher* flusher,
            LarderApiOptions options, std::unique_ptr<offline::DatasetBuilder> builder);

  StatusOr<std::string> CreateDataset(const std::string& body) EXCLUDES(mu_);
  // The canonical path of a client-named base file, or PermissionDenied / InvalidArgument.
  StatusOr<std::string> ResolveBasePath(const std::string& path) const;
  std::string NewDatasetId() EXCLUDES(mu_);

  const catalog::CatalogReader* const catalog_;
  offline::Flusher* const flusher_;
  const LarderApiOptions options_;
  const offline::OfflineLayout layout_;
  const std::unique_ptr<offline::DatasetBuilder> builder_;

  Mutex mu_;
  int running_ GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ GUARDED_BY(mu_);
};

}  // namespace larder::server

#endif  // LARDER_SERVER_LARDER_API_H_
