#include "offline/query_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/status_macros.h"
#include "offline/offline_test_util.h"

namespace larder::offline {
namespace {

using testing::CustomerGroup;
using testing::CustomerRecord;
using ::testing::ElementsAre;
using testing::FakeCatalog;
using testing::FakeOutbox;
using ::testing::HasSubstr;
using testing::ScratchDir;

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z

// Collects a query's columns and rows, values rendered simply.
class CollectSink : public RowSink {
 public:
  Status Begin(const std::vector<Column>& columns) override {
    columns_ = columns;
    return Status::OK();
  }
  Status Rows(const Chunk& chunk) override {
    for (const auto& row : chunk.rows) {
      std::vector<std::string> r;
      for (const Datum& d : row)
        r.push_back(d.is_null ? "NULL" : !d.text.empty() ? d.text : std::to_string(d.int_value));
      rows_.push_back(std::move(r));
    }
    return Status::OK();
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& c : columns_) out.push_back(c.name);
    return out;
  }
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

class QueryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.Put(CustomerGroup());
    FlusherOptions fo;
    fo.data_dir = dir_.path();
    fo.account_id = "123456789012";
    flusher_ = Flusher::Open(fo, &outbox_, &catalog_).value();
    QueryEngineOptions qo;
    qo.data_dir = dir_.path();
    qo.sessions = 2;
    qo.memory_limit_bytes = 256ll << 20;
    qo.threads_per_session = 1;
    engine_ = QueryEngine::Open(qo, &catalog_, flusher_.get()).value();
  }

  StatusOr<QueryStats> Run(const std::string& sql, CollectSink* sink,
                           QueryControl* control = nullptr, int64_t timeout_ms = 0) {
    QueryRequest r;
    r.sql = sql;
    r.database = "sagemaker_featurestore";
    r.catalog = "AwsDataCatalog";
    r.timeout_ms = timeout_ms;
    return engine_->Run(r, sink, control);
  }

  ScratchDir dir_;
  FakeCatalog catalog_;
  FakeOutbox outbox_;
  std::unique_ptr<Flusher> flusher_;
  std::unique_ptr<QueryEngine> engine_;
};

TEST_F(QueryEngineTest, TableHasItsColumnsAndNoRowsBeforeAnyFile) {
  for (std::string table :
       {"\"customer-features_1700000000\"",
        "sagemaker_featurestore.\"customer-features_1700000000\"",
        "AwsDataCatalog.sagemaker_featurestore.\"customer-features_1700000000\""}) {
    CollectSink sink;
    auto stats = Run("SELECT * FROM " + table, &sink);
    ASSERT_TRUE(stats.ok()) << table << ": " << stats.status().ToString();
    EXPECT_THAT(sink.names(),
                ElementsAre("customer_id", "event_time", "total_purchases", "total_orders", "tags",
                            "api_invocation_time", "write_time", "is_deleted", "year", "month",
                            "day", "hour"));
    EXPECT_EQ(sink.columns_[2].type.kind, TypeKind::kDouble);
    EXPECT_EQ(sink.columns_[3].type.kind, TypeKind::kBigInt);
    EXPECT_EQ(sink.columns_[4].type.ToSql(), "VARCHAR[]");
    EXPECT_EQ(sink.columns_[5].type.kind, TypeKind::kTimestamp);
    EXPECT_EQ(sink.columns_[7].type.kind, TypeKind::kBoolean);
    EXPECT_EQ(sink.columns_[8].type.kind, TypeKind::kVarchar);
    EXPECT_TRUE(sink.rows_.empty());
  }
}

TEST_F(QueryEngineTest, AWriteIsVisibleToTheNextQueryWithoutWaiting) {
  outbox_.Append(1, CustomerRecord("C1", kT0, 12.5, 3), kT0 + 7);
  CollectSink sink;
  auto stats =
      Run("SELECT customer_id, total_orders, year, month, day, hour, epoch_us(api_invocation_time) "
          "FROM \"customer-features_1700000000\" WHERE total_purchases IS NOT NULL",
          &sink);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(sink.rows_, (std::vector<std::vector<std::string>>{
                            {"C1", "3", "2023", "11", "14", "22", std::to_string(kT0 + 7)}}));
  EXPECT_GT(stats->data_scanned_bytes, 0u);
  EXPECT_EQ(stats->rows, 1u);
}

