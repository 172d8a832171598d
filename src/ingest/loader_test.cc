#include "ingest/loader.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "common/thread_annotations.h"

namespace larder::ingest {
namespace {

using catalog::CollectionType;
using catalog::FeatureType;

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("larder-loader-" + std::to_string(::getpid()) + "-" +
             std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name, const std::string& content) const {
    std::string p = Path(name);
    std::ofstream(p) << content;
    return p;
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void Sql(const std::string& sql) {
  auto db = OpenSourceDatabase({});
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  Status s = (*conn)->Execute(sql);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

std::string Str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// An in-memory BatchWriteRecord server with fault injection. Thread-safe.
class FakeServer {
 public:
  using Record = std::map<std::string, std::string>;  // feature -> value ("|a|b" for lists)

  BatchReply Process(std::string_view body) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    ++requests_;
    BatchReply r;
    if (fail_with_503_ > 0) {
      --fail_with_503_;
      r.http_status = 503;
      r.error_code = "ServiceUnavailable";
      r.message = "try later";
      return r;
    }
    if (forbidden_) {
      r.http_status = 403;
      r.error_code = "AccessForbidden";
      r.message = "The request signature we calculated does not match";
      return r;
    }
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    EXPECT_FALSE(d.HasParseError()) << body.substr(0, 200);
    if (d.HasParseError()) {
      r.http_status = 400;
      r.error_code = "ValidationError";
      r.message = "bad json";
      return r;
    }
    EXPECT_LE(d["Entries"].Size(), 25u);
    rapidjson::StringBuffer errors, unprocessed;
    rapidjson::Writer<rapidjson::StringBuffer> ew(errors), uw(unprocessed);
    ew.StartArray();
    uw.StartArray();
    for (const auto& e : d["Entries"].GetArray()) {
      Record rec;
      for (const auto& fv : e["Record"].GetArray()) {
        std::string v;
        if (fv.HasMember("ValueAsString")) {
          v = Str(fv["ValueAsString"]);
        } else {
          for (const auto& x : fv["ValueAsStringList"].GetArray()) v += "|" + Str(x);
        }
        rec[Str(fv["FeatureName"])] = v;
      }
      const std::string id = rec["customer_id"];
      if (reject_ids_.contains(id)) {
        ew.StartObject();
        ew.Key("Entry");
        e.Accept(ew);
        ew.Key("ErrorCode");
        ew.String("ValidationError");
        ew.Key("ErrorMessage");
        ew.String(("no thanks for " + id).c_str());
        ew.EndObject();
        continue;
      }
      if (unprocessed_budget_ > 0) {
        --unprocessed_budget_;
        e.Accept(uw);
        continue;
      }
      ++writes_;
      records_[id] = rec;
    }
    ew.EndArray();
    uw.EndArray();
    r.http_status = 200;
    r.body = std::string("{\"Errors\":") + errors.GetString() +
             ",\"UnprocessedEntries\":" + unprocessed.GetString() + "}";
    return r;
  }

  // Whether the next Send should fail as if the connection dropped.
  bool TakeDrop() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    if (drops_ == 0) return false;
    --drops_;
    return true;
  }

  Mutex mu_;
  std::map<std::string, Record> records_ GUARDED_BY(mu_);
  std::set<std::string> reject_ids_ GUARDED_BY(mu_);
  int unprocessed_budget_ GUARDED_BY(mu_) = 0;
  int fail_with_503_ GUARDED_BY(mu_) = 0;
  int drops_ GUARDED_BY(mu_) = 0;
  bool forbidden_ GUARDED_BY(mu_) = false;
  int requests_ GUARDED_BY(mu_) = 0;
  int writes_ GUARDED_BY(mu_) = 0;
};

// Pipelined like the HTTP channel: requests are processed when their reply is read.
class FakeChannel : public BatchChannel {
 public:
  explicit FakeChannel(FakeServer* server) : server_(server) {}
  Status Send(std::string_view body) override {
    if (server_->TakeDrop()) {
      pending_.clear();
      return Status::Unavailable("connection reset by peer");
    }
    pending_.emplace_back(body);
    return Status::OK();
  }
  StatusOr<BatchReply> Receive() override {
    std::string body = std::move(pending_.front());
    pending_.pop_front();
    return server_->Process(body);
  }

