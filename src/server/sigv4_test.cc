#include "server/sigv4.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace larder::server {
namespace {

// One request signed by botocore (test/tools/gen_sigv4_vectors.py).
struct Vector {
  std::string name;
  std::string method;
  std::string target;
  HeaderList headers_to_sign;  // what botocore's signer was given (mixed-case names)
  HeaderList headers;          // what went on the wire, Authorization included
  std::string body;
  AwsCredentials creds;
  std::string region;
  std::string service;
  std::string amz_date;
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;
};

HeaderList ReadHeaders(const rapidjson::Value& v) {
  HeaderList out;
  for (const auto& pair : v.GetArray()) {
    out.emplace_back(pair[0].GetString(), pair[1].GetString());
  }
  return out;
}

const std::vector<Vector>& Vectors() {
  static const auto* vectors = [] {
    auto* out = new std::vector<Vector>();
    std::ifstream in(LARDER_SIGV4_VECTORS);
    std::stringstream ss;
    ss << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(ss.str().c_str());
    if (doc.HasParseError() || !doc.IsObject()) return out;
    for (const auto& v : doc["vectors"].GetArray()) {
      Vector x;
      x.name = v["name"].GetString();
      x.method = v["method"].GetString();
      x.target = v["target"].GetString();
      x.headers_to_sign = ReadHeaders(v["headers_to_sign"]);
      x.headers = ReadHeaders(v["headers"]);
      x.body = v["body"].GetString();
      x.creds = {v["access_key_id"].GetString(), v["secret_access_key"].GetString(),
                 v["session_token"].GetString()};
      x.region = v["region"].GetString();
      x.service = v["service"].GetString();
      x.amz_date = v["amz_date"].GetString();
      x.canonical_request = v["canonical_request"].GetString();
      x.string_to_sign = v["string_to_sign"].GetString();
      x.signature = v["signature"].GetString();
      x.authorization = v["authorization"].GetString();
      out->push_back(std::move(x));
    }
    return out;
  }();
  return *vectors;
}

const Vector& Find(std::string_view name) {
  for (const Vector& v : Vectors()) {
    if (v.name == name) return v;
  }
  ADD_FAILURE() << "no vector named " << name;
  return Vectors().front();
}

// The wire request as the HTTP server hands it over: names lower-cased.
HttpRequest ToRequest(const Vector& v) {
  HttpRequest req;
  req.method = v.method;
  req.target = v.target;
  for (const auto& [name, value] : v.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    req.headers.emplace_back(lower, value);
  }
  req.body = v.body;
  return req;
}

std::vector<std::string_view> SignedHeaderNames(const std::string& authorization) {
  std::string_view a = authorization;
  size_t start = a.find("SignedHeaders=") + std::string_view("SignedHeaders=").size();
  std::string_view list = a.substr(start, a.find(',', start) - start);
  std::vector<std::string_view> names;
  while (true) {
    size_t semi = list.find(';');
    names.push_back(list.substr(0, semi));
    if (semi == std::string_view::npos) break;
    list = list.substr(semi + 1);
  }
  return names;
}

int64_t MicrosOf(std::string_view amz_date) {
  int64_t secs = 0;
  EXPECT_TRUE(ParseAmzDate(amz_date, &secs)) << amz_date;
  return secs * 1'000'000;
}

constexpr std::string_view kSageMaker[] = {"sagemaker"};
constexpr std::string_view kAthena[] = {"athena"};

std::span<const std::string_view> ServiceOf(const Vector& v) {
  return v.service == "athena" ? std::span<const std::string_view>(kAthena)
                               : std::span<const std::string_view>(kSageMaker);
}

// A verifier that knows the vectors' key, at the vectors' time.
struct VerifierFixture {
  explicit VerifierFixture(const Vector& v, std::string region = "us-east-1",
                           std::string secret = "")
      : clock(MicrosOf(v.amz_date)) {
    SigV4Verifier::Options o;
    o.region = std::move(region);
    o.credentials.push_back(
        {v.creds.access_key_id, secret.empty() ? v.creds.secret_access_key : secret, ""});
    o.clock = &clock;
    verifier = std::make_unique<SigV4Verifier>(std::move(o));
  }
  FakeClock clock;
  std::unique_ptr<SigV4Verifier> verifier;
};

TEST(SigV4VectorsTest, FileLoadsWithTheExpectedCoverage) {
  ASSERT_GE(Vectors().size(), 20u) << "cannot read " << LARDER_SIGV4_VECTORS;
  int client = 0, runtime = 0, athena = 0;
  for (const Vector& v : Vectors()) {
    client +=
        v.name.starts_with("cp-") || v.name.starts_with("rt-") || v.name.starts_with("athena-");
    runtime += v.name.starts_with("rt-");
    athena += v.service == "athena";
  }
  EXPECT_GE(client, 10);
  EXPECT_GE(runtime, 5);
  EXPECT_GE(athena, 2);
}

TEST(SigV4VectorsTest, CanonicalRequestMatchesBotocoreByteForByte) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.name);
    HttpRequest req = ToRequest(v);
    const std::string* declared = req.Header("x-amz-content-sha256");
    std::string payload = declared != nullptr ? *declared : Sha256Hex(v.body);
    std::vector<std::string_view> names = SignedHeaderNames(v.authorization);
    EXPECT_EQ(CanonicalRequest(v.method, v.target, req.headers, names, payload),
              v.canonical_request);
  }
}

