// AWS Signature Version 4: the server-side verifier and the client-side signer.
//
// The canonical request is built exactly as botocore 1.43 builds it (botocore/auth.py,
// SigV4Auth), which test/data/sigv4_vectors.json pins byte for byte:
//   * CanonicalURI: the raw (still percent-encoded) path with dot segments and empty segments
//     removed, then percent-encoded AGAIN with only A-Za-z0-9 "-._~/" left bare, so "%3A"
//     becomes "%253A" (non-S3 services double-encode).
//   * CanonicalQuery: the raw "k=v" pairs as sent, sorted by key then value, joined by '&'
//     ("k" alone becomes "k=", empty pairs are kept).
//   * Canonical headers: the SignedHeaders, each "name:value\n" where value is every occurrence
//     of the header, whitespace-trimmed and runs of whitespace collapsed, joined by ','.
//   * Payload hash: the x-amz-content-sha256 header if present, else hex(SHA256(body)).
#ifndef LARDER_SERVER_SIGV4_H_
#define LARDER_SERVER_SIGV4_H_

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "larder/status.h"
#include "server/http_types.h"

namespace larder::server {

// A key pair a client signs with. session_token is optional (temporary credentials); the
// verifier ignores its value but it is covered by the signature when sent.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ---- Building blocks (pure, thread-safe). Exposed for the signer, the tests and debugging. ----

// Appends botocore's CanonicalURI for `raw_path` (the request path as sent) to *out.
void AppendCanonicalUri(std::string_view raw_path, std::string* out);

// Appends botocore's CanonicalQuery for `raw_query` (the query as sent, without '?') to *out.
void AppendCanonicalQuery(std::string_view raw_query, std::string* out);

// Appends the canonical value of header `lower_name` in `headers` (names compared
// case-insensitively): every occurrence trimmed and whitespace-collapsed, joined by ','.
// Returns false if the header is absent.
bool AppendCanonicalHeaderValue(const HeaderList& headers, std::string_view lower_name,
                                std::string* out);

// The full canonical request. `signed_headers` are lower-case names in the order to use (the
// order of SignedHeaders). `payload_hash` is the hex SHA-256 of the body or the
// x-amz-content-sha256 value. A signed header absent from `headers` contributes "name:\n".
std::string CanonicalRequest(std::string_view method, std::string_view target,
                             const HeaderList& headers,
                             std::span<const std::string_view> signed_headers,
                             std::string_view payload_hash);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex(SHA256(canonical_request))>".
std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request);

// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);

// kSigning = HMAC chain "AWS4"+secret -> date (yyyymmdd) -> region -> service -> "aws4_request".
std::array<uint8_t, 32> DeriveSigningKey(std::string_view secret, std::string_view date,
                                         std::string_view region, std::string_view service);

// Lower-case hex HMAC-SHA256(key, data).
std::string HmacSha256Hex(std::span<const uint8_t> key, std::string_view data);

// "yyyymmddTHHMMSSZ" for a time in microseconds since the epoch (UTC).
std::string FormatAmzDate(int64_t epoch_micros);

// Parses "yyyymmddTHHMMSSZ" into seconds since the epoch. False if malformed.
bool ParseAmzDate(std::string_view amz_date, int64_t* epoch_seconds);

// ---- Client side ----

// What SignRequest adds to a request and what it signed.
struct SignedRequest {
  // Headers to add, in this order: X-Amz-Date, X-Amz-Security-Token (only with a session
  // token), Authorization.
  HeaderList headers_to_add;
  std::string canonical_request;
  std::string string_to_sign;
};

// Signs a request the way botocore does: every header in `headers` except the ones botocore
// never signs (user-agent, expect, x-amzn-trace-id and the hop-by-hop headers) is signed, plus
// x-amz-date and x-amz-security-token. `headers` must hold Host (with the port if not the
// scheme's default) and must not hold X-Amz-Date, X-Amz-Security-Token or Authorization.
// `target` is the request-target as it will be sent (percent-encoded path, "?query").
// Thread-safe.
StatusOr<SignedRequest> SignRequest(std::string_view method, std::string_view target,
                                    const HeaderList& headers, std::string_view body,
                                    const AwsCredentials& creds, std::string_view region,
                                    std::string_view service, int64_t now_micros);

// ---- Server side ----

// Why a request failed authentication. Each maps to the AWS json error code of the same name
// (the runtime's rest-json protocol reports all of them as AccessForbidden 403).
enum class AuthError {
  kNone,
  kMissingAuthenticationToken,  // 403, no Authorization header
  kIncompleteSignature,         // 400, malformed Authorization or X-Amz-Date
  kUnrecognizedClient,          // 403, unknown access key id
  kInvalidSignature,            // 403, wrong signature, scope or time
};

struct AuthResult {
  AuthError error = AuthError::kNone;
  std::string message;  // AWS-style text naming the offending value; empty on success
  // On success: the verified access key id, a view into the request's Authorization header.
  std::string_view access_key_id;

  bool ok() const { return error == AuthError::kNone; }
};

// The json error code ("InvalidSignatureException", ...) and HTTP status for `error`.
std::string_view AuthErrorCode(AuthError error);
int AuthErrorHttpStatus(AuthError error);

// Verifies SigV4 Authorization headers against a fixed set of credentials.
//
// Thread-safe: immutable after construction. Derived signing keys are cached per thread (keyed
// by secret, date, region and service), so the hot path takes no lock and computes two SHA-256
// digests (body, canonical request) and one HMAC.
class SigV4Verifier {
 public:
  struct Options {
    // The only region a credential scope may name (the server's --region). Required.
    std::string region;
    // The keys that may sign. An access key id may appear once.
    std::vector<AwsCredentials> credentials;
    // Allowed difference between X-Amz-Date and now, both ways. Default: 15 minutes (AWS).
    int64_t max_skew_micros = 15LL * 60 * 1'000'000;
    // Time source; not owned, must outlive the verifier. Default: the real clock.
    const Clock* clock = Clock::Real();
  };

  explicit SigV4Verifier(Options options);

  // Verifies `req`. The credential scope's service must be one of `services` (e.g.
  // {"sagemaker"}); its region must be Options::region. Never throws.
  AuthResult Verify(const HttpRequest& req, std::span<const std::string_view> services) const;

  const std::string& region() const { return options_.region; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Options options_;
  // access key id -> secret.
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> secrets_;
};

}  // namespace larder::server

#endif  // LARDER_SERVER_SIGV4_H_