 private:
  FakeServer* server_;
  std::deque<std::string> pending_;
};

catalog::FeatureGroup Group() {
  catalog::FeatureGroup g;
  g.name = "customer-features";
  g.record_identifier_name = "customer_id";
  g.event_time_feature_name = "event_time";
  auto add = [&](std::string name, FeatureType t, CollectionType c = CollectionType::kNone) {
    catalog::FeatureDefinition f;
    f.name = std::move(name);
    f.type = t;
    f.collection = c;
    g.features.push_back(std::move(f));
  };
  add("customer_id", FeatureType::kString);
  add("event_time", FeatureType::kString);
  add("total_orders", FeatureType::kIntegral);
  add("loyalty_score", FeatureType::kFractional);
  add("category", FeatureType::kString);
  add("tags", FeatureType::kString, CollectionType::kList);
  g.BuildIndex();
  return g;
}

class LoaderTest : public ::testing::Test {
 protected:
  LoaderOptions Options(const std::string& path) {
    LoaderOptions o;
    o.path = path;
    o.workers = 3;
    o.batch_size = 7;
    o.pipeline_depth = 3;
    o.rejects_path = dir_.Path("rejects.jsonl");
    o.retry_base_ms = 1;
    o.retry_max_ms = 5;
    o.db.threads = 2;
    return o;
  }

  StatusOr<LoadSummary> Load(const LoaderOptions& o, const catalog::FeatureGroup& g = Group()) {
    auto loader = Loader::Open(g, o, [this]() -> StatusOr<std::unique_ptr<BatchChannel>> {
      return std::unique_ptr<BatchChannel>(new FakeChannel(&server_));
    });
    if (!loader.ok()) return loader.status();
    return (*loader)->Run();
  }

  std::vector<rapidjson::Document> Rejects() {
    std::vector<rapidjson::Document> out;
    std::ifstream in(dir_.Path("rejects.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      EXPECT_FALSE(d.HasParseError()) << line;
      out.push_back(std::move(d));
    }
    return out;
  }

  std::map<std::string, FakeServer::Record> Records() {
    MutexLock l(&server_.mu_);
    return server_.records_;
  }

  TempDir dir_;
  FakeServer server_;
};

std::string Csv(int rows) {
  std::ostringstream out;
  out << "customer_id,event_time,total_orders,loyalty_score,category\n";
  for (int i = 1; i <= rows; ++i) {
    out << "C" << i << "," << 1700000000 + i << "," << i << ".0," << i << ".50,"
        << (i % 3 == 0 ? "" : "cat \"" + std::to_string(i) + "\"") << "\n";
  }
  return out.str();
}

TEST_F(LoaderTest, CsvRowsArriveWithWireText) {
  const std::string path = dir_.File("in.csv", Csv(500));
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->status.ok()) << s->status.ToString();
  EXPECT_EQ(s->stats.rows_read, 500);
  EXPECT_EQ(s->stats.rows_written, 500);
  EXPECT_EQ(s->stats.rows_rejected, 0);
  EXPECT_LE(s->stats.requests, (500 + 6) / 7 + 3);  // at most one short batch per worker
  EXPECT_TRUE(s->rejects_path.empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.Path("rejects.jsonl")));
  auto records = Records();
  ASSERT_EQ(records.size(), 500u);
  const FakeServer::Record& r = records["C7"];
  EXPECT_EQ(r.at("event_time"), "1700000007");
  EXPECT_EQ(r.at("total_orders"), "7");              // "7.0" canonicalized: no ".0"
  EXPECT_EQ(r.at("loyalty_score"), "7.50");          // Fractional text kept
  EXPECT_EQ(r.at("category"), "cat \"7\"");          // CSV quotes undone by DuckDB, JSON-escaped
  EXPECT_FALSE(records["C9"].contains("category"));  // empty CSV field = null = left out
}

TEST_F(LoaderTest, RejectsCarryRowNumberReasonAndValues) {
  std::string csv = Csv(60);
  // Row 10 has a non-numeric Integral; row 20 an unreadable event time (client-side).
  csv.replace(csv.find("C10,1700000010,10.0"), 19, "C10,1700000010,ten!");
  csv.replace(csv.find("C20,1700000020"), 14, "C20,yesterday!");
  const std::string path = dir_.File("in.csv", csv);
  {
    MutexLock l(&server_.mu_);
    server_.reject_ids_ = {"C33", "C47"};  // the server refuses these two
  }
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->status.ok()) << s->status.ToString();
  EXPECT_EQ(s->stats.rows_written, 56);
  EXPECT_EQ(s->stats.rows_rejected, 4);
  EXPECT_EQ(s->rejects_path, dir_.Path("rejects.jsonl"));
  std::map<int64_t, std::pair<std::string, std::string>> by_row;  // row -> (reason, id)
  for (const auto& d : Rejects()) {
    by_row[d["row"].GetInt64()] = {Str(d["reason"]), Str(d["values"]["customer_id"])};
  }
  ASSERT_EQ(by_row.size(), 4u);
  EXPECT_NE(by_row[10].first.find("'total_orders' is Integral"), std::string::npos)
      << by_row[10].first;
  EXPECT_EQ(by_row[10].second, "C10");
  EXPECT_NE(by_row[20].first.find("yesterday!"), std::string::npos) << by_row[20].first;
  EXPECT_EQ(by_row[33],
            std::make_pair(std::string("ValidationError: no thanks for C33"), std::string("C33")));
  EXPECT_EQ(by_row[47].second, "C47");
  auto records = Records();
  EXPECT_EQ(records.size(), 56u);
  EXPECT_FALSE(records.contains("C10"));
  EXPECT_FALSE(records.contains("C33"));
}

