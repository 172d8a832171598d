#include "server/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <regex>
#include <thread>

#include "server/error_map.h"
#include "server/metrics.h"

namespace larder::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Echoes what it saw; "/throw" throws, "/block" waits until released.
class EchoHandler : public HttpHandler {
 public:
  void Serve(HttpRequest* req, HttpResponse* resp) override {
    calls_++;
    last_received_micros_ = req->received_micros;
    if (req->path() == "/throw") throw std::runtime_error("boom");
    if (req->path() == "/block") {
      entered_.set_value();
      release_.get_future().wait();
    }
    std::string headers;
    for (const auto& [k, v] : req->headers) headers += k + "=" + v + ";";
    resp->content_type = "text/plain";
    resp->headers.emplace_back("x-echo-headers", headers);
    resp->body = req->method + " " + req->target + " " + req->body;
  }

  std::atomic<int> calls_{0};
  std::atomic<int64_t> last_received_micros_{0};
  std::promise<void> entered_;
  std::promise<void> release_;
};

// A blocking HTTP/1.1 client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  void SendRaw(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }

  http::response<http::string_body> Read() {
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }

  http::response<http::string_body> Request(http::verb verb, std::string target,
                                            std::string body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket_, req);
    return Read();
  }

  // True once the server has closed the connection (reads until EOF or reset).
  bool WaitForClose() {
    char buf[256];
    boost::system::error_code ec;
    while (!ec) socket_.read_some(net::buffer(buf), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::unique_ptr<HttpServer> StartServer(HttpHandler* handler, HttpServer::Options o = {}) {
  o.host = "127.0.0.1";
  o.port = 0;
  if (o.threads == 0) o.threads = 2;
  auto s = HttpServer::Start(o, handler);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(HttpServerTest, ServesRequestsWithRequestIdAndContentType) {
  EchoHandler h;
  auto server = StartServer(&h);
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->port(), 0);
  EXPECT_EQ(server->host(), "127.0.0.1");
  Client c(server->port());
  auto res = c.Request(http::verb::post, "/FeatureGroup/a%2Fb?x=1", "payload");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /FeatureGroup/a%2Fb?x=1 payload");
  EXPECT_EQ(res[http::field::content_type], "text/plain");
  std::string id(res["x-amzn-RequestId"]);
  EXPECT_TRUE(std::regex_match(
      id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  std::string echoed(res["x-echo-headers"]);
  EXPECT_NE(echoed.find("host=127.0.0.1;"), std::string::npos) << echoed;  // names lower-cased
  EXPECT_NE(echoed.find("content-length=7;"), std::string::npos) << echoed;
  EXPECT_GT(h.last_received_micros_.load(), 1'600'000'000'000'000);
}

TEST(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  EchoHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto res = c.Request(http::verb::get, "/r" + std::to_string(i));
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "GET /r" + std::to_string(i) + " ");
    EXPECT_TRUE(res.keep_alive());
    ids.insert(std::string(res["x-amzn-RequestId"]));
  }
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_EQ(h.calls_.load(), 20);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  EchoHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  c.SendRaw("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().body(), "GET /one ");
  EXPECT_EQ(c.Read().body(), "GET /two ");
}

TEST(HttpServerTest, OversizedHeadersGet431NamingTheLimit) {
  EchoHandler h;
  HttpServer::Options o;
  o.max_header_bytes = 1024;
  auto server = StartServer(&h, o);
  Client c(server->port());
  c.SendRaw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_EQ(res["x-amzn-ErrorType"], "RequestHeaderFieldsTooLarge");
  EXPECT_NE(res.body().find("limit of 1024 bytes"), std::string::npos) << res.body();
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_EQ(h.calls_.load(), 0);
}

// Boost 1.74's parser checks header_limit per window of unparsed bytes, so a header of many
// short fields used to get through at some alignments (test/hostile/http/many_headers). Every
// alignment of the field boundaries against the reads must be refused.
TEST(HttpServerTest, ManyShortHeaderFieldsCannotExceedTheLimit) {
  EchoHandler h;
  HttpServer::Options o;
  o.max_header_bytes = 1024;
  auto server = StartServer(&h, o);
  for (int pad = 0; pad < 16; ++pad) {
    std::string request = "GET / HTTP/1.1\r\nHost: " + std::string(1 + pad, 'h') + "\r\n";
    for (int i = 0; i < 400; ++i) request += "X-A: b\r\n";  // 3.2 KB of 8-byte fields
    request += "\r\n";
    Client c(server->port());
    c.SendRaw(request);
    auto res = c.Read();
    EXPECT_EQ(res.result_int(), 431) << "padding " << pad;
  }
  // A header just under the limit, made of the same short fields, is still served.
  std::string request = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 100; ++i) request += "X-A: b\r\n";
  request += "\r\n";
  Client c(server->port());
  c.SendRaw(request);
  EXPECT_EQ(c.Read().result_int(), 200);
  EXPECT_EQ(h.calls_.load(), 1);
}

TEST(HttpServerTest, OversizedBodyGets413NamingLimitAndSize) {
  EchoHandler h;
  Metrics metrics;
  HttpServer::Options o;
  o.max_body_bytes = 1000;
  o.metrics = &metrics;
  auto server = StartServer(&h, o);
  {
    Client c(server->port());
    c.SendRaw("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
              std::string(5000, 'b'));
    auto res = c.Read();
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(res["x-amzn-ErrorType"], "RequestEntityTooLarge");
    EXPECT_NE(res.body().find("5000 bytes exceeds the limit of 1000 bytes"), std::string::npos)
        << res.body();
  }
  {
    Client c(server->port());  // chunked: no length up front, caught while reading
    c.SendRaw(
        "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "400\r\n" +
        std::string(1024, 'c') + "\r\n0\r\n\r\n");
    auto res = c.Read();
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_NE(res.body().find("limit of 1000 bytes"), std::string::npos) << res.body();
  }
  {
    Client c(server->port());  // exactly at the limit is fine
    auto res = c.Request(http::verb::put, "/x", std::string(1000, 'd'));
    EXPECT_EQ(res.result_int(), 200);
  }
  EXPECT_NE(
      metrics.Serialize().find(R"(larder_requests_total{operation="unknown",status="413"} 2)"),
      std::string::npos);
}

TEST(HttpServerTest, ExpectContinueIsHonoured) {
  EchoHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  c.SendRaw("POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  {
    // The interim response comes before we send the body.
    auto interim = c.Read();
    EXPECT_EQ(interim.result_int(), 100);
  }
  c.SendRaw("data");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /c data");
}

TEST(HttpServerTest, SlowRequestIsCutOffAtTheReadDeadline) {
  EchoHandler h;
  HttpServer::Options o;
  o.read_timeout_ms = 200;
  auto server = StartServer(&h, o);
  Client c(server->port());
  auto start = std::chrono::steady_clock::now();
  c.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
  EXPECT_TRUE(c.WaitForClose());
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_EQ(h.calls_.load(), 0);
}

TEST(HttpServerTest, ConnectionsBeyondTheLimitAreRefusedWith503) {
  EchoHandler h;
  HttpServer::Options o;
  o.max_connections = 2;
  auto server = StartServer(&h, o);
  Client a(server->port()), b(server->port());
  ASSERT_EQ(a.Request(http::verb::get, "/a").result_int(), 200);  // both accepted and live
  ASSERT_EQ(b.Request(http::verb::get, "/b").result_int(), 200);
  Client c(server->port());
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res["x-amzn-ErrorType"], "ServiceUnavailable");
  EXPECT_NE(res.body().find("at most 2"), std::string::npos) << res.body();
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_EQ(a.Request(http::verb::get, "/a2").result_int(), 200);
}

TEST(HttpServerTest, HandlerExceptionBecomes500) {
  EchoHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  auto res = c.Request(http::verb::get, "/throw");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(res["x-amzn-ErrorType"], "InternalFailure");
  EXPECT_NE(res.body().find("boom"), std::string::npos);
  EXPECT_EQ(c.Request(http::verb::get, "/after").result_int(), 200);  // connection survives
}

TEST(HttpServerTest, MalformedRequestGets400) {
  EchoHandler h;
  auto server = StartServer(&h);
  Client c(server->port());
  c.SendRaw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res["x-amzn-ErrorType"], "BadRequest");
  EXPECT_TRUE(c.WaitForClose());
}

TEST(HttpServerTest, ShutdownFinishesInFlightRequestsAndClosesIdleOnes) {
  EchoHandler h;
  HttpServer::Options o;
  o.threads = 1;
  auto server = StartServer(&h, o);
  Client idle(server->port());
  ASSERT_EQ(idle.Request(http::verb::get, "/warm").result_int(), 200);
  Client busy(server->port());
  busy.SendRaw("GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  h.entered_.get_future().wait();  // the handler is running the request now
  auto stopped = std::async(std::launch::async, [&] { server->Shutdown(); });
  h.release_.set_value();
  auto res = busy.Read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "GET /block ");
  stopped.get();  // returns once every connection is gone
  EXPECT_TRUE(busy.WaitForClose());
  EXPECT_TRUE(idle.WaitForClose());
  boost::system::error_code ec;
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()), ec);
  EXPECT_TRUE(ec) << "still accepting after Shutdown";
  server->Shutdown();  // idempotent
}

