// The HTTP request/response values the protocol handlers see, free of Boost types.
// The HTTP adapter (http_server.cc) converts Beast messages to and from these.
#ifndef LARDER_SERVER_HTTP_TYPES_H_
#define LARDER_SERVER_HTTP_TYPES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace larder::server {

struct HttpRequest {
  std::string method;  // "GET", "PUT", "POST", "DELETE", "HEAD"
  std::string target;  // the raw request-target as sent: path, then optionally "?query"
  // Header names lower-cased, values as received, in arrival order (repeats kept).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t received_micros = 0;  // when the server finished reading the request (epoch us)
  std::string access_key_id;    // set after SigV4 verification succeeded

  std::string_view path() const;   // raw (still percent-encoded) path
  std::string_view query() const;  // raw query without '?', or ""
  // First header with this lower-case name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  // The API operation served ("GetRecord", "CreateFeatureGroup"...), for metrics and logs.
  // Handlers set it as soon as they know it; empty means "unknown".
  std::string operation;
};

// One protocol front-end (control plane, runtime, Athena).
// Thread-safe: Handle is called concurrently from all I/O threads.
class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // Serves one authenticated request. Never throws; failures become error responses.
  virtual void Handle(const HttpRequest& req, HttpResponse* resp) = 0;
};

// Percent-decodes `in` (used for rest-json path labels and query values). Returns false on a
// malformed escape. '+' is left alone (AWS clients encode spaces as %20).
bool PercentDecode(std::string_view in, std::string* out);

// Splits a raw query string into (decoded key, decoded value) pairs, in order, repeats kept.
// Returns false if any escape is malformed.
bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out);

}  // namespace larder::server

#endif  // LARDER_SERVER_HTTP_TYPES_H_
