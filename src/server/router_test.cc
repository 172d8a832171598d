#include "server/router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

namespace larder::server {
namespace {

constexpr int64_t kNow = 1'750'000'000'000'000;
const AwsCredentials kCreds{"AKIAROUTERTEST000001", "router-secret", ""};

// Records what it was given; answers with its name.
class FakeHandler : public ApiHandler {
 public:
  explicit FakeHandler(std::string name) : name_(std::move(name)) {}
  void Handle(const HttpRequest& req, HttpResponse* resp) override {
    calls_++;
    last_access_key_ = req.access_key_id;
    resp->operation = "Fake" + name_;
    resp->body = "{\"handler\":\"" + name_ + "\"}";
  }
  int calls() const { return calls_.load(); }
  const std::string& last_access_key() const { return last_access_key_; }

 private:
  std::string name_;
  std::atomic<int> calls_{0};
  std::string last_access_key_;
};

std::string ErrorType(const HttpResponse& resp) {
  for (const auto& [k, v] : resp.headers) {
    if (k == "x-amzn-ErrorType") return v;
  }
  return "";
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : clock_(kNow) {
    SigV4Verifier::Options vo;
    vo.region = "us-east-1";
    vo.credentials = {kCreds};
    vo.clock = &clock_;
    verifier_ = std::make_unique<SigV4Verifier>(std::move(vo));
  }

  void MakeRouter(bool control_plane, bool runtime, bool athena) {
    Router::Options o;
    o.verifier = verifier_.get();
    o.metrics = &metrics_;
    o.control_plane = control_plane ? &cp_ : nullptr;
    o.runtime = runtime ? &rt_ : nullptr;
    o.athena = athena ? &athena_ : nullptr;
    router_ = std::make_unique<Router>(o);
    router_->SetReady(true);
  }

  // A request signed for `service` with `creds`; `target_header` empty means no X-Amz-Target.
  HttpRequest Signed(std::string method, std::string target, std::string target_header,
                     std::string body, std::string service = "sagemaker",
                     const AwsCredentials& creds = kCreds) {
    HeaderList headers = {{"Host", "127.0.0.1:8080"}};
    if (!target_header.empty()) {
      headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
      headers.emplace_back("X-Amz-Target", target_header);
    }
    auto s = SignRequest(method, target, headers, body, creds, "us-east-1", service, kNow);
    EXPECT_TRUE(s.ok());
    HttpRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    for (auto& h : headers) req.headers.push_back(h);
    for (auto& h : s->headers_to_add) req.headers.push_back(h);
    for (auto& [k, v] : req.headers) {
      std::transform(k.begin(), k.end(), k.begin(), ::tolower);
    }
    return req;
  }

  HttpResponse Serve(HttpRequest req) {
    HttpResponse resp;
    router_->Serve(&req, &resp);
    return resp;
  }

  FakeClock clock_;
  std::unique_ptr<SigV4Verifier> verifier_;
  Metrics metrics_;
  FakeHandler cp_{"cp"}, rt_{"rt"}, athena_{"athena"};
  std::unique_ptr<Router> router_;
};

TEST_F(RouterTest, HealthzNeedsNoAuthAndFollowsReadiness) {
  MakeRouter(false, false, false);
  router_->SetReady(false);
  HttpRequest req;
  req.method = "GET";
  req.target = "/healthz";
  HttpResponse starting = Serve(req);
  EXPECT_EQ(starting.status, 503);
  router_->SetReady(true);
  HttpResponse ok = Serve(req);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"status":"ok"})");
}

TEST_F(RouterTest, DispatchesOnXAmzTargetAfterVerifying) {
  MakeRouter(true, true, true);
  HttpResponse cp = Serve(Signed("POST", "/", "SageMaker.ListFeatureGroups", "{}"));
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(cp.body, R"({"handler":"cp"})");
  EXPECT_EQ(cp_.last_access_key(), kCreds.access_key_id);

  HttpResponse ath = Serve(Signed("POST", "/", "AmazonAthena.StartQueryExecution", "{}", "athena"));
  EXPECT_EQ(ath.status, 200);
  EXPECT_EQ(ath.body, R"({"handler":"athena"})");

  HttpResponse rt =
      Serve(Signed("GET", "/FeatureGroup/fg?RecordIdentifierValueAsString=1", "", ""));
  EXPECT_EQ(rt.status, 200);
  EXPECT_EQ(rt.body, R"({"handler":"rt"})");
  EXPECT_EQ(rt_.last_access_key(), kCreds.access_key_id);
  EXPECT_EQ(cp_.calls(), 1);
  EXPECT_EQ(athena_.calls(), 1);
  EXPECT_EQ(rt_.calls(), 1);
}

