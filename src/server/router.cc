#include "server/router.h"

#include <fmt/format.h>

#include <chrono>
#include <string_view>

#include "server/error_map.h"

namespace larder::server {
namespace {

constexpr std::string_view kControlPlanePrefix = "SageMaker.";
constexpr std::string_view kAthenaPrefix = "AmazonAthena.";
constexpr std::string_view kLarderPrefix = "Larder.";
constexpr std::string_view kJsonContentType = "application/x-amz-json-1.1";
constexpr std::string_view kRestJsonContentType = "application/json";

constexpr std::string_view kSageMakerService[] = {"sagemaker"};
constexpr std::string_view kAthenaService[] = {"athena"};
constexpr std::string_view kAnyService[] = {"sagemaker", "athena"};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The AWS error code WriteError put on `resp`, or "".
std::string_view ErrorCodeOf(const HttpResponse& resp) {
  for (const auto& [name, value] : resp.headers) {
    if (EqualsIgnoreCase(name, "x-amzn-ErrorType")) return value;
  }
  return {};
}

}  // namespace

Router::Router(Options options) : options_(options) {}

void Router::Serve(HttpRequest* req, HttpResponse* resp) {
  if (req->method == "GET") {
    std::string_view path = req->path();
    if (path == "/healthz") {
      if (ready_.load(std::memory_order_acquire)) {
        resp->status = 200;
        resp->body = R"({"status":"ok"})";
      } else {
        WriteError(503, "ServiceUnavailable", "Larder is starting up and not ready yet.", resp);
      }
      return;
    }
    if (path == "/metrics") {
      resp->status = 200;
      resp->content_type = Metrics::kContentType;
      if (options_.metrics != nullptr) resp->body = options_.metrics->Serialize();
      return;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  Dispatch(req, resp);
  if (options_.metrics != nullptr) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    options_.metrics->Record(resp->operation, resp->status,
                             resp->status >= 400 ? ErrorCodeOf(*resp) : std::string_view(),
                             elapsed.count());
  }
}

void Router::Dispatch(HttpRequest* req, HttpResponse* resp) {
  const std::string* target = req->Header("x-amz-target");
  ApiHandler* handler = nullptr;
  std::span<const std::string_view> services;
  std::string_view part;  // for the 501 message
  bool runtime = false;
  bool known = true;
  if (target == nullptr) {
    runtime = true;
    handler = options_.runtime;
    services = kSageMakerService;
    part = "The SageMaker Feature Store runtime (PutRecord, GetRecord, ...)";
  } else if (target->starts_with(kControlPlanePrefix)) {
    handler = options_.control_plane;
    services = kSageMakerService;
    part = "The SageMaker control plane (feature groups)";
    resp->operation.assign(std::string_view(*target).substr(kControlPlanePrefix.size()));
  } else if (target->starts_with(kAthenaPrefix)) {
    handler = options_.athena;
    services = kAthenaService;
    part = "Athena (the offline store's SQL)";
    resp->operation.assign(std::string_view(*target).substr(kAthenaPrefix.size()));
  } else if (target->starts_with(kLarderPrefix)) {
    handler = options_.larder;
    services = kSageMakerService;
    part = "Larder's own API (datasets)";
    resp->operation.assign(std::string_view(*target).substr(kLarderPrefix.size()));
  } else {
    known = false;
    services = kAnyService;
  }
  resp->content_type = runtime ? kRestJsonContentType : kJsonContentType;

  const AuthResult auth = options_.verifier->Verify(*req, services);
  if (!auth.ok()) {
    if (runtime) {
      WriteError(403, "AccessForbidden", auth.message, resp);  // rest-json: spec 1.3 / 7
    } else {
      WriteError(AuthErrorHttpStatus(auth.error), AuthErrorCode(auth.error), auth.message, resp);
    }
    return;
  }
  req->access_key_id.assign(auth.access_key_id);

  if (!known) {
    WriteError(400, "UnknownOperationException",
               fmt::format("Unknown X-Amz-Target '{}': Larder serves 'SageMaker.<Operation>' "
                           "(control plane), 'AmazonAthena.<Operation>' (Athena) and the Feature "
                           "Store runtime (requests without X-Amz-Target).",
                           *target),
               resp);
    return;
  }
  if (handler == nullptr) {
    WriteError(501, "NotImplemented",
               fmt::format("{} is not configured in this server; cannot serve {} {}{}{}.", part,
                           req->method, req->path(), target != nullptr ? " X-Amz-Target " : "",
                           target != nullptr ? std::string_view(*target) : std::string_view()),
               resp);
    return;
  }
  handler->Handle(*req, resp);
}

}  // namespace larder::server
