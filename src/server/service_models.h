// The botocore service models Larder speaks (src/server/models/<service>/<version>/
// service-2.json), embedded in the binary at build time by embed_file.cmake. Each function
// returns the file's exact text; parse it with ServiceModel::Parse (model_validator.h).
//
// Thread-safety: the returned views point at immutable static storage.
#ifndef LARDER_SERVER_SERVICE_MODELS_H_
#define LARDER_SERVER_SERVICE_MODELS_H_

#include <string_view>

namespace larder::server {

std::string_view SageMakerModelJson();            // sagemaker/2017-07-24 (control plane)
std::string_view FeatureStoreRuntimeModelJson();  // sagemaker-featurestore-runtime/2020-07-01
std::string_view AthenaModelJson();               // athena/2017-05-18

}  // namespace larder::server

#endif  // LARDER_SERVER_SERVICE_MODELS_H_