TEST_F(QueryEngineTest, FeatureAddedLaterReadsNullInOldFiles) {
  outbox_.Append(1, CustomerRecord("old", kT0, 1, 1), 1);
  ASSERT_TRUE(flusher_->Sync().ok());
  catalog::FeatureGroup g = CustomerGroup();
  g.features.push_back(testing::Feature("loyalty_score", catalog::FeatureType::kFractional));
  catalog_.Put(g);
  CollectSink before;
  ASSERT_TRUE(
      Run("SELECT customer_id, loyalty_score FROM \"customer-features_1700000000\"", &before).ok());
  EXPECT_EQ(before.rows_, (std::vector<std::vector<std::string>>{{"old", "NULL"}}));
  catalog::Record r = CustomerRecord("new", kT0, 2, 2);
  r.values.push_back(testing::Scalar("0.92"));
  outbox_.Append(1, r, 2);
  CollectSink after;
  ASSERT_TRUE(Run("SELECT customer_id FROM \"customer-features_1700000000\" WHERE loyalty_score IS "
                  "NOT NULL",
                  &after)
                  .ok());
  EXPECT_EQ(after.rows_, (std::vector<std::vector<std::string>>{{"new"}}));
}

TEST_F(QueryEngineTest, DeletedGroupKeepsItsTableWhileItHasFiles) {
  outbox_.Append(1, CustomerRecord("C1", kT0, 12.5, 3), 1);
  ASSERT_TRUE(flusher_->Sync().ok());
  catalog::FeatureGroup g = CustomerGroup();
  catalog_.Put(g, /*live=*/false);  // deleted: the offline data and its table stay
  CollectSink sink;
  auto stats = Run("SELECT * FROM \"customer-features_1700000000\"", &sink);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_THAT(sink.names(), ElementsAre("customer_id", "event_time", "total_purchases",
                                        "total_orders", "tags", "api_invocation_time", "write_time",
                                        "is_deleted", "year", "month", "day", "hour"));
  ASSERT_EQ(sink.rows_.size(), 1u);
  EXPECT_EQ(sink.rows_[0][0], "C1");
  EXPECT_EQ(sink.columns_[5].type.kind, TypeKind::kTimestamp);
}

TEST_F(QueryEngineTest, OnlySelectRunsAndTheSandboxHolds) {
  struct Case {
    std::string sql;
    StatusCode code;
    std::string says;
  } cases[] = {
      {"SELECT * FROM read_csv('/etc/passwd')", StatusCode::kPermissionDenied, "/etc/passwd"},
      {"SELECT * FROM read_parquet('" + dir_.path() + "/offline/../../../etc/passwd')",
       StatusCode::kPermissionDenied, "passwd"},
      {"COPY (SELECT 1) TO '/tmp/larder-escape.csv'", StatusCode::kPermissionDenied,
       "/tmp/larder-escape.csv"},
      // Inside the sandbox's directories a COPY binds, and is refused for what it is.
      {"COPY (SELECT 1) TO '" + dir_.path() + "/tables/x.csv'", StatusCode::kInvalidArgument,
       "type COPY"},
      {"ATTACH '/tmp/larder-escape.db' AS x", StatusCode::kInvalidArgument, "type ATTACH"},
      {"ATTACH ':memory:' AS x", StatusCode::kInvalidArgument, "type ATTACH"},
      {"INSTALL httpfs", StatusCode::kInvalidArgument, "type INSTALL/LOAD"},
      {"LOAD httpfs", StatusCode::kInvalidArgument, "type INSTALL/LOAD"},
      {"SET enable_external_access = true", StatusCode::kInvalidArgument, "type SET"},
      {"RESET lock_configuration", StatusCode::kInvalidArgument, "type SET"},
      {"PRAGMA enable_profiling", StatusCode::kInvalidArgument, "type PRAGMA"},
      {"CREATE TABLE t AS SELECT 1", StatusCode::kInvalidArgument, "type CREATE"},
      {"INSERT INTO \"customer-features_1700000000\" (customer_id) VALUES ('x')",
       StatusCode::kInvalidArgument, ""},
      {"SELECT 1; SELECT 2", StatusCode::kInvalidArgument, "2 SQL statements"},
      {"SELECT * FROM query('COPY (SELECT 1) TO ''/tmp/larder-escape.csv''')",
       StatusCode::kInvalidArgument, "SELECT"},
  };
  for (const Case& c : cases) {
    CollectSink sink;
    auto stats = Run(c.sql, &sink);
    ASSERT_FALSE(stats.ok()) << c.sql;
    EXPECT_EQ(stats.status().code(), c.code) << c.sql << ": " << stats.status().ToString();
    EXPECT_THAT(stats.status().message(), HasSubstr(c.says)) << c.sql;
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/larder-escape.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/tables/x.csv"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/larder-escape.db"));
  // The engine still works after all that.
  CollectSink sink;
  ASSERT_TRUE(Run("SELECT count(*) FROM \"customer-features_1700000000\"", &sink).ok());
}

