// The SageMaker control plane (json 1.1) with an arbitrary body for each operation: byte 0
// picks the operation, the rest is the body. Requests reach the handler directly (no SigV4).
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

#include "fuzz/fuzz_util.h"

namespace {
constexpr const char* kOps[] = {
    "CreateFeatureGroup",     "DescribeFeatureGroup",  "UpdateFeatureGroup",
    "DeleteFeatureGroup",     "ListFeatureGroups",     "DescribeFeatureMetadata",
    "UpdateFeatureMetadata",  "Search",                "AddTags",
    "ListTags",               "DeleteTags",            "CreateFeatureGroupX"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  larder::fuzz::Stack& stack = larder::fuzz::Stack::Get();
  larder::server::HttpRequest req;
  req.method = "POST";
  req.target = "/";
  req.headers = {{"content-type", "application/x-amz-json-1.1"},
                 {"x-amz-target", std::string("SageMaker.") + kOps[data[0] % std::size(kOps)]}};
  req.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  larder::server::HttpResponse resp;
  stack.ControlPlane(req, &resp);
  larder::fuzz::CheckResponse(req, resp);
  return 0;
}
