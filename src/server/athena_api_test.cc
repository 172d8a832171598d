#include "server/athena_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "offline/flusher.h"
#include "offline/offline_test_util.h"
#include "offline/query_engine.h"

namespace larder::server {
namespace {

using offline::testing::CustomerGroup;
using offline::testing::CustomerRecord;
using offline::testing::FakeCatalog;
using offline::testing::FakeOutbox;
using offline::testing::ScratchDir;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z

TEST(AthenaTextTest, FormatsValuesTheWayAthenaDoes) {
  using offline::DataType;
  using offline::Datum;
  using offline::TypeKind;
  DataType dbl = DataType::Scalar(TypeKind::kDouble);
  EXPECT_EQ(AthenaText(Datum::Double(0.92), dbl), "0.92");
  EXPECT_EQ(AthenaText(Datum::Double(1250.75), dbl), "1250.75");
  EXPECT_EQ(AthenaText(Datum::Double(3), dbl), "3.0");
  EXPECT_EQ(AthenaText(Datum::Double(-24), dbl), "-24.0");
  EXPECT_EQ(AthenaText(Datum::Double(1e-5), dbl), "1.0E-5");
  EXPECT_EQ(AthenaText(Datum::Double(0.001), dbl), "0.001");
  EXPECT_EQ(AthenaText(Datum::Double(12345678.9), dbl), "1.23456789E7");
  EXPECT_EQ(AthenaText(Datum::Double(1e7), dbl), "1.0E7");
  EXPECT_EQ(AthenaText(Datum::Double(9999999), dbl), "9999999.0");
  EXPECT_EQ(AthenaText(Datum::Double(0), dbl), "0.0");
  EXPECT_EQ(AthenaText(Datum::Bool(true), DataType::Scalar(TypeKind::kBoolean)), "true");
  EXPECT_EQ(AthenaText(Datum::Int(-7), DataType::Scalar(TypeKind::kBigInt)), "-7");
  EXPECT_EQ(AthenaText(Datum::Int(kT0 + 123'000), DataType::Scalar(TypeKind::kTimestamp)),
            "2023-11-14 22:13:20.123");
  EXPECT_EQ(AthenaText(Datum::Int(kT0 + 1), DataType::Scalar(TypeKind::kTimestamp)),
            "2023-11-14 22:13:20.000");
  EXPECT_EQ(AthenaText(Datum::Int(19'675), DataType::Scalar(TypeKind::kDate)), "2023-11-14");
  EXPECT_EQ(AthenaText(Datum::List({Datum::Text("a"), Datum::Null(), Datum::Text("b")}),
                       DataType::ListOf(DataType::Scalar(TypeKind::kVarchar))),
            "[a, null, b]");
  DataType row;
  row.kind = TypeKind::kStruct;
  row.children = {DataType::Scalar(TypeKind::kBigInt), DataType::Scalar(TypeKind::kVarchar)};
  row.field_names = {"x", "y"};
  EXPECT_EQ(AthenaText(Datum::List({Datum::Int(1), Datum::Text("b")}), row), "{x=1, y=b}");
  EXPECT_EQ(AthenaTypeName(DataType::ListOf(dbl)), "array");
  EXPECT_EQ(AthenaTypeName(DataType::Scalar(TypeKind::kVarchar)), "varchar");
  EXPECT_EQ(AthenaTypeName(DataType::Scalar(TypeKind::kTimestamp)), "timestamp");
}

class AthenaApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.Put(CustomerGroup());
    offline::FlusherOptions fo;
    fo.data_dir = dir_.path();
    flusher_ = offline::Flusher::Open(fo, &outbox_, &catalog_).value();
    offline::QueryEngineOptions qo;
    qo.data_dir = dir_.path();
    qo.sessions = 2;
    qo.memory_limit_bytes = 256ll << 20;
    qo.threads_per_session = 1;
    engine_ = offline::QueryEngine::Open(qo, &catalog_, flusher_.get()).value();
    AthenaApiOptions ao;
    ao.data_dir = dir_.path();
    ao.workers = 2;
    api_ = AthenaApi::Create(engine_.get(), ao).value();
  }
  void TearDown() override { api_->Stop(); }

  // Calls `op` with `body`; returns the HTTP status and fills *doc.
  int Call(const std::string& op, const std::string& body, rapidjson::Document* doc) {
    HttpRequest req;
    req.method = "POST";
    req.target = "/";
    req.headers = {{"x-amz-target", "AmazonAthena." + op},
                   {"content-type", "application/x-amz-json-1.1"}};
    req.body = body;
    HttpResponse resp;
    api_->Handle(req, &resp);
    doc->Parse(resp.body.data(), resp.body.size());
    EXPECT_FALSE(doc->HasParseError()) << resp.body;
    last_body_ = resp.body;
    return resp.status;
  }

  std::string Start(const std::string& sql) {
    rapidjson::Document d;
    rapidjson::Document body(rapidjson::kObjectType);
    body.AddMember("QueryString", rapidjson::Value(sql.c_str(), body.GetAllocator()),
                   body.GetAllocator());
    rapidjson::Value ctx(rapidjson::kObjectType);
    ctx.AddMember("Database", "sagemaker_featurestore", body.GetAllocator());
    ctx.AddMember("Catalog", "AwsDataCatalog", body.GetAllocator());
    body.AddMember("QueryExecutionContext", ctx, body.GetAllocator());
    rapidjson::Value rc(rapidjson::kObjectType);
    rc.AddMember("OutputLocation", "s3://bucket/query-results/", body.GetAllocator());
    body.AddMember("ResultConfiguration", rc, body.GetAllocator());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    body.Accept(w);
    EXPECT_EQ(Call("StartQueryExecution", buf.GetString(), &d), 200) << last_body_;
    return d["QueryExecutionId"].GetString();
  }

  // Polls GetQueryExecution (as Athena clients do) until the query is finished.
  std::string WaitFor(const std::string& id, rapidjson::Document* execution) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      EXPECT_EQ(Call("GetQueryExecution", "{\"QueryExecutionId\":\"" + id + "\"}", execution), 200);
      std::string state = (*execution)["QueryExecution"]["Status"]["State"].GetString();
      if (state != "QUEUED" && state != "RUNNING") return state;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // client poll interval
    }
    return "TIMEOUT";
  }

  ScratchDir dir_;
  FakeCatalog catalog_;
  FakeOutbox outbox_;
  std::unique_ptr<offline::Flusher> flusher_;
  std::unique_ptr<offline::QueryEngine> engine_;
  std::unique_ptr<AthenaApi> api_;
  std::string last_body_;
};

TEST_F(AthenaApiTest, QuerySucceedsWithHeaderTypedColumnsAndCsv) {
  outbox_.Append(1, CustomerRecord("C1", kT0, 1250.75, 24, {"x", "y"}), kT0 + 5'000);
  outbox_.Append(
      1,
      offline::testing::MakeRecord(
          {offline::testing::Scalar("C2"), offline::testing::Scalar("2023-11-14T22:13:20Z")}, kT0),
      kT0 + 6'000, /*is_deleted=*/true);
  std::string id = Start(
      "SELECT customer_id, total_purchases, total_orders, tags, api_invocation_time, is_deleted "
      "FROM \"customer-features_1700000000\" ORDER BY customer_id");
  rapidjson::Document ex;
  ASSERT_EQ(WaitFor(id, &ex), "SUCCEEDED") << last_body_;
  const auto& q = ex["QueryExecution"];
  EXPECT_EQ(std::string(q["ResultConfiguration"]["OutputLocation"].GetString()),
            "s3://bucket/query-results/" + id + ".csv");
  EXPECT_EQ(std::string(q["QueryExecutionContext"]["Database"].GetString()),
            "sagemaker_featurestore");
  EXPECT_GT(q["Statistics"]["DataScannedInBytes"].GetInt64(), 0);
  EXPECT_TRUE(q["Statistics"].HasMember("TotalExecutionTimeInMillis"));
  EXPECT_TRUE(q["Status"].HasMember("CompletionDateTime"));

  rapidjson::Document r;
  ASSERT_EQ(Call("GetQueryResults", "{\"QueryExecutionId\":\"" + id + "\"}", &r), 200)
      << last_body_;
  const auto& rows = r["ResultSet"]["Rows"];
  ASSERT_EQ(rows.Size(), 3u);
  EXPECT_EQ(std::string(rows[0]["Data"][0]["VarCharValue"].GetString()), "customer_id");
  EXPECT_EQ(std::string(rows[1]["Data"][1]["VarCharValue"].GetString()), "1250.75");
  EXPECT_EQ(std::string(rows[1]["Data"][2]["VarCharValue"].GetString()), "24");
  EXPECT_EQ(std::string(rows[1]["Data"][3]["VarCharValue"].GetString()), "[x, y]");
  EXPECT_EQ(std::string(rows[1]["Data"][4]["VarCharValue"].GetString()), "2023-11-14 22:13:20.005");
  EXPECT_EQ(std::string(rows[1]["Data"][5]["VarCharValue"].GetString()), "false");
  EXPECT_FALSE(rows[2]["Data"][1].HasMember("VarCharValue")) << "NULL has no VarCharValue";
  EXPECT_EQ(std::string(rows[2]["Data"][5]["VarCharValue"].GetString()), "true");
  const auto& info = r["ResultSet"]["ResultSetMetadata"]["ColumnInfo"];
  std::vector<std::string> types;
  for (const auto& c : info.GetArray()) types.push_back(c["Type"].GetString());
  EXPECT_EQ(types, (std::vector<std::string>{"varchar", "double", "bigint", "array", "timestamp",
                                             "boolean"}));
  EXPECT_FALSE(r.HasMember("NextToken"));

  std::ifstream csv(dir_.path() + "/query-results/" + id + ".csv");
  std::stringstream text;
  text << csv.rdbuf();
  EXPECT_EQ(text.str(),
            "\"customer_id\",\"total_purchases\",\"total_orders\",\"tags\",\"api_invocation_time\","
            "\"is_deleted\"\n"
            "\"C1\",\"1250.75\",\"24\",\"[x, y]\",\"2023-11-14 22:13:20.005\",\"false\"\n"
            "\"C2\",,,,\"2023-11-14 22:13:20.006\",\"true\"\n");
}

TEST_F(AthenaApiTest, PagesWithMaxResultsAndNextToken) {
  std::string id = Start("SELECT i FROM range(5) t(i) ORDER BY i");
  rapidjson::Document ex;
  ASSERT_EQ(WaitFor(id, &ex), "SUCCEEDED") << last_body_;
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    rapidjson::Document r;
    std::string body = "{\"QueryExecutionId\":\"" + id + "\",\"MaxResults\":2";
    if (!token.empty()) body += ",\"NextToken\":\"" + token + "\"";
    ASSERT_EQ(Call("GetQueryResults", body + "}", &r), 200) << last_body_;
    for (const auto& row : r["ResultSet"]["Rows"].GetArray())
      seen.push_back(row["Data"][0]["VarCharValue"].GetString());
    token = r.HasMember("NextToken") ? r["NextToken"].GetString() : "";
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"i", "0", "1", "2", "3", "4"}));
  EXPECT_EQ(pages, 3);
  rapidjson::Document bad;
  EXPECT_EQ(
      Call("GetQueryResults", "{\"QueryExecutionId\":\"" + id + "\",\"NextToken\":\"junk\"}", &bad),
      400);
  EXPECT_EQ(std::string(bad["__type"].GetString()), "InvalidRequestException");
}

TEST_F(AthenaApiTest, FailuresExplainThemselves) {
  struct Case {
    std::string sql;
    std::string reason;
  } cases[] = {
      {"SELECT nope FROM \"customer-features_1700000000\"", "nope"},
      {"SELECT * FROM read_csv('/etc/passwd')", "Permission Error"},
      {"COPY (SELECT 1) TO '/tmp/x.csv'", "/tmp/x.csv"},
      {"CREATE TABLE t AS SELECT 1", "only SELECT queries"},
      {"SELECT * FROM no_such_table", "no_such_table"},
  };
  for (const Case& c : cases) {
    std::string id = Start(c.sql);
    rapidjson::Document ex;
    ASSERT_EQ(WaitFor(id, &ex), "FAILED") << c.sql;
    const auto& status = ex["QueryExecution"]["Status"];
    EXPECT_THAT(status["StateChangeReason"].GetString(), HasSubstr(c.reason)) << c.sql;
    EXPECT_EQ(status["AthenaError"]["ErrorCategory"].GetInt(), 2) << c.sql;
    rapidjson::Document r;
    EXPECT_EQ(Call("GetQueryResults", "{\"QueryExecutionId\":\"" + id + "\"}", &r), 400);
    EXPECT_THAT(r["message"].GetString(), HasSubstr("FAILED"));
  }
}

TEST_F(AthenaApiTest, StopCancelsARunningQuery) {
  std::string id =
      Start("SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b");
  rapidjson::Document d;
  ASSERT_EQ(Call("StopQueryExecution", "{\"QueryExecutionId\":\"" + id + "\"}", &d), 200)
      << last_body_;
  rapidjson::Document ex;
  EXPECT_EQ(WaitFor(id, &ex), "CANCELLED");
}

TEST_F(AthenaApiTest, ListAndBatchGetAndUnknownIds) {
  std::string a = Start("SELECT 1");
  std::string b = Start("SELECT 2");
  rapidjson::Document ex;
  WaitFor(a, &ex);
  WaitFor(b, &ex);
  rapidjson::Document list;
  ASSERT_EQ(Call("ListQueryExecutions", "{\"MaxResults\":1}", &list), 200);
  ASSERT_EQ(list["QueryExecutionIds"].Size(), 1u);
  EXPECT_EQ(std::string(list["QueryExecutionIds"][0].GetString()), b) << "newest first";
  std::string token = list["NextToken"].GetString();
  ASSERT_EQ(
      Call("ListQueryExecutions", "{\"MaxResults\":1,\"NextToken\":\"" + token + "\"}", &list),
      200);
  EXPECT_EQ(std::string(list["QueryExecutionIds"][0].GetString()), a);

  rapidjson::Document batch;
  ASSERT_EQ(
      Call("BatchGetQueryExecution", "{\"QueryExecutionIds\":[\"" + a + "\",\"nope\"]}", &batch),
      200);
  ASSERT_EQ(batch["QueryExecutions"].Size(), 1u);
  EXPECT_EQ(std::string(batch["QueryExecutions"][0]["QueryExecutionId"].GetString()), a);
  ASSERT_EQ(batch["UnprocessedQueryExecutionIds"].Size(), 1u);
  EXPECT_EQ(std::string(batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"].GetString()),
            "nope");

  rapidjson::Document missing;
  EXPECT_EQ(Call("GetQueryExecution", "{\"QueryExecutionId\":\"nope\"}", &missing), 400);
  EXPECT_EQ(std::string(missing["__type"].GetString()), "InvalidRequestException");
  EXPECT_THAT(missing["message"].GetString(), HasSubstr("nope"));
}

TEST_F(AthenaApiTest, RequestsAreValidatedAgainstTheModel) {
  rapidjson::Document d;
  EXPECT_EQ(Call("StartQueryExecution", "{}", &d), 400);
  EXPECT_THAT(d["message"].GetString(), HasSubstr("queryString"));
  EXPECT_EQ(
      Call("StartQueryExecution",
           "{\"QueryString\":\"SELECT 1\",\"ResultConfiguration\":{\"OutputLocation\":\"/tmp/x\"}}",
           &d),
      400);
  EXPECT_THAT(d["message"].GetString(), HasSubstr("'/tmp/x'"));
  EXPECT_EQ(Call("CreateWorkGroup", "{}", &d), 400);
  EXPECT_EQ(std::string(d["__type"].GetString()), "UnknownOperationException");
}

TEST_F(AthenaApiTest, ClientRequestTokenIsIdempotent) {
  rapidjson::Document a, b;
  std::string body =
      "{\"QueryString\":\"SELECT 1\",\"ClientRequestToken\":\"0123456789abcdef0123456789abcdef\"}";
  ASSERT_EQ(Call("StartQueryExecution", body, &a), 200);
  ASSERT_EQ(Call("StartQueryExecution", body, &b), 200);
  EXPECT_EQ(std::string(a["QueryExecutionId"].GetString()),
            std::string(b["QueryExecutionId"].GetString()));
}

}  // namespace
}  // namespace larder::server