TEST_F(QueryEngineTest, TimeLimitInterruptsALongQuery) {
  CollectSink sink;
  auto stats = Run("SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b",
                   &sink, nullptr,
                   /*timeout_ms=*/200);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), StatusCode::kDeadlineExceeded) << stats.status().ToString();
  EXPECT_THAT(stats.status().message(), HasSubstr("200 ms"));
}

TEST_F(QueryEngineTest, CancelStopsARunningQuery) {
  QueryControl control;
  StatusOr<QueryStats> result = Status::Internal("not run");
  std::thread runner([&] {
    CollectSink sink;
    result = Run("SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b", &sink,
                 &control);
  });
  control.Cancel();  // whether the query has started yet or not
  runner.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kCancelled) << result.status().ToString();
}

TEST_F(QueryEngineTest, UnknownDatabaseAndCatalogFailClearly) {
  CollectSink sink;
  QueryRequest r;
  r.sql = "SELECT 1";
  r.database = "nope";
  auto s = engine_->Run(r, &sink, nullptr);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("'nope'"));
  r.database = "";
  r.catalog = "OtherCatalog";
  s = engine_->Run(r, &sink, nullptr);
  EXPECT_THAT(s.status().message(), HasSubstr("'OtherCatalog'"));
}

// The walkthrough's point-in-time join, with the labels as a CSV file in <data_dir>/tables.
TEST_F(QueryEngineTest, PointInTimeJoinWithALabelsTable) {
  outbox_.Append(1, CustomerRecord("C1", kT0 - 3'600'000'000, 10, 1),
                 1);                                                    // an hour before the label
  outbox_.Append(1, CustomerRecord("C1", kT0 + 60'000'000, 20, 2), 2);  // after the label: excluded
  outbox_.Append(1, CustomerRecord("C2", kT0 - 90'000'000'000, 30, 3),
                 3);  // 25 hours before: excluded
  std::filesystem::create_directories(engine_->TablesDir());
  {
    std::ofstream labels(engine_->TablesDir() + "/labels_table.csv");
    labels << "customer_id,purchased,event_timestamp\nC1,1,2023-11-14 22:13:20\nC2,0,2023-11-14 "
              "22:13:20\n";
  }
  CollectSink sink;
  auto stats = Run(R"(
SELECT labels.customer_id,
       labels.purchased,
       labels.event_timestamp,
       features.total_purchases,
       features.total_orders
FROM labels_table AS labels
LEFT JOIN "customer-features_1700000000" AS features
    ON labels.customer_id = features.customer_id
    AND features.event_time <= labels.event_timestamp
    AND features.event_time >= labels.event_timestamp - INTERVAL '24' HOUR
ORDER BY labels.event_timestamp DESC, labels.customer_id
)",
                   &sink);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(sink.rows_.size(), 2u);
  EXPECT_EQ(sink.rows_[0][0], "C1");
  EXPECT_EQ(sink.rows_[0][4], "1");
  EXPECT_EQ(sink.rows_[1][0], "C2");
  EXPECT_EQ(sink.rows_[1][4], "NULL");
}

}  // namespace
}  // namespace larder::offline
