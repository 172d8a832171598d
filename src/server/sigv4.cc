#include "server/sigv4.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

namespace larder::server {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kDigestBytes = 32;
constexpr size_t kHexDigestChars = 2 * kDigestBytes;
// Cached signing keys per thread: a server has one or a few keys and a new date once a day.
constexpr size_t kKeyCacheEntries = 8;
// Longest Authorization header quoted back in an error message.
constexpr size_t kMaxQuotedHeader = 512;

// botocore's SIGNED_HEADERS_BLACKLIST: headers the signer never signs.
constexpr std::string_view kUnsignedHeaders[] = {"connection",
                                                 "expect",
                                                 "keep-alive",
                                                 "proxy-authenticate",
                                                 "proxy-authorization",
                                                 "te",
                                                 "trailer",
                                                 "transfer-encoding",
                                                 "upgrade",
                                                 "user-agent",
                                                 "x-amzn-trace-id"};

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

void AppendHex(const uint8_t* data, size_t n, std::string* out) {
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kHexLower[data[i] >> 4]);
    out->push_back(kHexLower[data[i] & 0xF]);
  }
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

// Python's str.split() separators within ASCII.
bool IsPySpace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

bool IsUnreservedOrSlash(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '/';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsPySpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsPySpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// ---- OpenSSL plumbing. The algorithms are fetched once; contexts live per thread. ----

const EVP_MD* Sha256Md() {
  // Explicit fetch once (OpenSSL 3), so the hot path skips the implicit per-call fetch.
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // lives for the process
  return mac;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// One derived signing key with an HMAC context keyed by it (re-initialized per use, which
// reuses the precomputed key pads).
struct KeyEntry {
  std::string secret;
  std::string date;
  std::string region;
  std::string service;
  std::array<uint8_t, kDigestBytes> key{};
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> mac;
};

// Per-thread crypto state. Thread-compatible: only ever touched by its own thread.
struct ThreadCrypto {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md{EVP_MD_CTX_new()};
  std::array<KeyEntry, kKeyCacheEntries> keys;
  size_t next_victim = 0;
  // Scratch buffers reused by Verify (no allocation once warm).
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::vector<std::string_view> signed_headers;
  std::vector<std::pair<std::string_view, std::string_view>> query_pairs;
  std::vector<std::string_view> path_segments;
};

ThreadCrypto& Tls() {
  thread_local ThreadCrypto tls;
  return tls;
}

// SHA-256 of `data` into `out`. Fails closed: on an OpenSSL failure `out` is zeroed, which can
// never match a real signature.
void Sha256(std::string_view data, uint8_t out[kDigestBytes]) {
  EVP_MD_CTX* ctx = Tls().md.get();
  unsigned int len = 0;
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != kDigestBytes) {
    std::memset(out, 0, kDigestBytes);
  }
}

void AppendSha256Hex(std::string_view data, std::string* out) {
  if (data.empty()) {
    out->append(kEmptySha256);
    return;
  }
  uint8_t digest[kDigestBytes];
  Sha256(data, digest);
  AppendHex(digest, kDigestBytes, out);
}

// One-shot HMAC-SHA256, used for key derivation (cached) and the public helper.
void HmacOnce(std::span<const uint8_t> key, std::string_view data, uint8_t out[kDigestBytes]) {
  unsigned int len = 0;
  if (HMAC(Sha256Md(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr ||
      len != kDigestBytes) {
    std::memset(out, 0, kDigestBytes);
  }
}

std::array<uint8_t, kDigestBytes> Derive(std::string_view secret, std::string_view date,
                                         std::string_view region, std::string_view service) {
  std::string k_secret;
  k_secret.reserve(4 + secret.size());
  k_secret.append("AWS4").append(secret);
  std::array<uint8_t, kDigestBytes> k;
  HmacOnce({reinterpret_cast<const uint8_t*>(k_secret.data()), k_secret.size()}, date, k.data());
  OPENSSL_cleanse(k_secret.data(), k_secret.size());
  std::array<uint8_t, kDigestBytes> next;
  HmacOnce(k, region, next.data());
  HmacOnce(next, service, k.data());
  HmacOnce(k, kTerminator, next.data());
  return next;
}

// The cached entry for (secret, date, region, service), deriving it on a miss.
KeyEntry& SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                     std::string_view service) {
  ThreadCrypto& tls = Tls();
  for (KeyEntry& e : tls.keys) {
    if (e.mac != nullptr && e.date == date && e.region == region && e.service == service &&
        e.secret == secret) {
      return e;
    }
  }
  KeyEntry& e = tls.keys[tls.next_victim];
  tls.next_victim = (tls.next_victim + 1) % kKeyCacheEntries;
  e.secret.assign(secret);
  e.date.assign(date);
  e.region.assign(region);
  e.service.assign(service);
  e.key = Derive(secret, date, region, service);
  e.mac.reset();
  if (EVP_MAC* alg = HmacAlgorithm(); alg != nullptr) {
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(alg));
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx != nullptr && EVP_MAC_init(ctx.get(), e.key.data(), e.key.size(), params) == 1) {
      e.mac = std::move(ctx);
    }
  }
  return e;
}

