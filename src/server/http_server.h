// HttpServer: HTTP/1.1 on Boost.Beast, handing each request to an HttpHandler.
//
// N I/O threads, each with its own event loop; a connection lives on one thread for its whole
// life and its requests are served inline on that thread (handlers are fast), so the request
// path takes no lock shared between threads. Keep-alive and pipelining are supported.
// Every response carries `x-amzn-RequestId` (a UUID v4) and `Content-Type`.
//
// Limits, each answered with a JSON error naming the limit (and the connection then closed):
//   header bytes > max_header_bytes      -> 431
//   body bytes   > max_body_bytes        -> 413 (before the body is read when Content-Length says
//   so) request not complete within read_timeout_ms of its first wait (slowloris) -> connection
//   closed connections  > max_connections       -> 503 and closed at once
#ifndef LARDER_SERVER_HTTP_SERVER_H_
#define LARDER_SERVER_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/clock.h"
#include "larder/status.h"
#include "server/http_types.h"

namespace larder::server {

class Metrics;

// What the server calls for each parsed request.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Serves one request on the I/O thread that read it; called concurrently from all I/O
  // threads. `resp` starts as a default HttpResponse (200, application/json, empty). Must not
  // block for long. An exception thrown here becomes a 500 InternalFailure.
  virtual void Serve(HttpRequest* req, HttpResponse* resp) = 0;
};

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // address or name to listen on
    uint16_t port = 8080;            // 0 picks a free port; see port()
    int threads = 0;                 // I/O threads; 0 = hardware concurrency
    uint64_t max_header_bytes = 16 * 1024;
    uint64_t max_body_bytes = 16 * 1024 * 1024;
    int max_connections = 4096;
    int64_t read_timeout_ms = 30'000;  // whole request (header + body), and each response write
    // On Shutdown, a request already arriving gets at most this long to finish arriving.
    int64_t shutdown_grace_ms = 10'000;
    // Not owned; may be null. Requests the server refuses itself (413, 431, 400, 503) are
    // recorded under operation "unknown".
    Metrics* metrics = nullptr;
    // Not owned; stamps HttpRequest::received_micros.
    const Clock* clock = Clock::Real();
  };

  // Binds, listens and starts the I/O threads. `handler` is not owned and must outlive the
  // server. Fails (IOError) if the address cannot be resolved or bound.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const Options& options, HttpHandler* handler);

  // Calls Shutdown().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address and port (the real port when Options::port was 0).
  const std::string& host() const;
  uint16_t port() const;

  // Graceful stop: stops accepting, closes idle connections, lets requests in flight finish
  // (their responses say "Connection: close"), then joins the I/O threads. Blocks until done.
  // Idempotent. Thread-safe, but must not be called from an I/O thread (a handler).
  void Shutdown();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A random (version 4) UUID in its 36-character text form. Cheap: a per-thread generator
// seeded from the OS's CSPRNG. Thread-safe.
std::string NewRequestId();

}  // namespace larder::server

#endif  // LARDER_SERVER_HTTP_SERVER_H_
