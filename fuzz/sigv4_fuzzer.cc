// SigV4: the verifier on arbitrary requests (forged Authorization / X-Amz-Date headers, odd
// targets and header sets), and a sign -> verify round trip: whatever a request looks like, if
// SignRequest signs it, the verifier must accept it, and must refuse it once the body changes.
//
// Input: "<method>\n<target>\n" then header lines "<name>:<value>\n" up to an empty line, then
// the body. The clock is fixed, so forged dates can match it.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "server/sigv4.h"

using larder::server::HttpRequest;

namespace {

constexpr int64_t kNowMicros = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z
constexpr char kAccessKey[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

const larder::FakeClock& FixedClock() {
  static const larder::FakeClock* clock = new larder::FakeClock(kNowMicros);
  return *clock;
}

const larder::server::SigV4Verifier& Verifier() {
  static const larder::server::SigV4Verifier* v = [] {
    larder::server::SigV4Verifier::Options o;
    o.region = "us-east-1";
    o.credentials.push_back({kAccessKey, kSecret, ""});
    o.clock = &FixedClock();
    return new larder::server::SigV4Verifier(std::move(o));
  }();
  return *v;
}

// What an HTTP parser could hand over: a token name, a value without CR/LF/NUL.
bool Plausible(const HttpRequest& req) {
  if (req.method.empty() || req.target.empty() || req.target[0] != '/') return false;
  for (char c : req.method) {
    if (!std::isupper(static_cast<unsigned char>(c))) return false;
  }
  for (char c : req.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  for (const auto& [name, value] : req.headers) {
    if (name.empty()) return false;
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto line = [&in]() {
    size_t nl = in.find('\n');
    std::string_view l = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    return std::string(l);
  };
  HttpRequest req;
  req.method = line();
  req.target = line();
  while (!in.empty()) {
    std::string h = line();
    if (h.empty()) break;
    size_t colon = h.find(':');
    std::string name = h.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name),
                             colon == std::string::npos ? "" : h.substr(colon + 1));
  }
  req.body = std::string(in);

  const std::string_view services[] = {"sagemaker"};
  (void)Verifier().Verify(req, services);  // forged headers: must not crash

  // Round trip: sign what the parser could have produced, then verify.
  larder::server::HeaderList headers;
  bool has_host = false;
  for (const auto& [name, value] : req.headers) {
    if (name == "authorization" || name == "x-amz-date" || name == "x-amz-security-token" ||
        name == "x-amz-content-sha256") {
      continue;
    }
    if (name == "host") has_host = true;
    headers.emplace_back(name, value);
  }
  if (!has_host) headers.emplace_back("host", "127.0.0.1:8080");
  HttpRequest plain = req;
  plain.headers = headers;
  if (!Plausible(plain)) return 0;
  auto signed_req = larder::server::SignRequest(plain.method, plain.target, headers, plain.body,
                                                {kAccessKey, kSecret, ""}, "us-east-1",
                                                "sagemaker", kNowMicros);
  if (!signed_req.ok()) return 0;
  for (const auto& [name, value] : signed_req->headers_to_add) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    plain.headers.emplace_back(std::move(lower), value);
  }
  auto result = Verifier().Verify(plain, services);
  if (!result.ok()) {
    std::fprintf(stderr, "a request SignRequest signed fails verification: %s\n"
                         "canonical request:\n%s\n", result.message.c_str(),
                 signed_req->canonical_request.c_str());
    std::abort();
  }
  plain.body += "x";
  if (Verifier().Verify(plain, services).ok()) {
    std::fprintf(stderr, "a changed body still verifies\n");
    std::abort();
  }
  return 0;
}