TEST(SigV4VectorsTest, StringToSignAndSignatureMatchBotocore) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.name);
    std::string date = v.amz_date.substr(0, 8);
    std::string scope = date + "/" + v.region + "/" + v.service + "/aws4_request";
    std::string sts = StringToSign(v.amz_date, scope, v.canonical_request);
    EXPECT_EQ(sts, v.string_to_sign);
    auto key = DeriveSigningKey(v.creds.secret_access_key, date, v.region, v.service);
    EXPECT_EQ(HmacSha256Hex(key, sts), v.signature);
  }
}

TEST(SigV4VectorsTest, SignerProducesBotocoresAuthorization) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.name);
    auto signed_req = SignRequest(v.method, v.target, v.headers_to_sign, v.body, v.creds, v.region,
                                  v.service, MicrosOf(v.amz_date));
    ASSERT_TRUE(signed_req.ok()) << signed_req.status().ToString();
    EXPECT_EQ(signed_req->canonical_request, v.canonical_request);
    EXPECT_EQ(signed_req->string_to_sign, v.string_to_sign);
    const HeaderList& add = signed_req->headers_to_add;
    ASSERT_EQ(add.size(), v.creds.session_token.empty() ? 2u : 3u);
    EXPECT_EQ(add.front(), (std::pair<std::string, std::string>("X-Amz-Date", v.amz_date)));
    if (!v.creds.session_token.empty()) {
      EXPECT_EQ(add[1].first, "X-Amz-Security-Token");
      EXPECT_EQ(add[1].second, v.creds.session_token);
    }
    EXPECT_EQ(add.back().first, "Authorization");
    EXPECT_EQ(add.back().second, v.authorization);
  }
}

TEST(SigV4VectorsTest, VerifierAcceptsEveryBotocoreRequest) {
  for (const Vector& v : Vectors()) {
    SCOPED_TRACE(v.name);
    VerifierFixture f(v);
    HttpRequest req = ToRequest(v);
    AuthResult r = f.verifier->Verify(req, ServiceOf(v));
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(r.access_key_id, v.creds.access_key_id);
  }
}

TEST(SigV4VectorsTest, SignerOutputVerifies) {
  const Vector& v = Find("rt-get-record-arn-spaces-slashes-repeated");
  HeaderList headers = {{"Host", "127.0.0.1:9999"}, {"Content-Type", "application/json"}};
  const int64_t now = 1'750'000'000'000'000;
  auto s = SignRequest("GET", v.target, headers, "", v.creds, "us-east-1", "sagemaker", now);
  ASSERT_TRUE(s.ok());
  HttpRequest req;
  req.method = "GET";
  req.target = v.target;
  req.headers = {{"host", "127.0.0.1:9999"}, {"content-type", "application/json"}};
  for (const auto& [k, val] : s->headers_to_add) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    req.headers.emplace_back(lower, val);
  }
  FakeClock clock(now);
  SigV4Verifier verifier({"us-east-1", {v.creds}, 15LL * 60 * 1'000'000, &clock});
  AuthResult r = verifier.Verify(req, kSageMaker);
  EXPECT_TRUE(r.ok()) << r.message;
}

