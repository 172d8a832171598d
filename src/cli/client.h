// The `larder` CLI's AWS client: where the server is, which keys sign, and one synchronous
// HTTP/1.1 keep-alive connection per thread that signs every request with SigV4
// (server::SignRequest) and turns AWS error replies into a Status.
//
// Configuration, flag first, then the environment (the variables boto3 and the AWS CLI read):
//   endpoint     --endpoint, AWS_ENDPOINT_URL, else http://127.0.0.1:8080 (`larder serve`'s
//   default) region       --region, AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 keys
//   --access-key-id/--secret-access-key, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
//                (+ AWS_SESSION_TOKEN); no default: a missing key is an error saying what to set.
// Only http:// endpoints are supported (`larder serve` speaks plain HTTP).
//
// Error messages (Status::message()) are meant for people:
//   server down   "cannot connect to http://127.0.0.1:8080: connection refused — is `larder serve`
//                  running?" (kUnavailable)
//   AWS error     "<Code>: <message>" with the code from x-amzn-ErrorType or the body's __type
//                  ("InvalidSignatureException: The request signature we calculated does not
//                  match..."), mapped to a StatusCode by HTTP status and code.
#ifndef LARDER_CLI_CLIENT_H_
#define LARDER_CLI_CLIENT_H_

#include <rapidjson/document.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "larder/status.h"
#include "server/sigv4.h"

namespace larder::cli {

// The connection flags every client subcommand accepts. Empty means "not given".
struct ClientFlags {
  std::string endpoint;
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;
  double timeout_seconds = 120;  // a reply must arrive within this long
};

// Registers --endpoint, --region, --access-key-id, --secret-access-key and --timeout on `sub`.
// `flags` is not owned and must outlive `sub`'s parsing.
void AddClientFlags(CLI::App* sub, ClientFlags* flags);

// A resolved configuration. Values, copyable.
struct ClientConfig {
  std::string endpoint;     // normalized "http://host:port"
  std::string host;         // "127.0.0.1", "localhost", "::1"
  std::string port;         // "8080"
  std::string host_header;  // what Host carries and SigV4 signs: "127.0.0.1:8080"
  std::string region = "us-east-1";
  server::AwsCredentials credentials;
  int64_t timeout_ms = 120'000;
};

// Reads an environment variable; nullptr when unset. Injected so tests need not touch the
// process environment.
using EnvLookup = std::function<const char*(const char*)>;

// Resolves `flags` against `env` as described at the top of this file. InvalidArgument names
// the flag or variable and the bad value; a missing key says which variables to set.
StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags, const EnvLookup& env);
// The same, with the process environment.
StatusOr<ClientConfig> ResolveClientConfig(const ClientFlags& flags);

// The signing names of the two services Larder serves.
inline constexpr std::string_view kSageMakerService = "sagemaker";  // control plane + runtime
inline constexpr std::string_view kAthenaService = "athena";

// One request. The views must stay valid until Send/RoundTrip returns.
struct ClientRequest {
  std::string_view method = "POST";
  std::string_view target = "/";  // percent-encoded path and optional "?query"
  std::string_view content_type;  // empty: no Content-Type header
  std::string_view amz_target;    // X-Amz-Target for json 1.1; empty for rest-json
  std::string_view body;
  std::string_view service = kSageMakerService;  // SigV4 signing name
};

struct ClientReply {
  int status = 0;
  std::string error_type;  // the x-amzn-ErrorType header, if any
  std::string body;
};

// The AWS error code (x-amzn-ErrorType first, then the body's __type/code/Code, cleaned as
// botocore does) and message (body message/Message) of an error reply; either may be empty.
void ParseAwsError(const ClientReply& reply, std::string* code, std::string* message);

// OK for a 2xx/1xx reply; otherwise the AWS error as a Status (see the top of this file).
// `operation` ("GetRecord") is only used when the reply carries no usable message.
Status StatusFromReply(const ClientReply& reply, std::string_view operation);

// One keep-alive HTTP/1.1 connection to the configured endpoint, opened lazily. Requests may be
// pipelined: up to any number of Send calls, then one Receive per Send, replies in order.
//
// Thread-compatible: one connection per thread (the loader gives each worker its own).
class Connection {
 public:
  explicit Connection(ClientConfig config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Signs and writes one request, connecting first if needed. On failure the connection is
  // closed and every outstanding request is lost (callers resend what they still need).
  Status Send(const ClientRequest& request);
  // Reads the reply to the oldest outstanding request. REQUIRES: outstanding() > 0.
  StatusOr<ClientReply> Receive();
  size_t outstanding() const { return outstanding_; }

  // Send + Receive. When the server had closed a kept-alive connection before this request
  // reached it, reconnects and sends it once more. REQUIRES: outstanding() == 0.
  StatusOr<ClientReply> RoundTrip(const ClientRequest& request);

  // Closes the socket; the next Send reconnects. Outstanding requests are dropped.
  void Close();

  const ClientConfig& config() const { return config_; }

 private:
  struct Impl;
  Status Connect();

  const ClientConfig config_;
  std::unique_ptr<Impl> impl_;
  size_t outstanding_ = 0;
  // True once a reply arrived on the current socket (it is then a reused keep-alive socket).
  bool reused_ = false;
};

// Typed calls on top of a Connection: JSON in, parsed JSON out, errors as Status.
// Thread-compatible, like its Connection.
class AwsClient {
 public:
  explicit AwsClient(ClientConfig config) : conn_(std::move(config)) {}

  // json 1.1: POST / with X-Amz-Target "<prefix>.<operation>", e.g. ("SageMaker",
  // "DescribeFeatureGroup"). `service` is the signing name.
  StatusOr<rapidjson::Document> CallJson(std::string_view service, std::string_view prefix,
                                         std::string_view operation, std::string_view body);
  StatusOr<rapidjson::Document> SageMaker(std::string_view operation, std::string_view body) {
    return CallJson(kSageMakerService, "SageMaker", operation, body);
  }
  StatusOr<rapidjson::Document> Athena(std::string_view operation, std::string_view body) {
    return CallJson(kAthenaService, "AmazonAthena", operation, body);
  }

  // rest-json (the Feature Store runtime): `target` is the encoded path and query; `body` may be
  // empty (then no Content-Type is sent). `operation` names the call in messages. An empty reply
  // body parses as {}.
  StatusOr<rapidjson::Document> CallRest(std::string_view method, std::string_view target,
                                         std::string_view body, std::string_view operation);

  Connection& connection() { return conn_; }

 private:
  Connection conn_;
};

// Percent-encodes `s` for a URI path label or query value: everything but A-Za-z0-9 "-._~".
std::string UriEncode(std::string_view s);

}  // namespace larder::cli

#endif  // LARDER_CLI_CLIENT_H_