TEST(HttpServerTest, ShutdownLetsARequestWhoseBodyIsArrivingFinish) {
  EchoHandler h;
  HttpServer::Options o;
  o.threads = 1;  // the acceptor and the session share one event loop: their work is ordered
  auto server = StartServer(&h, o);
  Client c(server->port());
  c.SendRaw("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(c.Read().result_int(), 100);  // the header is parsed; the server awaits the body
  auto stopped = std::async(std::launch::async, [&] { server->Shutdown(); });
  // Once connects are refused, the acceptor was closed, and the session's shutdown notice,
  // queued right behind that on the same loop, comes before anything we send from now on.
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), server->port());
  for (boost::system::error_code ec; !ec;) {
    net::io_context ioc;
    tcp::socket probe(ioc);
    probe.connect(ep, ec);
  }
  c.SendRaw("data");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST /slow data");
  stopped.get();
  EXPECT_TRUE(c.WaitForClose());
}

TEST(HttpServerTest, ShutdownCutsOffAStalledRequestAtTheGrace) {
  EchoHandler h;
  HttpServer::Options o;
  o.threads = 1;
  o.read_timeout_ms = 120'000;  // far beyond the grace: only the grace can end this quickly
  o.shutdown_grace_ms = 100;
  auto server = StartServer(&h, o);
  Client c(server->port());
  // The interim 100 proves the server parsed the header; the promised body never comes.
  c.SendRaw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(c.Read().result_int(), 100);
  auto start = std::chrono::steady_clock::now();
  server->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_TRUE(c.WaitForClose());
  EXPECT_EQ(h.calls_.load(), 0);
}

TEST(HttpServerTest, ListeningOnAPortInUseFails) {
  EchoHandler h;
  auto first = StartServer(&h);
  HttpServer::Options o;
  o.host = "127.0.0.1";
  o.port = first->port();
  auto second = HttpServer::Start(o, &h);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIOError);
  EXPECT_NE(second.status().message().find(std::to_string(first->port())), std::string::npos);
}

TEST(HttpServerTest, RequestIdsAreUuidV4AndUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(NewRequestId());
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(ids.begin()->size(), 36u);
}

}  // namespace
}  // namespace larder::server
