// Router: the first code every HTTP request meets after parsing.
//   GET /healthz  -> 200 once SetReady(true), 503 before (no auth)
//   GET /metrics  -> Prometheus text (no auth)
//   anything else -> SigV4-verified, then dispatched on X-Amz-Target:
//       "SageMaker.<Op>"     -> control-plane handler  (json 1.1, signing name sagemaker)
//       "AmazonAthena.<Op>"  -> Athena handler         (json 1.1, signing name athena)
//       "Larder.<Op>"        -> Larder's own API       (json 1.1, signing name sagemaker)
//       absent               -> runtime handler        (rest-json, signing name sagemaker)
//       anything else        -> 400 UnknownOperationException
//   A handler that is not configured answers 501 NotImplemented naming the missing part.
// Every API request is counted in Metrics with its duration (auth + handler).
#ifndef LARDER_SERVER_ROUTER_H_
#define LARDER_SERVER_ROUTER_H_

#include <atomic>

#include "server/http_server.h"
#include "server/http_types.h"
#include "server/metrics.h"
#include "server/sigv4.h"

namespace larder::server {

// Thread-safe: Serve is called concurrently from all I/O threads; SetReady from any thread.
class Router final : public HttpHandler {
 public:
  struct Options {
    // Not owned; must outlive the router. Required.
    const SigV4Verifier* verifier = nullptr;
    // Not owned; may be null (then /metrics is empty and nothing is recorded).
    Metrics* metrics = nullptr;
    // Not owned; null means "not configured" (requests for it answer 501).
    ApiHandler* control_plane = nullptr;
    ApiHandler* runtime = nullptr;
    ApiHandler* athena = nullptr;
    ApiHandler* larder = nullptr;  // Larder.CreateDataset (server/larder_api.h)
  };

  explicit Router(Options options);

  // /healthz answers 200 only after SetReady(true).
  void SetReady(bool ready) { ready_.store(ready, std::memory_order_release); }

  // Serves one request: sets req->access_key_id after verification, then calls the handler.
  void Serve(HttpRequest* req, HttpResponse* resp) override;

 private:
  void Dispatch(HttpRequest* req, HttpResponse* resp);

  const Options options_;
  std::atomic<bool> ready_{false};
};

}  // namespace larder::server

#endif  // LARDER_SERVER_ROUTER_H_