TEST(SigV4Test, SignerRejectsMissingHostAndPresetAuthHeaders) {
  AwsCredentials c{"AKID", "secret", ""};
  EXPECT_EQ(SignRequest("GET", "/", {}, "", c, "us-east-1", "sagemaker", 0).status().code(),
            StatusCode::kInvalidArgument);
  auto s = SignRequest("GET", "/", {{"Host", "h"}, {"X-Amz-Date", "x"}}, "", c, "us-east-1",
                       "sagemaker", 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("X-Amz-Date"), std::string::npos);
}

// ---- Negative cases ----

TEST(SigV4Test, TamperedBodyIsRejected) {
  const Vector& v = Find("rt-put-record");
  VerifierFixture f(v);
  HttpRequest req = ToRequest(v);
  req.body.back() = ' ';
  AuthResult r = f.verifier->Verify(req, kSageMaker);
  EXPECT_EQ(r.error, AuthError::kInvalidSignature);
  EXPECT_TRUE(r.message.starts_with(
      "The request signature we calculated does not match the signature you provided. Check "
      "your AWS Secret Access Key and signing method."))
      << r.message;
  EXPECT_NE(r.message.find("The Canonical String for this request should have been"),
            std::string::npos);
  EXPECT_EQ(AuthErrorCode(r.error), "InvalidSignatureException");
  EXPECT_EQ(AuthErrorHttpStatus(r.error), 403);
}

TEST(SigV4Test, TamperedQueryPathOrSignedHeaderIsRejected) {
  const Vector& v = Find("rt-get-record-arn-spaces-slashes-repeated");
  VerifierFixture f(v);
  HttpRequest query = ToRequest(v);
  query.target += "&FeatureName=extra";
  EXPECT_EQ(f.verifier->Verify(query, kSageMaker).error, AuthError::kInvalidSignature);
  HttpRequest path = ToRequest(v);
  path.target.replace(path.target.find("customers-fg"), 12, "other-fg-xyz");
  EXPECT_EQ(f.verifier->Verify(path, kSageMaker).error, AuthError::kInvalidSignature);
  HttpRequest host = ToRequest(v);
  for (auto& [k, val] : host.headers) {
    if (k == "host") val = "127.0.0.1:8081";
  }
  EXPECT_EQ(f.verifier->Verify(host, kSageMaker).error, AuthError::kInvalidSignature);
}

TEST(SigV4Test, UnsignedHeadersMayChange) {
  const Vector& v = Find("cp-list-feature-groups");
  VerifierFixture f(v);
  HttpRequest req = ToRequest(v);
  for (auto& [k, val] : req.headers) {
    if (k == "user-agent") val = "something else";
  }
  req.headers.emplace_back("x-amzn-trace-id", "Root=1-abc");
  EXPECT_TRUE(f.verifier->Verify(req, kSageMaker).ok());
}

TEST(SigV4Test, WrongSecretIsRejected) {
  const Vector& v = Find("cp-list-feature-groups");
  VerifierFixture f(v, "us-east-1", "not-the-secret");
  AuthResult r = f.verifier->Verify(ToRequest(v), kSageMaker);
  EXPECT_EQ(r.error, AuthError::kInvalidSignature);
}

TEST(SigV4Test, UnknownAccessKeyIsUnrecognizedClient) {
  const Vector& v = Find("cp-list-feature-groups");
  FakeClock clock(MicrosOf(v.amz_date));
  SigV4Verifier verifier({"us-east-1", {{"AKIAOTHER", "x", ""}}, 15LL * 60 * 1'000'000, &clock});
  AuthResult r = verifier.Verify(ToRequest(v), kSageMaker);
  EXPECT_EQ(r.error, AuthError::kUnrecognizedClient);
  EXPECT_EQ(r.message, "The security token included in the request is invalid.");
  EXPECT_EQ(AuthErrorCode(r.error), "UnrecognizedClientException");
  EXPECT_EQ(AuthErrorHttpStatus(r.error), 403);
}