TEST_F(LoaderTest, RetriesUnprocessedEntriesServerErrorsAndLostConnections) {
  const std::string path = dir_.File("in.csv", Csv(300));
  {
    MutexLock l(&server_.mu_);
    server_.unprocessed_budget_ = 30;
    server_.fail_with_503_ = 4;
    server_.drops_ = 3;
  }
  LoaderOptions o = Options(path);
  StatusOr<LoadSummary> s = Load(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->status.ok()) << s->status.ToString();
  EXPECT_EQ(s->stats.rows_written, 300);
  EXPECT_EQ(s->stats.rows_rejected, 0);
  EXPECT_GE(s->stats.retries, 30);  // at least the unprocessed entries were sent again
  EXPECT_EQ(Records().size(), 300u);
}

TEST_F(LoaderTest, GivesUpAfterMaxAttempts) {
  const std::string path = dir_.File("in.csv", Csv(10));
  {
    MutexLock l(&server_.mu_);
    server_.fail_with_503_ = 1000;
  }
  LoaderOptions o = Options(path);
  o.workers = 1;
  o.max_attempts = 3;
  StatusOr<LoadSummary> s = Load(o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status.code(), StatusCode::kUnavailable);
  EXPECT_NE(s->status.message().find("after 3 attempts"), std::string::npos) << s->status.message();
  EXPECT_EQ(s->stats.rows_written, 0);
}

TEST_F(LoaderTest, ForbiddenStopsTheLoad) {
  const std::string path = dir_.File("in.csv", Csv(1000));
  {
    MutexLock l(&server_.mu_);
    server_.forbidden_ = true;
  }
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s->status.message().find("AccessForbidden"), std::string::npos);
  EXPECT_EQ(s->stats.rows_written, 0);
  EXPECT_LT(s->stats.requests, 143);  // stopped early, not 1000/7 requests
}

TEST_F(LoaderTest, UnknownColumnsFailUnlessIgnored) {
  const std::string path = dir_.File("in.csv", "customer_id,event_time,colour\nC1,1,red\n");
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("1 column that is not a feature of 'customer-features': "
                                      "colour"),
            std::string::npos)
      << s.status().message();
  LoaderOptions o = Options(path);
  o.ignore_extra_columns = true;
  s = Load(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->stats.rows_written, 1);
  EXPECT_FALSE(Records()["C1"].contains("colour"));
}

TEST_F(LoaderTest, CsvEventTimesDuckDbCanReadAreConvertedToIso) {
  const std::string path = dir_.File("in.csv",
                                     "customer_id,event_time\n"
                                     "A,2024-05-01 12:00:00\n"
                                     "B,2024-05-01T14:00:00.5+02:00\n"
                                     "C,2024-05-01T12:00:00Z\n"
                                     "D,1700000000.25\n");
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->status.ok()) << s->status.ToString();
  auto r = Records();
  EXPECT_EQ(r["A"]["event_time"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(r["B"]["event_time"], "2024-05-01T12:00:00.5Z");
  EXPECT_EQ(r["C"]["event_time"], "2024-05-01T12:00:00Z");  // already valid: kept as is
  EXPECT_EQ(r["D"]["event_time"], "1700000000.25");
}

TEST_F(LoaderTest, ParquetTypedColumnsAndLists) {
  const std::string path = dir_.Path("in.parquet");
  Sql("COPY (SELECT 'C' || i AS customer_id, TIMESTAMP '2024-05-01 00:00:00' + i * INTERVAL 1 "
      "SECOND AS event_time, (i * 2)::DOUBLE AS total_orders, i / 4 AS loyalty_score, "
      "i % 2 = 0 AS category, ['x', 'y' || i] AS tags FROM range(1, 2001) t(i)) TO " +
      offline::QuoteLiteral(path) + " (FORMAT parquet)");
  LoaderOptions o = Options(path);
  StatusOr<LoadSummary> s = Load(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->status.ok()) << s->status.ToString();
  EXPECT_EQ(s->stats.rows_written, 2000);
  auto r = Records();
  ASSERT_EQ(r.size(), 2000u);
  EXPECT_EQ(r["C3"]["event_time"], "2024-05-01T00:00:03Z");
  EXPECT_EQ(r["C3"]["total_orders"], "6");
  EXPECT_EQ(r["C3"]["loyalty_score"], "0.75");
  EXPECT_EQ(r["C3"]["category"], "false");
  EXPECT_EQ(r["C3"]["tags"], "|x|y3");
  auto loader =
      Loader::Open(Group(), o, [] { return StatusOr<std::unique_ptr<BatchChannel>>(nullptr); });
  ASSERT_TRUE(loader.ok());
  EXPECT_EQ((*loader)->EstimateRows(), 2000);
}

TEST_F(LoaderTest, JsonLines) {
  const std::string path = dir_.File("in.jsonl",
                                     "{\"customer_id\":\"A\",\"event_time\":\"1700000000\","
                                     "\"total_orders\":3,\"loyalty_score\":0.25}\n"
                                     "{\"customer_id\":\"B\",\"event_time\":\"1700000001\","
                                     "\"total_orders\":4,\"loyalty_score\":1e-9}\n");
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->status.ok()) << s->status.ToString();
  auto r = Records();
  EXPECT_EQ(r["A"]["total_orders"], "3");
  EXPECT_EQ(r["B"]["loyalty_score"], "1e-09");
}

