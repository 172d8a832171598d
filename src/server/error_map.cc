#include "server/error_map.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace larder::server {

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
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
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
