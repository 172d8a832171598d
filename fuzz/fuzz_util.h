// Shared by the libFuzzer targets: a whole `larder serve` stack without sockets, and the checks
// every response must pass.
//
// Thread-safety: the stack is built once per process (first call) and then used by the fuzzing
// thread only; the stores' own background threads run as in the server.
#ifndef LARDER_FUZZ_FUZZ_UTIL_H_
#define LARDER_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "server/http_types.h"

namespace larder::fuzz {

inline constexpr char kAccessKey[] = "AKIALARDERFUZZ000001";
inline constexpr char kSecretKey[] = "larder-fuzz-secret";
inline constexpr char kRegion[] = "us-east-1";
// A group the stack creates at start-up (online + offline store, String identifier and event
// time, Fractional "score", Integral "visits", String list "tags" is not used: Standard storage),
// so runtime requests can reach a real group.
inline constexpr char kGroup[] = "fuzz-group";

class Stack {
 public:
  // The process-wide stack over a fresh temporary data directory. Aborts if it cannot start.
  static Stack& Get();

  // Serves `req` through the Router (SigV4 first), as the HTTP server would.
  void Serve(server::HttpRequest* req, server::HttpResponse* resp);
  // Calls one protocol handler directly (no authentication).
  void ControlPlane(const server::HttpRequest& req, server::HttpResponse* resp);
  void Runtime(const server::HttpRequest& req, server::HttpResponse* resp);
  void Athena(const server::HttpRequest& req, server::HttpResponse* resp);

  // Adds X-Amz-Date and Authorization for `service` (and Host if missing). False if the request
  // cannot be signed (then it is left unsigned).
  bool Sign(server::HttpRequest* req, std::string_view service);

  const std::string& data_dir() const { return data_dir_; }

  struct Impl;

 private:
  Stack();
  Impl* impl_;
  std::string data_dir_;
};

// The response invariants of every API answer, whatever the request (aborts on violation):
//   * the status is 2xx or 4xx, or 501/503 (not configured / shutting down) -- never 500;
//   * a JSON body is well-formed JSON in valid UTF-8;
//   * an error body carries a string "__type" and a message, and x-amzn-ErrorType agrees.
void CheckResponse(const server::HttpRequest& req, const server::HttpResponse& resp);

}  // namespace larder::fuzz

#endif  // LARDER_FUZZ_FUZZ_UTIL_H_