// Lower-case hex HMAC of `data` with the cached key `e`, appended to *out.
void AppendSignature(KeyEntry& e, std::string_view data, std::string* out) {
  uint8_t mac[kDigestBytes];
  size_t len = 0;
  if (e.mac == nullptr || EVP_MAC_init(e.mac.get(), nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(e.mac.get(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1 ||
      EVP_MAC_final(e.mac.get(), mac, &len, sizeof(mac)) != 1 || len != kDigestBytes) {
    HmacOnce(e.key, data, mac);
  }
  AppendHex(mac, kDigestBytes, out);
}

// ---- Canonical request ----

void PercentEncodePath(std::string_view s, std::string* out) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreservedOrSlash(c)) {
      out->push_back(ch);
    } else {
      out->push_back('%');
      out->push_back(kHexUpper[c >> 4]);
      out->push_back(kHexUpper[c & 0xF]);
    }
  }
}

// True if botocore's remove_dot_segments would change `path` (REQUIRES: !path.empty()).
bool NeedsDotSegmentRemoval(std::string_view path) {
  size_t index = 0;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    bool last = slash == std::string_view::npos;
    if (seg == "." || seg == "..") return true;
    if (seg.empty() && index != 0 && !last) return true;  // "//" in the middle
    if (last) return false;
    start = slash + 1;
    ++index;
  }
}