// Randomized: every double and integer in a Parquet file reaches the server as text that reads
// back as exactly the same value (the reference is DuckDB's own read of the file).
TEST_F(LoaderTest, RandomNumbersRoundTripExactly) {
  const std::string path = dir_.Path("rand.parquet");
  Sql("COPY (SELECT 'C' || i AS customer_id, (1700000000 + i)::VARCHAR AS event_time, "
      "(hash(i) % 1000000000000)::BIGINT - 500000000000 AS total_orders, "
      "CASE i % 4 WHEN 0 THEN random() WHEN 1 THEN random() * 1e-12 WHEN 2 THEN (random() - 0.5) "
      "* 1e300 ELSE round(random() * 1000, 2) END AS loyalty_score FROM range(1, 5001) t(i)) TO " +
      offline::QuoteLiteral(path) + " (FORMAT parquet)");
  StatusOr<LoadSummary> s = Load(Options(path));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->status.ok()) << s->status.ToString();
  auto records = Records();
  ASSERT_EQ(records.size(), 5000u);
  auto db = OpenSourceDatabase({});
  ASSERT_TRUE(db.ok());
  auto conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok());
  auto result =
      (*conn)->Query("SELECT customer_id, total_orders, loyalty_score FROM read_parquet(" +
                     offline::QuoteLiteral(path) + ")");
  ASSERT_TRUE(result.ok());
  offline::Chunk chunk;
  int checked = 0;
  while (true) {
    auto more = (*result)->Next(&chunk);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    for (const auto& row : chunk.rows) {
      const FakeServer::Record& r = records[row[0].text];
      EXPECT_EQ(r.at("total_orders"), std::to_string(row[1].int_value));
      const std::string& f = r.at("loyalty_score");
      EXPECT_EQ(std::strtod(f.c_str(), nullptr), row[2].double_value) << f;
      EXPECT_FALSE(f.ends_with(".0")) << f;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5000);
}

TEST_F(LoaderTest, EstimateRowsCountsCsvLines) {
  const std::string path = dir_.File("in.csv", Csv(123));
  auto loader = Loader::Open(Group(), Options(path),
                             [] { return StatusOr<std::unique_ptr<BatchChannel>>(nullptr); });
  ASSERT_TRUE(loader.ok());
  EXPECT_EQ((*loader)->EstimateRows(), 123);
}

TEST(ClassifyReplyTest, Classes) {
  EXPECT_EQ(ClassifyReply(200, ""), ReplyClass::kOk);
  EXPECT_EQ(ClassifyReply(503, "ServiceUnavailable"), ReplyClass::kRetry);
  EXPECT_EQ(ClassifyReply(500, "InternalFailure"), ReplyClass::kRetry);
  EXPECT_EQ(ClassifyReply(400, "ThrottlingException"), ReplyClass::kRetry);
  EXPECT_EQ(ClassifyReply(403, "AccessForbidden"), ReplyClass::kFatal);
  EXPECT_EQ(ClassifyReply(404, "ResourceNotFound"), ReplyClass::kFatal);
  EXPECT_EQ(ClassifyReply(400, "ValidationError"), ReplyClass::kReject);
}

}  // namespace
}  // namespace larder::ingest
