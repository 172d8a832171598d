// The one table from Status codes to AWS wire errors, per protocol, and the writer of error
// bodies. Every handler reports failures through here so codes and shapes stay consistent.
#ifndef LARDER_SERVER_ERROR_MAP_H_
#define LARDER_SERVER_ERROR_MAP_H_

#include <string>
#include <string_view>

#include "larder/status.h"
#include "server/http_types.h"

namespace larder::server {

enum class Protocol {
  kControlPlane,  // SageMaker json 1.1
  kRuntime,       // SageMaker Feature Store runtime, rest-json
  kAthena,        // Athena json 1.1
};

struct WireError {
  int http_status;
  std::string_view code;  // e.g. "ValidationException"
};

// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by the four
// characters \xNN (a backslash, x, and its hex value). Thread-safe (pure).
std::string ToValidUtf8(std::string_view text);

// Thread-safe (pure).
WireError MapStatus(Protocol protocol, StatusCode code);

// Writes `{"__type":code,"message":message}` with the x-amzn-ErrorType header, so both
// json (body __type) and rest-json (header first) clients read the same code. The message goes
// through ToValidUtf8, so the body is valid JSON whatever bytes it quotes.
void WriteError(int http_status, std::string_view code, std::string_view message,
                HttpResponse* resp);

// WriteError with the code and HTTP status from MapStatus. REQUIRES: !status.ok().
void WriteStatus(Protocol protocol, const Status& status, HttpResponse* resp);

}  // namespace larder::server

#endif  // LARDER_SERVER_ERROR_MAP_H_