void AppendCanonicalQueryImpl(std::string_view raw_query,
                              std::vector<std::pair<std::string_view, std::string_view>>* pairs,
                              std::string* out) {
  if (raw_query.empty()) return;
  pairs->clear();
  size_t start = 0;
  while (true) {
    size_t amp = raw_query.find('&', start);
    std::string_view pair = raw_query.substr(
        start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      pairs->emplace_back(pair, std::string_view());
    } else {
      pairs->emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  std::sort(pairs->begin(), pairs->end());
  bool first = true;
  for (const auto& [k, v] : *pairs) {
    if (!first) out->push_back('&');
    first = false;
    out->append(k).push_back('=');
    out->append(v);
  }
}

void AppendCanonicalUriImpl(std::string_view raw_path, std::vector<std::string_view>* segs,
                            std::string* out) {
  if (raw_path.empty()) {
    out->push_back('/');
    return;
  }
  if (!NeedsDotSegmentRemoval(raw_path)) {
    PercentEncodePath(raw_path, out);
    return;
  }
  segs->clear();
  size_t start = 0;
  while (true) {
    size_t slash = raw_path.find('/', start);
    std::string_view seg = raw_path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg == "..") {
      if (!segs->empty()) segs->pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs->push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (raw_path.front() == '/') out->push_back('/');
  for (size_t i = 0; i < segs->size(); ++i) {
    if (i > 0) out->push_back('/');
    PercentEncodePath((*segs)[i], out);
  }
  if (raw_path.back() == '/' && !segs->empty()) out->push_back('/');
}

void AppendCanonicalValue(std::string_view value, std::string* out) {
  value = Trim(value);
  bool in_space = false;
  for (char c : value) {
    if (IsPySpace(static_cast<unsigned char>(c))) {
      in_space = true;
      continue;
    }
    if (in_space) out->push_back(' ');
    in_space = false;
    out->push_back(c);
  }
}

void BuildCanonicalRequest(std::string_view method, std::string_view target,
                           const HeaderList& headers,
                           std::span<const std::string_view> signed_headers,
                           std::string_view payload_hash, ThreadCrypto& tls, std::string* out) {
  out->clear();
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  out->append(method).push_back('\n');
  AppendCanonicalUriImpl(path, &tls.path_segments, out);
  out->push_back('\n');
  AppendCanonicalQueryImpl(query, &tls.query_pairs, out);
  out->push_back('\n');
  for (std::string_view name : signed_headers) {
    out->append(name).push_back(':');
    AppendCanonicalHeaderValue(headers, name, out);
    out->push_back('\n');
  }
  out->push_back('\n');
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i > 0) out->push_back(';');
    out->append(signed_headers[i]);
  }
  out->push_back('\n');
  out->append(payload_hash);
}

void BuildStringToSign(std::string_view amz_date, std::string_view date, std::string_view region,
                       std::string_view service, std::string_view canonical_request,
                       std::string* out) {
  out->clear();
  out->append(kAlgorithm).push_back('\n');
  out->append(amz_date).push_back('\n');
  out->append(date).push_back('/');
  out->append(region).push_back('/');
  out->append(service).push_back('/');
  out->append(kTerminator).push_back('\n');
  AppendSha256Hex(canonical_request, out);
}

bool IsHexDigest(std::string_view s) {
  if (s.size() != kHexDigestChars) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string_view Quote(std::string_view header) {
  return header.size() > kMaxQuotedHeader ? header.substr(0, kMaxQuotedHeader) : header;
}

AuthResult Fail(AuthError error, std::string message) {
  AuthResult r;
  r.error = error;
  r.message = std::move(message);
  return r;
}

struct ParsedAuthorization {
  std::string_view credential;
  std::string_view signed_headers;
  std::string_view signature;
};

// Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
AuthResult ParseAuthorization(std::string_view header, ParsedAuthorization* out) {
  std::string_view h = Trim(header);
  size_t sp = h.find(' ');
  std::string_view algorithm = h.substr(0, sp);
  if (algorithm != kAlgorithm) {
    return Fail(AuthError::kIncompleteSignature,
                fmt::format("Unsupported Authorization algorithm '{}': Larder accepts only {}. "
                            "Authorization={}",
                            Quote(algorithm), kAlgorithm, Quote(header)));
  }
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : h.substr(sp + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(part.substr(0, eq));
    std::string_view value = Trim(part.substr(eq + 1));
    if (key == "Credential") {
      out->credential = value;
    } else if (key == "SignedHeaders") {
      out->signed_headers = value;
    } else if (key == "Signature") {
      out->signature = value;
    }
  }
  std::string missing;
  if (out->credential.empty()) missing += "Authorization header requires 'Credential' parameter. ";
  if (out->signed_headers.empty()) {
    missing += "Authorization header requires 'SignedHeaders' parameter. ";
  }
  if (out->signature.empty()) missing += "Authorization header requires 'Signature' parameter. ";
  if (!missing.empty()) {
    return Fail(AuthError::kIncompleteSignature,
                fmt::format("{}Authorization={}", missing, Quote(header)));
  }
  return AuthResult();
}

std::string JoinQuoted(std::span<const std::string_view> names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += " or ";
    s += "'";
    s += names[i];
    s += "'";
  }
  return s;
}

}  // namespace

// ---- Public building blocks ----

void AppendCanonicalUri(std::string_view raw_path, std::string* out) {
  AppendCanonicalUriImpl(raw_path, &Tls().path_segments, out);
}

void AppendCanonicalQuery(std::string_view raw_query, std::string* out) {
  AppendCanonicalQueryImpl(raw_query, &Tls().query_pairs, out);
}

bool AppendCanonicalHeaderValue(const HeaderList& headers, std::string_view lower_name,
                                std::string* out) {
  bool found = false;
  for (const auto& [name, value] : headers) {
    if (!EqualsIgnoreCase(name, lower_name)) continue;
    if (found) out->push_back(',');
    found = true;
    AppendCanonicalValue(value, out);
  }
  return found;
}