TEST(SigV4Test, ClockSkewBeyondFifteenMinutesIsRejectedBothWays) {
  const Vector& v = Find("rt-get-record-by-name");  // 20240309T160542Z
  VerifierFixture f(v);
  const int64_t minute = 60'000'000;
  f.clock.AdvanceMicros(14 * minute);
  EXPECT_TRUE(f.verifier->Verify(ToRequest(v), kSageMaker).ok());
  f.clock.AdvanceMicros(2 * minute);  // now 16 minutes after signing
  AuthResult old = f.verifier->Verify(ToRequest(v), kSageMaker);
  EXPECT_EQ(old.error, AuthError::kInvalidSignature);
  EXPECT_EQ(old.message,
            "Signature expired: 20240309T160542Z is now earlier than 20240309T160642Z "
            "(20240309T162142Z - 15 min.)");
  f.clock.AdvanceMicros(-32 * minute);  // now 16 minutes before signing
  AuthResult future = f.verifier->Verify(ToRequest(v), kSageMaker);
  EXPECT_EQ(future.error, AuthError::kInvalidSignature);
  EXPECT_EQ(future.message,
            "Signature not yet current: 20240309T160542Z is still later than 20240309T160442Z "
            "(20240309T154942Z + 15 min.)");
}

TEST(SigV4Test, WrongRegionOrServiceNamesTheValue) {
  const Vector& v = Find("cp-list-feature-groups");
  VerifierFixture eu(v, "eu-west-1");
  AuthResult r = eu.verifier->Verify(ToRequest(v), kSageMaker);
  EXPECT_EQ(r.error, AuthError::kInvalidSignature);
  EXPECT_NE(r.message.find("'us-east-1'"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("'eu-west-1'"), std::string::npos) << r.message;

  VerifierFixture f(v);
  AuthResult s = f.verifier->Verify(ToRequest(v), kAthena);
  EXPECT_EQ(s.error, AuthError::kInvalidSignature);
  EXPECT_EQ(s.message,
            "Credential should be scoped to correct service: 'athena'. Got 'sagemaker'.");
  const Vector& a = Find("athena-start-query");
  EXPECT_EQ(f.verifier->Verify(ToRequest(a), kSageMaker).error, AuthError::kInvalidSignature);
  constexpr std::string_view kBoth[] = {"sagemaker", "athena"};
  EXPECT_TRUE(f.verifier->Verify(ToRequest(a), kBoth).ok());
}

HttpRequest WithAuthorization(const Vector& v, std::string_view authorization) {
  HttpRequest req = ToRequest(v);
  for (auto& [k, val] : req.headers) {
    if (k == "authorization") val = authorization;
  }
  return req;
}

TEST(SigV4Test, MalformedAuthorizationIsIncompleteSignature) {
  const Vector& v = Find("cp-list-feature-groups");
  VerifierFixture f(v);

  AuthResult no_sig = f.verifier->Verify(
      WithAuthorization(v, v.authorization.substr(0, v.authorization.find(", Signature="))),
      kSageMaker);
  EXPECT_EQ(no_sig.error, AuthError::kIncompleteSignature);
  EXPECT_NE(no_sig.message.find("requires 'Signature' parameter"), std::string::npos);
  EXPECT_EQ(AuthErrorCode(no_sig.error), "IncompleteSignatureException");
  EXPECT_EQ(AuthErrorHttpStatus(no_sig.error), 400);

  AuthResult algo = f.verifier->Verify(WithAuthorization(v, "Basic dXNlcjpwYXNz"), kSageMaker);
  EXPECT_EQ(algo.error, AuthError::kIncompleteSignature);
  EXPECT_NE(algo.message.find("'Basic'"), std::string::npos);

  AuthResult cred = f.verifier->Verify(
      WithAuthorization(v,
                        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240309/us-east-1, "
                        "SignedHeaders=host;x-amz-date, Signature=00"),
      kSageMaker);
  EXPECT_EQ(cred.error, AuthError::kIncompleteSignature);
  EXPECT_NE(cred.message.find("Credential 'AKIAIOSFODNN7EXAMPLE/20240309/us-east-1' is malformed"),
            std::string::npos)
      << cred.message;

  std::string no_host = v.authorization;
  no_host.replace(no_host.find(";host"), 5, "");
  AuthResult host = f.verifier->Verify(WithAuthorization(v, no_host), kSageMaker);
  EXPECT_EQ(host.error, AuthError::kIncompleteSignature);
  EXPECT_NE(host.message.find("'Host'"), std::string::npos);

  std::string bad_terminator = v.authorization;
  bad_terminator.replace(bad_terminator.find("aws4_request"), 12, "aws4_requesx");
  EXPECT_EQ(f.verifier->Verify(WithAuthorization(v, bad_terminator), kSageMaker).error,
            AuthError::kInvalidSignature);
}

TEST(SigV4Test, MissingAuthorizationOrDateHeaders) {
  const Vector& v = Find("cp-list-feature-groups");
  VerifierFixture f(v);
  HttpRequest none = ToRequest(v);
  std::erase_if(none.headers, [](const auto& h) { return h.first == "authorization"; });
  AuthResult r = f.verifier->Verify(none, kSageMaker);
  EXPECT_EQ(r.error, AuthError::kMissingAuthenticationToken);
  EXPECT_EQ(r.message, "Missing Authentication Token");
  EXPECT_EQ(AuthErrorCode(r.error), "MissingAuthenticationTokenException");
  EXPECT_EQ(AuthErrorHttpStatus(r.error), 403);

  HttpRequest no_date = ToRequest(v);
  std::erase_if(no_date.headers, [](const auto& h) { return h.first == "x-amz-date"; });
  AuthResult d = f.verifier->Verify(no_date, kSageMaker);
  EXPECT_EQ(d.error, AuthError::kIncompleteSignature);
  EXPECT_NE(d.message.find("X-Amz-Date"), std::string::npos);

  HttpRequest bad_date = ToRequest(v);
  for (auto& [k, val] : bad_date.headers) {
    if (k == "x-amz-date") val = "2024-03-09T16:05:42Z";
  }
  AuthResult b = f.verifier->Verify(bad_date, kSageMaker);
  EXPECT_EQ(b.error, AuthError::kIncompleteSignature);
  EXPECT_NE(b.message.find("'2024-03-09T16:05:42Z'"), std::string::npos);

  HttpRequest other_day = ToRequest(v);
  for (auto& [k, val] : other_day.headers) {
    if (k == "x-amz-date") val = "20240310T000000Z";
  }
  f.clock.SetMicros(MicrosOf("20240310T000000Z"));
  AuthResult o = f.verifier->Verify(other_day, kSageMaker);
  EXPECT_EQ(o.error, AuthError::kInvalidSignature);
  EXPECT_NE(o.message.find("'20240309' != '20240310'"), std::string::npos) << o.message;
}

TEST(SigV4Test, SignatureMustMatchExactly) {
  const Vector& v = Find("cp-list-feature-groups");
  VerifierFixture f(v);
  std::string upper = v.authorization;
  size_t sig = upper.find("Signature=") + 10;
  std::transform(upper.begin() + sig, upper.end(), upper.begin() + sig, ::toupper);
  EXPECT_EQ(f.verifier->Verify(WithAuthorization(v, upper), kSageMaker).error,
            AuthError::kInvalidSignature);
  EXPECT_EQ(f.verifier->Verify(WithAuthorization(v, v.authorization + "00"), kSageMaker).error,
            AuthError::kInvalidSignature);
  EXPECT_EQ(
      f.verifier
          ->Verify(WithAuthorization(v, v.authorization.substr(0, v.authorization.size() - 1)),
                   kSageMaker)
          .error,
      AuthError::kInvalidSignature);
}

TEST(SigV4Test, ContentSha256HeaderMustMatchTheBody) {
  AwsCredentials c{"AKID", "secret", ""};
  const int64_t now = 1'750'000'000'000'000;
  std::string body = R"({"a":1})";
  HeaderList headers = {{"Host", "h"}, {"X-Amz-Content-SHA256", Sha256Hex("different")}};
  auto s = SignRequest("POST", "/BatchGetRecord", headers, body, c, "us-east-1", "sagemaker", now);
  ASSERT_TRUE(s.ok());
  HttpRequest req;
  req.method = "POST";
  req.target = "/BatchGetRecord";
  req.body = body;
  req.headers = {{"host", "h"}, {"x-amz-content-sha256", Sha256Hex("different")}};
  for (const auto& [k, val] : s->headers_to_add) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    req.headers.emplace_back(lower, val);
  }
  FakeClock clock(now);
  SigV4Verifier verifier({"us-east-1", {c}, 15LL * 60 * 1'000'000, &clock});
  AuthResult r = verifier.Verify(req, kSageMaker);
  EXPECT_EQ(r.error, AuthError::kInvalidSignature);
  EXPECT_NE(r.message.find("x-amz-content-sha256"), std::string::npos);
}

