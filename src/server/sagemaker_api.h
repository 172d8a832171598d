// SageMakerApi: the SageMaker control plane (json 1.1, X-Amz-Target "SageMaker.<Op>") for
// feature groups: CreateFeatureGroup, DescribeFeatureGroup, ListFeatureGroups,
// UpdateFeatureGroup, DeleteFeatureGroup, DescribeFeatureMetadata, UpdateFeatureMetadata,
// Search (FeatureGroup, FeatureMetadata), AddTags, ListTags and DeleteTags.
//
// Each request is checked against the embedded botocore model (model_validator.h) before the
// catalog's semantic rules run; responses follow the model's output shapes (spec 3.7):
// timestamps are epoch-second numbers, unset optionals are omitted. Errors go out through
// error_map.h (ValidationException, ResourceNotFound, ResourceInUse, ResourceLimitExceeded).
#ifndef LARDER_SERVER_SAGEMAKER_API_H_
#define LARDER_SERVER_SAGEMAKER_API_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "catalog/catalog.h"
#include "larder/status.h"
#include "server/http_types.h"
#include "server/model_validator.h"

namespace larder::server {

struct SageMakerApiOptions {
  // Reports a group's OnlineStoreTotalSizeBytes for Describe. Null means 0. Called on the
  // request thread; must be thread-safe and fast.
  std::function<int64_t(const catalog::FeatureGroup&)> online_store_size_bytes;
};

// Thread-safe: Handle may be called concurrently from every I/O thread.
class SageMakerApi final : public ApiHandler {
 public:
  // `catalog` is not owned and must outlive the handler. Fails only if the embedded model does
  // not parse (a build problem).
  static StatusOr<std::unique_ptr<SageMakerApi>> Create(catalog::Catalog* catalog,
                                                        SageMakerApiOptions options = {});

  void Handle(const HttpRequest& req, HttpResponse* resp) override;

 private:
  SageMakerApi(catalog::Catalog* catalog, SageMakerApiOptions options,
               std::unique_ptr<ServiceModel> model);

  catalog::Catalog* const catalog_;
  const SageMakerApiOptions options_;
  const std::unique_ptr<ServiceModel> model_;
};

}  // namespace larder::server

#endif  // LARDER_SERVER_SAGEMAKER_API_H_
