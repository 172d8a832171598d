#include "server/error_map.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace larder::server {
namespace {

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) at the start of `s`, or 0 if it does not start with one.
size_t Utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto tail = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  if (s.empty()) return 0;
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return tail(1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    const unsigned char lo = b == 0xE0 ? 0xA0 : 0x80;  // no overlongs
    const unsigned char hi = b == 0xED ? 0x9F : 0xBF;  // no surrogates
    return tail(1, lo, hi) && tail(2) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    const unsigned char lo = b == 0xF0 ? 0x90 : 0x80;  // no overlongs
    const unsigned char hi = b == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return tail(1, lo, hi) && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::string ToValidUtf8(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t n = Utf8SequenceLength(text);
    if (n == 0) {
      const auto b = static_cast<unsigned char>(text[0]);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
      n = 1;
    } else {
      out.append(text.data(), n);
    }
    text.remove_prefix(n);
  }
  return out;
}

WireError MapStatus(Protocol protocol, StatusCode code) {
  switch (protocol) {
    case Protocol::kControlPlane:
      switch (code) {
        case StatusCode::kInvalidArgument:
        case StatusCode::kFailedPrecondition: return {400, "ValidationException"};
        case StatusCode::kNotFound: return {400, "ResourceNotFound"};
        case StatusCode::kAlreadyExists: return {400, "ResourceInUse"};
        case StatusCode::kResourceExhausted: return {400, "ResourceLimitExceeded"};
        case StatusCode::kUnauthenticated: return {403, "InvalidSignatureException"};
        case StatusCode::kPermissionDenied: return {403, "AccessDeniedException"};
        case StatusCode::kUnavailable: return {503, "ServiceUnavailable"};
        case StatusCode::kDeadlineExceeded: return {504, "RequestTimeout"};
        default: return {500, "InternalFailure"};
      }
    case Protocol::kRuntime:
      switch (code) {
        case StatusCode::kInvalidArgument:
        case StatusCode::kFailedPrecondition:
        case StatusCode::kResourceExhausted: return {400, "ValidationError"};
        case StatusCode::kNotFound: return {404, "ResourceNotFound"};
        case StatusCode::kAlreadyExists: return {400, "ValidationError"};
        case StatusCode::kUnauthenticated:
        case StatusCode::kPermissionDenied: return {403, "AccessForbidden"};
        case StatusCode::kUnavailable:
        case StatusCode::kDeadlineExceeded: return {503, "ServiceUnavailable"};
        default: return {500, "InternalFailure"};
      }
    case Protocol::kAthena:
      switch (code) {
        case StatusCode::kInvalidArgument:
        case StatusCode::kFailedPrecondition:
        case StatusCode::kAlreadyExists: return {400, "InvalidRequestException"};
        case StatusCode::kNotFound: return {400, "ResourceNotFoundException"};
        case StatusCode::kResourceExhausted: return {400, "TooManyRequestsException"};
        case StatusCode::kUnauthenticated: return {403, "InvalidSignatureException"};
        case StatusCode::kPermissionDenied: return {403, "AccessDeniedException"};
        case StatusCode::kUnavailable:
        case StatusCode::kDeadlineExceeded: return {503, "ServiceUnavailable"};
        default: return {500, "InternalServerException"};
      }
  }
  return {500, "InternalFailure"};
}

void WriteError(int http_status, std::string_view code, std::string_view message,
                HttpResponse* resp) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("__type");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  // Messages quote client input, which may not be UTF-8 (a percent-decoded path label, a
  // header): invalid bytes are spelled out so the body stays valid JSON for every client.
  const std::string text = ToValidUtf8(message);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.EndObject();
  resp->status = http_status;
  resp->body.assign(buf.GetString(), buf.GetSize());
  resp->headers.emplace_back("x-amzn-ErrorType", std::string(code));
}

void WriteStatus(Protocol protocol, const Status& status, HttpResponse* resp) {
  WireError e = MapStatus(protocol, status.code());
  WriteError(e.http_status, e.code, status.message(), resp);
}

}  // namespace larder::server