TEST(SigV4Test, VerifiesConcurrentlyAcrossDaysWithPerThreadKeyCaches) {
  // Two requests signed on different days exercise two cached keys per thread.
  AwsCredentials c{"AKID", "secret", ""};
  const int64_t day1 = 1'750'000'000'000'000;
  const int64_t day2 = day1 + 86'400'000'000LL;
  auto make = [&](int64_t now) {
    auto s = SignRequest("GET", "/FeatureGroup/fg?RecordIdentifierValueAsString=1", {{"Host", "h"}},
                         "", c, "us-east-1", "sagemaker", now);
    HttpRequest req;
    req.method = "GET";
    req.target = "/FeatureGroup/fg?RecordIdentifierValueAsString=1";
    req.headers = {{"host", "h"}};
    for (const auto& [k, val] : s->headers_to_add) {
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      req.headers.emplace_back(lower, val);
    }
    return req;
  };
  HttpRequest r1 = make(day1), r2 = make(day2);
  FakeClock clock1(day1), clock2(day2);
  SigV4Verifier v1({"us-east-1", {c}, 15LL * 60 * 1'000'000, &clock1});
  SigV4Verifier v2({"us-east-1", {c}, 15LL * 60 * 1'000'000, &clock2});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!v1.Verify(r1, kSageMaker).ok()) failures++;
        if (!v2.Verify(r2, kSageMaker).ok()) failures++;
        if (v1.Verify(r2, kSageMaker).ok()) failures++;  // r2 is a day in v1's future
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(SigV4Test, AmzDateRoundTrips) {
  int64_t secs = 0;
  ASSERT_TRUE(ParseAmzDate("20240229T235959Z", &secs));
  EXPECT_EQ(FormatAmzDate(secs * 1'000'000 + 999'999), "20240229T235959Z");
  EXPECT_EQ(FormatAmzDate(0), "19700101T000000Z");
  EXPECT_FALSE(ParseAmzDate("20230229T000000Z", &secs));  // not a leap year
  EXPECT_FALSE(ParseAmzDate("20240309T250000Z", &secs));
  EXPECT_FALSE(ParseAmzDate("20240309 160542Z", &secs));
  EXPECT_FALSE(ParseAmzDate("20240309T160542", &secs));
}

TEST(SigV4Test, CanonicalUriAndQueryEdgeCases) {
  auto uri = [](std::string_view p) {
    std::string s;
    AppendCanonicalUri(p, &s);
    return s;
  };
  EXPECT_EQ(uri(""), "/");
  EXPECT_EQ(uri("/"), "/");
  EXPECT_EQ(uri("//"), "/");
  EXPECT_EQ(uri("/a/../.."), "/");
  EXPECT_EQ(uri("/a//b/"), "/a/b/");
  EXPECT_EQ(uri("/a b"), "/a%20b");
  EXPECT_EQ(uri("/x%2Fy"), "/x%252Fy");
  auto query = [](std::string_view q) {
    std::string s;
    AppendCanonicalQuery(q, &s);
    return s;
  };
  EXPECT_EQ(query(""), "");
  EXPECT_EQ(query("b=1&a"), "a=&b=1");
  EXPECT_EQ(query("&"), "=&=");
  EXPECT_EQ(query("a=2&a=10&a=1"), "a=1&a=10&a=2");
}

}  // namespace
}  // namespace larder::server
