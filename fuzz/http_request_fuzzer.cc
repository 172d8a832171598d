// Raw bytes -> Beast's HTTP parser (with the server's limits) -> the Router and every protocol
// handler, without sockets. The first byte chooses whether the parsed request is then signed with
// valid credentials (odd: the handlers see it) or sent as parsed (even: SigV4 verification sees
// forged Authorization headers).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  larder::fuzz::Stack& stack = larder::fuzz::Stack::Get();
  const bool sign = (data[0] & 1) != 0;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  (void)used;
  if (ec == http::error::need_more && parser.got_some()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;

  // As HttpServer's Session::Process converts a parsed message.
  auto& msg = parser.get();
  larder::server::HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  if (sign) {
    const std::string* target = req.Header("x-amz-target");
    const bool athena = target != nullptr && target->rfind("AmazonAthena.", 0) == 0;
    stack.Sign(&req, athena ? "athena" : "sagemaker");
  }
  larder::server::HttpResponse resp;
  stack.Serve(&req, &resp);
  if (req.path() == "/metrics") return 0;  // Prometheus text, not JSON
  larder::fuzz::CheckResponse(req, resp);
  return 0;
}
