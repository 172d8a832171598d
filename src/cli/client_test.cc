#include "cli/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <thread>

#include "server/error_map.h"
#include "server/http_server.h"
#include "server/sigv4.h"

namespace larder::cli {
namespace {

constexpr char kKey[] = "AKIACLIENTTEST000001";
constexpr char kSecret[] = "client-test-secret";

// Verifies every request's signature like the router, then answers by path:
//   /echo...       200 {"method":..,"target":..,"body":..,"service":..}
//   /missing       404 with x-amzn-ErrorType ResourceNotFound (rest-json)
//   /html          500 with a non-JSON body
//   json 1.1 with X-Amz-Target *.Fail: 400 {"__type":"com.amazon.coral#ResourceInUse",...}
class CheckingHandler : public server::HttpHandler {
 public:
  CheckingHandler() : verifier_(Options()) {}

  void Serve(server::HttpRequest* req, server::HttpResponse* resp) override {
    ++calls_;
    const std::string_view services[] = {"sagemaker", "athena"};
    server::AuthResult auth = verifier_.Verify(*req, services);
    if (!auth.ok()) {
      server::WriteError(server::AuthErrorHttpStatus(auth.error), server::AuthErrorCode(auth.error),
                         auth.message, resp);
      return;
    }
    const std::string* target = req->Header("x-amz-target");
    if (target != nullptr && target->ends_with(".Fail")) {
      resp->status = 400;
      resp->body = R"({"__type":"com.amazon.coral#ResourceInUse","message":"name taken"})";
      return;
    }
    if (req->path() == "/missing") {
      server::WriteError(404, "ResourceNotFound", "no such group", resp);
      return;
    }
    if (req->path() == "/html") {
      resp->status = 500;
      resp->content_type = "text/html";
      resp->body = "<html>oops</html>";
      return;
    }
    const std::string* auth_header = req->Header("authorization");
    const bool athena =
        auth_header != nullptr && auth_header->find("/athena/") != std::string::npos;
    resp->body = "{\"method\":\"" + req->method + "\",\"target\":\"" + req->target +
                 "\",\"body\":" + (req->body.empty() ? "null" : req->body) + ",\"service\":\"" +
                 (athena ? "athena" : "sagemaker") + "\"}";
  }

  std::atomic<int> calls_{0};

 private:
  static server::SigV4Verifier::Options Options() {
    server::SigV4Verifier::Options o;
    o.region = "us-east-1";
    o.credentials.push_back({kKey, kSecret, ""});
    return o;
  }
  server::SigV4Verifier verifier_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::HttpServer::Options o;
    o.port = 0;
    o.threads = 2;
    auto s = server::HttpServer::Start(o, &handler_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }

  ClientConfig Config(std::string secret = kSecret) {
    ClientFlags f;
    f.endpoint = "http://127.0.0.1:" + std::to_string(server_->port());
    f.access_key_id = kKey;
    f.secret_access_key = std::move(secret);
    f.timeout_seconds = 10;
    auto c = ResolveClientConfig(f, [](const char*) -> const char* { return nullptr; });
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }

  CheckingHandler handler_;
  std::unique_ptr<server::HttpServer> server_;
};

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(ResolveClientConfigTest, FlagsThenEnvironmentThenDefaults) {
  ClientFlags none;
  auto c =
      ResolveClientConfig(none, Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(c->host_header, "127.0.0.1:8080");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->credentials.access_key_id, "A");

  c = ResolveClientConfig(none, Env({{"AWS_ACCESS_KEY_ID", "A"},
                                     {"AWS_SECRET_ACCESS_KEY", "S"},
                                     {"AWS_SESSION_TOKEN", "T"},
                                     {"AWS_ENDPOINT_URL", "http://localhost:9000/"},
                                     {"AWS_DEFAULT_REGION", "eu-west-1"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, "9000");
  EXPECT_EQ(c->region, "eu-west-1");
  EXPECT_EQ(c->credentials.session_token, "T");

  ClientFlags flags;
  flags.endpoint = "http://[::1]:80";
  flags.region = "ap-south-1";
  flags.access_key_id = "F";
  flags.secret_access_key = "G";
  c = ResolveClientConfig(flags, Env({{"AWS_REGION", "us-west-2"}, {"AWS_ACCESS_KEY_ID", "A"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->host_header, "[::1]");  // the default port stays out of Host, as botocore does
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->credentials.access_key_id, "F");
}

TEST(ResolveClientConfigTest, ClearErrors) {
  ClientFlags none;
  auto c = ResolveClientConfig(none, Env({}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no AWS credentials: AWS_ACCESS_KEY_ID is not set"),
            std::string::npos);
  ClientFlags https;
  https.endpoint = "https://example.com";
  c = ResolveClientConfig(https, Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "--endpoint must be an http:// URL such as http://127.0.0.1:8080, got "
            "'https://example.com': https is not supported; `larder serve` speaks plain HTTP");
  ClientFlags port;
  port.endpoint = "http://h:99999";
  EXPECT_FALSE(
      ResolveClientConfig(port, Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}}))
          .ok());
}

TEST_F(ClientTest, JsonAndRestRequestsAreSignedAsTheServerExpects) {
  AwsClient client(Config());
  auto d = client.SageMaker("ListFeatureGroups", R"({"MaxResults":5})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)["body"]["MaxResults"].GetInt(), 5);
  EXPECT_EQ(std::string((*d)["service"].GetString()), "sagemaker");

  d = client.Athena("GetQueryExecution", R"({"QueryExecutionId":"q"})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(std::string((*d)["service"].GetString()), "athena");

  // rest-json with an encoded path label (an ARN) and a repeated, encoded query.
  const std::string target =
      "/echo/" + UriEncode("arn:aws:sagemaker:us-east-1:123456789012:feature-group/g") +
      "?RecordIdentifierValueAsString=" + UriEncode("a b/c") + "&FeatureName=x&FeatureName=y";
  d = client.CallRest("GET", target, "", "GetRecord");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(std::string((*d)["target"].GetString()), target);
  EXPECT_EQ(std::string((*d)["method"].GetString()), "GET");
  EXPECT_TRUE((*d)["body"].IsNull());
  d = client.CallRest("PUT", "/echo", R"({"Record":[]})", "PutRecord");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE((*d)["body"]["Record"].IsArray());
}

TEST_F(ClientTest, AwsErrorsBecomeStatusesWithCodeAndMessage) {
  AwsClient client(Config());
  auto d = client.SageMaker("Fail", "{}");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(d.status().message(), "ResourceInUse: name taken");

  d = client.CallRest("GET", "/missing", "", "GetRecord");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(d.status().message(), "ResourceNotFound: no such group");

  d = client.CallRest("GET", "/html", "", "GetRecord");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInternal);
  EXPECT_EQ(d.status().message(), "GetRecord failed with HTTP 500: <html>oops</html>");
}

TEST_F(ClientTest, WrongSecretReportsTheServersMessage) {
  AwsClient client(Config("not-the-secret"));
  auto d = client.SageMaker("ListFeatureGroups", "{}");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(d.status().message().starts_with("InvalidSignatureException: "))
      << d.status().message();
  EXPECT_NE(d.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST_F(ClientTest, PipelinedRepliesComeBackInOrder) {
  Connection conn(Config());
  std::vector<std::string> bodies;
  for (int i = 0; i < 8; ++i) bodies.push_back("{\"n\":" + std::to_string(i) + "}");
  for (const std::string& b : bodies) {
    ClientRequest r;
    r.method = "POST";
    r.target = "/echo";
    r.content_type = "application/json";
    r.body = b;
    ASSERT_TRUE(conn.Send(r).ok());
  }
  EXPECT_EQ(conn.outstanding(), 8u);
  for (int i = 0; i < 8; ++i) {
    auto reply = conn.Receive();
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    EXPECT_EQ(reply->status, 200);
    EXPECT_NE(reply->body.find("{\"n\":" + std::to_string(i) + "}"), std::string::npos)
        << reply->body;
  }
  EXPECT_EQ(conn.outstanding(), 0u);
}

TEST(ConnectionTest, RefusedConnectionSaysIsLarderServeRunning) {
  // A port nothing listens on: bind one, then close it.
  uint16_t port;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  ClientFlags f;
  f.endpoint = "http://127.0.0.1:" + std::to_string(port);
  auto c =
      ResolveClientConfig(f, Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}}));
  ASSERT_TRUE(c.ok());
  AwsClient client(*c);
  auto d = client.SageMaker("ListFeatureGroups", "{}");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(d.status().message(), "cannot connect to " + f.endpoint +
                                      ": connection refused — is `larder serve` running?");
}

// A one-shot server: answers each connection's first request, then closes it (as a server that
// drops idle keep-alive connections does), or never answers (`silent`).
class OneShotServer {
 public:
  explicit OneShotServer(bool silent)
      : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, silent] {
      namespace http = boost::beast::http;
      while (!stop_) {
        boost::asio::ip::tcp::socket s(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stop_) return;
        boost::beast::flat_buffer buf;
        http::request<http::string_body> req;
        http::read(s, buf, req, ec);
        if (ec) continue;
        ++served_;
        if (silent) {
          held_.push_back(std::move(s));  // keep it open, never answer
          continue;
        }
        http::response<http::string_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = "{\"served\":" + std::to_string(served_.load()) + "}";
        res.prepare_payload();
        http::write(s, res, ec);
        s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      }
    });
  }
  ~OneShotServer() {
    stop_ = true;
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);  // unblocks accept
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int served() const { return served_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::vector<boost::asio::ip::tcp::socket> held_;
  std::thread thread_;
};

ClientConfig LocalConfig(uint16_t port, double timeout_seconds) {
  ClientFlags f;
  f.endpoint = "http://127.0.0.1:" + std::to_string(port);
  f.timeout_seconds = timeout_seconds;
  auto c =
      ResolveClientConfig(f, Env({{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}}));
  EXPECT_TRUE(c.ok());
  return *c;
}

TEST(ConnectionTest, RoundTripReconnectsWhenTheServerClosedAKeptAliveConnection) {
  OneShotServer server(/*silent=*/false);
  AwsClient client(LocalConfig(server.port(), 10));
  for (int i = 1; i <= 3; ++i) {
    auto d = client.CallRest("GET", "/x", "", "GetRecord");
    ASSERT_TRUE(d.ok()) << i << ": " << d.status().ToString();
    EXPECT_EQ((*d)["served"].GetInt(), i);
  }
  EXPECT_EQ(server.served(), 3);
}

TEST(ConnectionTest, NoReplyWithinTheTimeoutIsDeadlineExceeded) {
  OneShotServer server(/*silent=*/true);
  AwsClient client(LocalConfig(server.port(), 0.3));
  auto d = client.CallRest("GET", "/x", "", "GetRecord");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(d.status().message().find("no reply within 0.3 s (--timeout)"), std::string::npos)
      << d.status().message();
}

TEST(UriEncodeTest, LeavesOnlyUnreservedBare) {
  EXPECT_EQ(UriEncode("a b/c:d~e-f.g_h"), "a%20b%2Fc%3Ad~e-f.g_h");
  EXPECT_EQ(UriEncode("é"), "%C3%A9");
}

}  // namespace
}  // namespace larder::cli
