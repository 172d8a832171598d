// The Feature Store runtime (rest-json): byte 0 picks the operation; the rest is
// "<path label>\n<query string>\n<body>" (missing parts are empty). Requests reach the handler
// directly (no SigV4). The label "fuzz-group" names a real group.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  larder::fuzz::Stack& stack = larder::fuzz::Stack::Get();
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  auto take_line = [&rest]() {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return std::string(line);
  };
  const std::string label = take_line();
  const std::string query = take_line();
  larder::server::HttpRequest req;
  req.body = std::string(rest);
  std::string path;
  switch (data[0] % 7) {
    case 0: req.method = "PUT"; path = "/FeatureGroup/" + label; break;
    case 1: req.method = "GET"; path = "/FeatureGroup/" + label; break;
    case 2: req.method = "DELETE"; path = "/FeatureGroup/" + label; break;
    case 3: req.method = "POST"; path = "/BatchGetRecord"; break;
    case 4: req.method = "POST"; path = "/BatchWriteRecord"; break;
    case 5: req.method = "POST"; path = "/FeatureGroup/" + label + "/ListRecords"; break;
    default: req.method = label.empty() ? "PATCH" : label; path = "/" + query; break;
  }
  req.target = query.empty() ? path : path + "?" + query;
  req.headers = {{"content-type", "application/json"}};
  larder::server::HttpResponse resp;
  stack.Runtime(req, &resp);
  larder::fuzz::CheckResponse(req, resp);
  return 0;
}