std::string CanonicalRequest(std::string_view method, std::string_view target,
                             const HeaderList& headers,
                             std::span<const std::string_view> signed_headers,
                             std::string_view payload_hash) {
  std::string out;
  BuildCanonicalRequest(method, target, headers, signed_headers, payload_hash, Tls(), &out);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request) {
  std::string out;
  out.append(kAlgorithm).push_back('\n');
  out.append(amz_date).push_back('\n');
  out.append(credential_scope).push_back('\n');
  AppendSha256Hex(canonical_request, &out);
  return out;
}

std::string Sha256Hex(std::string_view data) {
  std::string out;
  AppendSha256Hex(data, &out);
  return out;
}

std::array<uint8_t, 32> DeriveSigningKey(std::string_view secret, std::string_view date,
                                         std::string_view region, std::string_view service) {
  return Derive(secret, date, region, service);
}

std::string HmacSha256Hex(std::span<const uint8_t> key, std::string_view data) {
  uint8_t mac[kDigestBytes];
  HmacOnce(key, data, mac);
  std::string out;
  AppendHex(mac, kDigestBytes, &out);
  return out;
}

std::string FormatAmzDate(int64_t epoch_micros) {
  using std::chrono::days;
  using std::chrono::floor;
  using std::chrono::seconds;
  std::chrono::sys_seconds t{seconds(floor<seconds>(std::chrono::microseconds(epoch_micros)))};
  std::chrono::sys_days day = floor<days>(t);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss<seconds> hms{t - day};
  return fmt::format("{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

bool ParseAmzDate(std::string_view s, int64_t* epoch_seconds) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  auto num = [&](size_t pos, size_t len, int* v) {
    *v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      *v = *v * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(4, 2, &mo) || !num(6, 2, &d) || !num(9, 2, &h) || !num(11, 2, &mi) ||
      !num(13, 2, &se)) {
    return false;
  }
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                  std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return false;
  int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  *epoch_seconds = days * 86400 + h * 3600 + mi * 60 + se;
  return true;
}

// ---- Client side ----

StatusOr<SignedRequest> SignRequest(std::string_view method, std::string_view target,
                                    const HeaderList& headers, std::string_view body,
                                    const AwsCredentials& creds, std::string_view region,
                                    std::string_view service, int64_t now_micros) {
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return Status::InvalidArgument("cannot sign: the access key id and secret must not be empty");
  }
  HeaderList to_sign;
  to_sign.reserve(headers.size() + 2);
  bool has_host = false;
  std::string payload_hash;
  for (const auto& [name, value] : headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), AsciiLower);
    if (lower == "x-amz-date" || lower == "authorization" || lower == "x-amz-security-token") {
      return Status::InvalidArgument(
          fmt::format("cannot sign: header '{}' is set by the signer and must not be given", name));
    }
    if (std::find(std::begin(kUnsignedHeaders), std::end(kUnsignedHeaders), lower) !=
        std::end(kUnsignedHeaders)) {
      continue;
    }
    if (lower == "host") has_host = true;
    if (lower == "x-amz-content-sha256") payload_hash = value;
    to_sign.emplace_back(std::move(lower), value);
  }
  if (!has_host) return Status::InvalidArgument("cannot sign: the request has no Host header");
  std::string amz_date = FormatAmzDate(now_micros);
  to_sign.emplace_back("x-amz-date", amz_date);
  if (!creds.session_token.empty())
    to_sign.emplace_back("x-amz-security-token", creds.session_token);

  std::vector<std::string_view> names;
  names.reserve(to_sign.size());
  for (const auto& h : to_sign) names.push_back(h.first);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  if (payload_hash.empty()) payload_hash = Sha256Hex(body);
  SignedRequest out;
  ThreadCrypto& tls = Tls();
  BuildCanonicalRequest(method, target, to_sign, names, payload_hash, tls, &out.canonical_request);
  std::string_view date = std::string_view(amz_date).substr(0, 8);
  BuildStringToSign(amz_date, date, region, service, out.canonical_request, &out.string_to_sign);
  std::string signature;
  AppendSignature(SigningKey(creds.secret_access_key, date, region, service), out.string_to_sign,
                  &signature);

  std::string authorization =
      fmt::format("{} Credential={}/{}/{}/{}/{}, SignedHeaders=", kAlgorithm, creds.access_key_id,
                  date, region, service, kTerminator);
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) authorization.push_back(';');
    authorization.append(names[i]);
  }
  authorization.append(", Signature=").append(signature);

  out.headers_to_add.emplace_back("X-Amz-Date", std::move(amz_date));
  if (!creds.session_token.empty()) {
    out.headers_to_add.emplace_back("X-Amz-Security-Token", creds.session_token);
  }
  out.headers_to_add.emplace_back("Authorization", std::move(authorization));
  return out;
}

