#include "fuzz/fuzz_util.h"

#include <rapidjson/document.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "cli/services.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/sigv4.h"

namespace larder::fuzz {

namespace {

[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "fuzz stack: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

std::string MakeTempDir() {
  char tmpl[] = "/tmp/larder-fuzz-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
  return tmpl;
}

}  // namespace

struct Stack::Impl {
  cli::Services services;
  server::Metrics metrics;
  std::unique_ptr<server::SigV4Verifier> verifier;
  std::unique_ptr<server::Router> router;
};

Stack& Stack::Get() {
  static Stack* stack = new Stack();  // never destroyed: the fuzzer exits without cleanup
  return *stack;
}

Stack::Stack() : impl_(new Impl), data_dir_(MakeTempDir()) {
  cli::ServeConfig config;
  config.data_dir = data_dir_;
  config.access_key_id = kAccessKey;
  config.secret_access_key = kSecretKey;
  config.region = kRegion;
  config.flush_interval_ms = 50;
  config.query_workers = 1;
  config.query_memory_limit_mb = 64;
  config.query_timeout_ms = 1000;
  StatusOr<cli::Services> services = cli::OpenServices(config);
  if (!services.ok()) Die(services.status().ToString());
  impl_->services = std::move(services).value();
  server::SigV4Verifier::Options vo;
  vo.region = kRegion;
  vo.credentials.push_back({kAccessKey, kSecretKey, ""});
  impl_->verifier = std::make_unique<server::SigV4Verifier>(std::move(vo));
  server::Router::Options ro;
  ro.verifier = impl_->verifier.get();
  ro.metrics = &impl_->metrics;
  ro.control_plane = impl_->services.control_plane.get();
  ro.runtime = impl_->services.runtime.get();
  ro.athena = impl_->services.athena.get();
  impl_->router = std::make_unique<server::Router>(ro);
  impl_->router->SetReady(true);

  // The known group, created through the control plane as a client would.
  server::HttpRequest req;
  req.method = "POST";
  req.target = "/";
  req.headers = {{"x-amz-target", "SageMaker.CreateFeatureGroup"}};
  req.body = std::string(R"({"FeatureGroupName":")") + kGroup + R"(",
    "RecordIdentifierFeatureName":"customer_id","EventTimeFeatureName":"event_time",
    "FeatureDefinitions":[{"FeatureName":"customer_id","FeatureType":"String"},
      {"FeatureName":"event_time","FeatureType":"String"},
      {"FeatureName":"score","FeatureType":"Fractional"},
      {"FeatureName":"visits","FeatureType":"Integral"}],
    "OnlineStoreConfig":{"EnableOnlineStore":true},
    "OfflineStoreConfig":{"S3StorageConfig":{"S3Uri":"s3://fuzz/fs"}}})";
  server::HttpResponse resp;
  ControlPlane(req, &resp);
  if (resp.status != 200) Die("creating the fuzz group: " + resp.body);
  for (int i = 0; i < 1000; ++i) {  // the catalog's worker finishes the creation
    req.headers = {{"x-amz-target", "SageMaker.DescribeFeatureGroup"}};
    req.body = std::string(R"({"FeatureGroupName":")") + kGroup + "\"}";
    resp = server::HttpResponse();
    ControlPlane(req, &resp);
    if (resp.body.find("\"Created\"") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Die("the fuzz group was not Created within 10 s");
}

void Stack::Serve(server::HttpRequest* req, server::HttpResponse* resp) {
  impl_->router->Serve(req, resp);
}

void Stack::ControlPlane(const server::HttpRequest& req, server::HttpResponse* resp) {
  impl_->services.control_plane->Handle(req, resp);
}

void Stack::Runtime(const server::HttpRequest& req, server::HttpResponse* resp) {
  impl_->services.runtime->Handle(req, resp);
}

void Stack::Athena(const server::HttpRequest& req, server::HttpResponse* resp) {
  impl_->services.athena->Handle(req, resp);
}

bool Stack::Sign(server::HttpRequest* req, std::string_view service) {
  server::HeaderList headers;
  bool has_host = false;
  for (const auto& [name, value] : req->headers) {
    if (name == "authorization" || name == "x-amz-date" || name == "x-amz-security-token") continue;
    if (name == "host") has_host = true;
    headers.emplace_back(name, value);
  }
  if (!has_host) headers.emplace_back("host", "127.0.0.1:8080");
  server::AwsCredentials creds{kAccessKey, kSecretKey, ""};
  StatusOr<server::SignedRequest> signed_req =
      server::SignRequest(req->method, req->target, headers, req->body, creds, kRegion, service,
                          Clock::Real()->NowMicros());
  if (!signed_req.ok()) return false;
  req->headers = std::move(headers);
  for (auto& [name, value] : signed_req->headers_to_add) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req->headers.emplace_back(std::move(lower), std::move(value));
  }
  return true;
}

void CheckResponse(const server::HttpRequest& req, const server::HttpResponse& resp) {
  auto fail = [&](std::string_view why) {
    std::fprintf(stderr, "response invariant violated: %.*s\nrequest: %s %s\nstatus %d body: %s\n",
                 static_cast<int>(why.size()), why.data(), req.method.c_str(),
                 req.target.c_str(), resp.status, resp.body.substr(0, 2000).c_str());
    std::abort();
  };
  const bool ok_status = (resp.status >= 200 && resp.status < 300) ||
                         (resp.status >= 400 && resp.status < 500) || resp.status == 501 ||
                         resp.status == 503;
  if (!ok_status) fail("status is neither 2xx, 4xx, 501 nor 503");
  if (resp.content_type.find("json") == std::string::npos) return;
  if (resp.body.empty() && resp.status < 300) return;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(resp.body.data(), resp.body.size());
  if (doc.HasParseError()) fail("the JSON body does not parse (or is not UTF-8)");
  if (resp.status < 300) return;
  if (!doc.IsObject() || !doc.HasMember("__type") || !doc["__type"].IsString()) {
    fail("an error body without a string __type");
  }
  const bool has_message = (doc.HasMember("message") && doc["message"].IsString()) ||
                           (doc.HasMember("Message") && doc["Message"].IsString());
  if (!has_message) fail("an error body without a message");
  for (const auto& [name, value] : resp.headers) {
    if (name == "x-amzn-ErrorType" && value != doc["__type"].GetString()) {
      fail("x-amzn-ErrorType and __type disagree");
    }
  }
}

}  // namespace larder::fuzz