TEST_F(RouterTest, AuthFailuresUseJsonCodesOnControlPlaneAndAccessForbiddenOnRuntime) {
  MakeRouter(true, true, true);
  AwsCredentials wrong = kCreds;
  wrong.secret_access_key = "wrong";
  HttpResponse cp =
      Serve(Signed("POST", "/", "SageMaker.ListFeatureGroups", "{}", "sagemaker", wrong));
  EXPECT_EQ(cp.status, 403);
  EXPECT_EQ(ErrorType(cp), "InvalidSignatureException");
  EXPECT_EQ(cp.content_type, "application/x-amz-json-1.1");
  EXPECT_NE(cp.body.find("does not match the signature you provided"), std::string::npos);

  HttpResponse rt = Serve(Signed("GET", "/FeatureGroup/fg?RecordIdentifierValueAsString=1", "", "",
                                 "sagemaker", wrong));
  EXPECT_EQ(rt.status, 403);
  EXPECT_EQ(ErrorType(rt), "AccessForbidden");
  EXPECT_NE(rt.body.find("does not match the signature you provided"), std::string::npos);

  AwsCredentials unknown{"AKIAUNKNOWN", "x", ""};
  HttpResponse u =
      Serve(Signed("POST", "/", "SageMaker.ListFeatureGroups", "{}", "sagemaker", unknown));
  EXPECT_EQ(u.status, 403);
  EXPECT_EQ(ErrorType(u), "UnrecognizedClientException");

  HttpResponse wrong_service =
      Serve(Signed("POST", "/", "AmazonAthena.ListWorkGroups", "{}", "sagemaker"));
  EXPECT_EQ(wrong_service.status, 403);
  EXPECT_EQ(ErrorType(wrong_service), "InvalidSignatureException");
  EXPECT_NE(wrong_service.body.find("'athena'"), std::string::npos);

  HttpRequest unsigned_req;
  unsigned_req.method = "POST";
  unsigned_req.target = "/";
  unsigned_req.headers = {{"host", "h"}, {"x-amz-target", "SageMaker.ListFeatureGroups"}};
  HttpResponse missing = Serve(unsigned_req);
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(ErrorType(missing), "MissingAuthenticationTokenException");
  EXPECT_EQ(cp_.calls() + rt_.calls() + athena_.calls(), 0);
}

TEST_F(RouterTest, UnconfiguredHandlerAnswers501NamingThePart) {
  MakeRouter(false, false, false);
  HttpResponse cp = Serve(Signed("POST", "/", "SageMaker.ListFeatureGroups", "{}"));
  EXPECT_EQ(cp.status, 501);
  EXPECT_EQ(ErrorType(cp), "NotImplemented");
  EXPECT_NE(cp.body.find("control plane"), std::string::npos) << cp.body;
  EXPECT_NE(cp.body.find("SageMaker.ListFeatureGroups"), std::string::npos);
  HttpResponse rt = Serve(Signed("POST", "/BatchGetRecord", "", "{}"));
  EXPECT_EQ(rt.status, 501);
  EXPECT_NE(rt.body.find("runtime"), std::string::npos);
  HttpResponse ath = Serve(Signed("POST", "/", "AmazonAthena.ListWorkGroups", "{}", "athena"));
  EXPECT_EQ(ath.status, 501);
  EXPECT_NE(ath.body.find("Athena"), std::string::npos);
}

TEST_F(RouterTest, UnknownTargetIs400AfterAuthentication) {
  MakeRouter(true, true, true);
  HttpResponse r = Serve(Signed("POST", "/", "DynamoDB_20120810.ListTables", "{}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorType(r), "UnknownOperationException");
  EXPECT_NE(r.body.find("DynamoDB_20120810.ListTables"), std::string::npos);
}

TEST_F(RouterTest, MetricsEndpointReportsServedOperations) {
  MakeRouter(true, false, false);
  Serve(Signed("POST", "/", "SageMaker.ListFeatureGroups", "{}"));
  Serve(Signed("POST", "/", "SageMaker.ListFeatureGroups", "{}"));
  Serve(Signed("POST", "/BatchGetRecord", "", "{}"));  // 501: runtime not configured
  HttpRequest req;
  req.method = "GET";
  req.target = "/metrics";
  HttpResponse m = Serve(req);
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, Metrics::kContentType);
  EXPECT_NE(m.body.find(R"(larder_requests_total{operation="Fakecp",status="200"} 2)"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find(R"(larder_requests_total{operation="unknown",status="501"} 1)"),
            std::string::npos)
      << m.body;
  EXPECT_NE(
      m.body.find(R"(larder_request_errors_total{code="NotImplemented",operation="unknown"} 1)"),
      std::string::npos);
}

}  // namespace
}  // namespace larder::server