// ---- Server side ----

std::string_view AuthErrorCode(AuthError error) {
  switch (error) {
    case AuthError::kNone:
      return "";
    case AuthError::kMissingAuthenticationToken:
      return "MissingAuthenticationTokenException";
    case AuthError::kIncompleteSignature:
      return "IncompleteSignatureException";
    case AuthError::kUnrecognizedClient:
      return "UnrecognizedClientException";
    case AuthError::kInvalidSignature:
      return "InvalidSignatureException";
  }
  return "InvalidSignatureException";
}

int AuthErrorHttpStatus(AuthError error) {
  switch (error) {
    case AuthError::kNone:
      return 200;
    case AuthError::kIncompleteSignature:
      return 400;
    default:
      return 403;
  }
}

SigV4Verifier::SigV4Verifier(Options options) : options_(std::move(options)) {
  for (const AwsCredentials& c : options_.credentials) {
    secrets_.emplace(c.access_key_id, c.secret_access_key);
  }
}

AuthResult SigV4Verifier::Verify(const HttpRequest& req,
                                 std::span<const std::string_view> services) const {
  const std::string* auth_header = req.Header("authorization");
  if (auth_header == nullptr) {
    return Fail(AuthError::kMissingAuthenticationToken, "Missing Authentication Token");
  }
  ParsedAuthorization auth;
  if (AuthResult r = ParseAuthorization(*auth_header, &auth); !r.ok()) return r;

  // Credential = <access key id>/<yyyymmdd>/<region>/<service>/aws4_request
  std::string_view scope_parts[5];
  {
    std::string_view rest = auth.credential;
    size_t n = 0;
    bool too_many = false;
    while (true) {
      if (n == 5) {
        too_many = true;
        break;
      }
      size_t slash = rest.find('/');
      scope_parts[n++] = rest.substr(0, slash);
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
    if (too_many || n != 5 ||
        std::any_of(std::begin(scope_parts), std::end(scope_parts),
                    [](std::string_view p) { return p.empty(); })) {
      return Fail(AuthError::kIncompleteSignature,
                  fmt::format("Credential '{}' is malformed: expected "
                              "<access key id>/<yyyymmdd>/<region>/<service>/aws4_request. "
                              "Authorization={}",
                              Quote(auth.credential), Quote(*auth_header)));
    }
  }
  const std::string_view access_key_id = scope_parts[0];
  const std::string_view scope_date = scope_parts[1];
  const std::string_view scope_region = scope_parts[2];
  const std::string_view scope_service = scope_parts[3];
  const std::string_view terminator = scope_parts[4];

  const std::string* amz_date = req.Header("x-amz-date");
  if (amz_date == nullptr) {
    return Fail(AuthError::kIncompleteSignature,
                fmt::format("Authorization header requires existence of a 'X-Amz-Date' header "
                            "(yyyyMMddTHHmmssZ). Authorization={}",
                            Quote(*auth_header)));
  }
  int64_t signed_at = 0;
  if (!ParseAmzDate(*amz_date, &signed_at)) {
    return Fail(AuthError::kIncompleteSignature,
                fmt::format("Date must be in ISO-8601 'basic format' (yyyyMMddTHHmmssZ). Got "
                            "X-Amz-Date '{}'.",
                            Quote(*amz_date)));
  }

  auto secret_it = secrets_.find(access_key_id);
  if (secret_it == secrets_.end()) {
    return Fail(AuthError::kUnrecognizedClient,
                "The security token included in the request is invalid.");
  }

  if (scope_date != std::string_view(*amz_date).substr(0, 8)) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                            "version of date from HTTP: '{}' != '{}', from '{}'.",
                            Quote(scope_date), amz_date->substr(0, 8), *amz_date));
  }
  if (scope_region != options_.region) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("Credential should be scoped to a valid region, not '{}'. This "
                            "server's region is '{}'.",
                            Quote(scope_region), options_.region));
  }
  if (std::find(services.begin(), services.end(), scope_service) == services.end()) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("Credential should be scoped to correct service: {}. Got '{}'.",
                            JoinQuoted(services), Quote(scope_service)));
  }
  if (terminator != kTerminator) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("Credential should be scoped with a valid terminator: "
                            "'aws4_request', not '{}'.",
                            Quote(terminator)));
  }

  const int64_t now_micros = options_.clock->NowMicros();
  const int64_t signed_micros = signed_at * 1'000'000;
  if (signed_micros < now_micros - options_.max_skew_micros) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("Signature expired: {} is now earlier than {} ({} - {} min.)",
                            *amz_date, FormatAmzDate(now_micros - options_.max_skew_micros),
                            FormatAmzDate(now_micros), options_.max_skew_micros / 60'000'000));
  }
  if (signed_micros > now_micros + options_.max_skew_micros) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("Signature not yet current: {} is still later than {} ({} + {} min.)",
                            *amz_date, FormatAmzDate(now_micros + options_.max_skew_micros),
                            FormatAmzDate(now_micros), options_.max_skew_micros / 60'000'000));
  }

  ThreadCrypto& tls = Tls();
  tls.signed_headers.clear();
  bool host_signed = false;
  {
    std::string_view rest = auth.signed_headers;
    while (true) {
      size_t semi = rest.find(';');
      std::string_view name = rest.substr(0, semi);
      if (name == "host") host_signed = true;
      tls.signed_headers.push_back(name);
      if (semi == std::string_view::npos) break;
      rest = rest.substr(semi + 1);
    }
  }
  if (!host_signed) {
    return Fail(AuthError::kIncompleteSignature,
                fmt::format("'Host' must be a 'SignedHeader' in the AWS Authorization. "
                            "SignedHeaders='{}'.",
                            Quote(auth.signed_headers)));
  }

  // Payload hash: x-amz-content-sha256 when sent (checked against the body when it is a
  // digest), otherwise computed.
  std::string payload_hash;
  std::string_view payload_hash_view;
  if (const std::string* declared = req.Header("x-amz-content-sha256"); declared != nullptr) {
    payload_hash_view = *declared;
    if (IsHexDigest(*declared)) {
      payload_hash = Sha256Hex(req.body);
      if (!EqualsIgnoreCase(*declared, payload_hash)) {
        return Fail(AuthError::kInvalidSignature,
                    fmt::format("The provided 'x-amz-content-sha256' header '{}' does not match "
                                "the SHA-256 of the body, '{}'.",
                                *declared, payload_hash));
      }
    }
  } else {
    AppendSha256Hex(req.body, &payload_hash);
    payload_hash_view = payload_hash;
  }

  BuildCanonicalRequest(req.method, req.target, req.headers, tls.signed_headers, payload_hash_view,
                        tls, &tls.canonical_request);
  BuildStringToSign(*amz_date, scope_date, scope_region, scope_service, tls.canonical_request,
                    &tls.string_to_sign);
  tls.signature.clear();
  AppendSignature(SigningKey(secret_it->second, scope_date, scope_region, scope_service),
                  tls.string_to_sign, &tls.signature);

  if (auth.signature.size() != tls.signature.size() ||
      CRYPTO_memcmp(auth.signature.data(), tls.signature.data(), tls.signature.size()) != 0) {
    return Fail(AuthError::kInvalidSignature,
                fmt::format("The request signature we calculated does not match the signature "
                            "you provided. Check your AWS Secret Access Key and signing method. "
                            "Consult the service documentation for details.\n\n"
                            "The Canonical String for this request should have been\n'{}'\n\n"
                            "The String-to-Sign should have been\n'{}'\n",
                            tls.canonical_request, tls.string_to_sign));
  }
  AuthResult ok;
  ok.access_key_id = access_key_id;
  return ok;
}

}  // namespace larder::server
