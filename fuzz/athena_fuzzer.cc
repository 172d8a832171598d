// The Athena API (json 1.1) over the real query engine (an empty offline store plus the fuzz
// group's table): byte 0 picks the operation, the rest is the body. StartQueryExecution queues a
// real query, so fuzzed SQL also reaches the sandbox check and DuckDB on the query worker.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

#include "fuzz/fuzz_util.h"

namespace {
constexpr const char* kOps[] = {"StartQueryExecution", "GetQueryExecution",
                                "GetQueryResults",     "StopQueryExecution",
                                "ListQueryExecutions", "BatchGetQueryExecution",
                                "StartQueryExecution", "GetWorkGroup"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  larder::fuzz::Stack& stack = larder::fuzz::Stack::Get();
  larder::server::HttpRequest req;
  req.method = "POST";
  req.target = "/";
  req.headers = {{"content-type", "application/x-amz-json-1.1"},
                 {"x-amz-target", std::string("AmazonAthena.") + kOps[data[0] % std::size(kOps)]}};
  req.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  larder::server::HttpResponse resp;
  stack.Athena(req, &resp);
  larder::fuzz::CheckResponse(req, resp);
  return 0;
}
