#include "offline/duckdb_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/status_macros.h"

namespace larder::offline {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::unique_ptr<Database> OpenOrDie(const DatabaseOptions& options = {}) {
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(db).value();
}

// All rows of `sql` on `conn`.
StatusOr<std::vector<std::vector<Datum>>> All(Connection* conn, std::string_view sql,
                                              std::vector<Column>* columns = nullptr) {
  ASSIGN_OR_RETURN(auto result, conn->Query(sql));
  if (columns != nullptr) *columns = result->columns();
  std::vector<std::vector<Datum>> rows;
  Chunk chunk;
  while (true) {
    ASSIGN_OR_RETURN(bool more, result->Next(&chunk));
    if (!more) break;
    for (auto& r : chunk.rows) rows.push_back(std::move(r));
  }
  return rows;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("larder-duckdb-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(DuckDbEngineTest, TypedColumnsAndValues) {
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  std::vector<Column> cols;
  auto rows =
      All(conn.get(),
          "SELECT 42::BIGINT AS b, 1.5::DOUBLE AS d, 'x''y' AS s, true AS t, NULL::VARCHAR AS n, "
          "TIMESTAMP '2024-03-04 05:06:07.123456' AS ts, DATE '1970-01-02' AS dt, "
          "[1, 2, NULL]::BIGINT[] AS l, {'a': 1, 'b': 'z'} AS st, 12.50::DECIMAL(10,2) AS dec, "
          "MAP {'k': 7} AS m, INTERVAL 3 DAY AS iv, "
          "'00000000-0000-0000-0000-000000000001'::UUID AS u, "
          "170141183460469231731687303715884105727::HUGEINT AS h",
          &cols);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  ASSERT_EQ(cols.size(), 14u);
  EXPECT_EQ(cols[0].name, "b");
  EXPECT_EQ(cols[0].type.kind, TypeKind::kBigInt);
  EXPECT_EQ(cols[1].type.kind, TypeKind::kDouble);
  EXPECT_EQ(cols[2].type.kind, TypeKind::kVarchar);
  EXPECT_EQ(cols[3].type.kind, TypeKind::kBoolean);
  EXPECT_EQ(cols[5].type.kind, TypeKind::kTimestamp);
  EXPECT_EQ(cols[7].type.ToSql(), "BIGINT[]");
  EXPECT_EQ(cols[8].type.kind, TypeKind::kStruct);
  EXPECT_EQ(cols[8].type.field_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(cols[9].type.ToSql(), "DECIMAL(10,2)");
  EXPECT_EQ(cols[10].type.kind, TypeKind::kMap);
  const auto& r = (*rows)[0];
  EXPECT_EQ(r[0].int_value, 42);
  EXPECT_DOUBLE_EQ(r[1].double_value, 1.5);
  EXPECT_EQ(r[2].text, "x'y");
  EXPECT_EQ(r[3].int_value, 1);
  EXPECT_TRUE(r[4].is_null);
  EXPECT_EQ(r[5].int_value, 1709528767123456);
  EXPECT_EQ(r[6].int_value, 1);
  ASSERT_EQ(r[7].children.size(), 3u);
  EXPECT_EQ(r[7].children[1].int_value, 2);
  EXPECT_TRUE(r[7].children[2].is_null);
  ASSERT_EQ(r[8].children.size(), 2u);
  EXPECT_EQ(r[8].children[1].text, "z");
  EXPECT_EQ(r[9].text, "12.50");
  ASSERT_EQ(r[10].children.size(), 1u);
  EXPECT_EQ(r[10].children[0].children[0].text, "k");
  EXPECT_EQ(r[10].children[0].children[1].int_value, 7);
  EXPECT_EQ(r[11].interval.days, 3);
  EXPECT_EQ(r[12].text, "00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(r[13].text, "170141183460469231731687303715884105727");
}

TEST(DuckDbEngineTest, ResultsComeInChunks) {
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  auto result = conn->Query("SELECT i FROM range(5000) t(i) ORDER BY i");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  Chunk chunk;
  int64_t expected = 0;
  int chunks = 0;
  while (true) {
    auto more = (*result)->Next(&chunk);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    ++chunks;
    EXPECT_LE(chunk.rows.size(), 2048u);
    for (const auto& row : chunk.rows) EXPECT_EQ(row[0].int_value, expected++);
  }
  EXPECT_EQ(expected, 5000);
  EXPECT_GE(chunks, 3);
}

TEST(DuckDbEngineTest, ErrorsBecomeStatusWithDuckDbMessage) {
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  auto parse = conn->Query("SELEC 1");
  EXPECT_EQ(parse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parse.status().message(), HasSubstr("syntax error"));
  auto bind = conn->Query("SELECT nope FROM range(1)");
  EXPECT_EQ(bind.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bind.status().message(), HasSubstr("nope"));
  auto conversion = conn->Query("SELECT 'abc'::INTEGER");
  EXPECT_EQ(conversion.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(conversion.status().message(), HasSubstr("abc"));
  auto two = conn->Prepare("SELECT 1; SELECT 2");
  EXPECT_EQ(two.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(two.status().message(), HasSubstr("2 SQL statements"));
  auto none = conn->Prepare("  ");
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
}

TEST(DuckDbEngineTest, StatementKinds) {
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  ASSERT_TRUE(conn->Execute("CREATE TABLE t(a INTEGER)").ok());
  struct Case {
    const char* sql;
    StatementKind kind;
  } cases[] = {
      {"SELECT 1", StatementKind::kSelect},
      {"WITH x AS (SELECT 1) SELECT * FROM x", StatementKind::kSelect},
      {"VALUES (1), (2)", StatementKind::kSelect},
      {"EXPLAIN SELECT 1", StatementKind::kExplain},
      {"INSERT INTO t VALUES (1)", StatementKind::kInsert},
      {"CREATE TABLE u(a INTEGER)", StatementKind::kCreate},
      {"COPY t TO '/tmp/x.csv'", StatementKind::kCopy},
      {"SET threads = 1", StatementKind::kSet},
      {"DROP TABLE t", StatementKind::kDrop},
  };
  for (const Case& c : cases) {
    auto stmt = conn->Prepare(c.sql);
    ASSERT_TRUE(stmt.ok()) << c.sql << ": " << stmt.status().ToString();
    EXPECT_EQ((*stmt)->kind(), c.kind) << c.sql;
  }
}

TEST(DuckDbEngineTest, InterruptCancelsARunningQuery) {
  DatabaseOptions options;
  options.threads = 1;
  auto db = OpenOrDie(options);
  auto conn = db->Connect().value();
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    // DuckDB clears the interrupt flag when a statement starts, so keep interrupting until the
    // statement has ended.
    while (!done.load()) {
      conn->Interrupt();
      std::this_thread::yield();
    }
  });
  auto result =
      All(conn.get(), "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000000) b");
  done = true;
  interrupter.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kCancelled) << result.status().ToString();
  // The connection stays usable.
  auto again = All(conn.get(), "SELECT 7");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)[0][0].int_value, 7);
}

TEST(DuckDbEngineTest, AppenderWritesTypedRowsAndParquetRoundTrips) {
  TempDir dir;
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  ASSERT_TRUE(
      conn->Execute("CREATE TEMP TABLE stage(id VARCHAR, n BIGINT, x DOUBLE, tags VARCHAR[], "
                    "nums BIGINT[], api_at TIMESTAMPTZ, seen TIMESTAMP, gone BOOLEAN)")
          .ok());
  auto appender = conn->CreateAppender("", "stage");
  ASSERT_TRUE(appender.ok()) << appender.status().ToString();
  EXPECT_EQ((*appender)->column_types()[3].ToSql(), "VARCHAR[]");
  ASSERT_TRUE((*appender)
                  ->AppendRow({Datum::Text("a"), Datum::Int(-5), Datum::Double(0.25),
                               Datum::List({Datum::Text("p"), Datum::Text("q")}),
                               Datum::List({Datum::Int(1), Datum::Int(2)}),
                               Datum::Int(1'700'000'000'000'001), Datum::Int(1'700'000'000'000'002),
                               Datum::Bool(true)})
                  .ok());
  Status second =
      (*appender)->AppendRow({Datum::Text("b"), Datum::Null(), Datum::Null(), Datum::Null(),
                              Datum::List({}), Datum::Null(), Datum::Null(), Datum::Bool(false)});
  ASSERT_TRUE(second.ok()) << second.ToString();
  auto bad = (*appender)->AppendRow({Datum::Text("short")});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*appender)->Close().ok());

  std::string file = dir.path() + "/out.parquet";
  ASSERT_TRUE(
      conn->Execute("COPY stage TO " + QuoteLiteral(file) + " (FORMAT parquet, COMPRESSION zstd)")
          .ok());
  std::vector<Column> cols;
  auto rows =
      All(conn.get(), "SELECT * FROM read_parquet(" + QuoteLiteral(file) + ") ORDER BY id", &cols);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(cols[5].type.kind, TypeKind::kTimestampTz);
  EXPECT_EQ(cols[6].type.kind, TypeKind::kTimestamp);
  const auto& a = (*rows)[0];
  EXPECT_EQ(a[1].int_value, -5);
  EXPECT_EQ(a[3].children[1].text, "q");
  EXPECT_EQ(a[4].children[1].int_value, 2);
  EXPECT_EQ(a[5].int_value, 1'700'000'000'000'001);
  EXPECT_EQ(a[6].int_value, 1'700'000'000'000'002);
  const auto& b = (*rows)[1];
  EXPECT_TRUE(b[1].is_null);
  EXPECT_TRUE(b[3].is_null);
  EXPECT_FALSE(b[4].is_null);
  EXPECT_TRUE(b[4].children.empty());
  EXPECT_EQ(b[7].int_value, 0);
}

TEST(DuckDbEngineTest, SandboxAllowsOnlyItsDirectoriesAndLocksConfiguration) {
  TempDir allowed;
  TempDir outside;
  {
    auto writer = OpenOrDie();
    auto conn = writer->Connect().value();
    ASSERT_TRUE(conn->Execute("COPY (SELECT 1 AS a) TO " +
                              QuoteLiteral(allowed.path() + "/in.parquet") + " (FORMAT parquet)")
                    .ok());
    ASSERT_TRUE(conn->Execute("COPY (SELECT 2 AS a) TO " +
                              QuoteLiteral(outside.path() + "/out.parquet") + " (FORMAT parquet)")
                    .ok());
  }
  DatabaseOptions options;
  options.init_sql = {"ATTACH ':memory:' AS cat", "CREATE SCHEMA cat.s"};
  options.sandbox = true;
  options.allowed_directories = {allowed.path() + "/"};
  auto db = OpenOrDie(options);
  auto conn = db->Connect().value();
  auto in = All(conn.get(),
                "SELECT a FROM read_parquet(" + QuoteLiteral(allowed.path() + "/in.parquet") + ")");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ((*in)[0][0].int_value, 1);

  for (std::string sql :
       {"SELECT * FROM read_parquet(" + QuoteLiteral(outside.path() + "/out.parquet") + ")",
        std::string("SELECT * FROM read_csv('/etc/passwd')"),
        "SELECT * FROM read_parquet(" +
            QuoteLiteral(allowed.path() + "/../" + fs::path(outside.path()).filename().string() +
                         "/out.parquet") +
            ")"}) {
    auto r = All(conn.get(), sql);
    ASSERT_FALSE(r.ok()) << sql;
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied)
        << sql << ": " << r.status().ToString();
  }
  Status set = conn->Execute("SET enable_external_access = true");
  EXPECT_FALSE(set.ok());
  EXPECT_THAT(set.message(), HasSubstr("locked"));
  Status load = conn->Execute("LOAD httpfs");
  EXPECT_FALSE(load.ok());
  // The init statements ran before the lock.
  EXPECT_TRUE(conn->Execute("CREATE VIEW cat.s.v AS SELECT 1").ok());
}

TEST(DuckDbEngineTest, ReferencedTables) {
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  auto names = conn->ReferencedTables("SELECT * FROM \"a-1\" JOIN s.b ON true");
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("a-1", "b"));
}

TEST(DuckDbEngineTest, UnsupportedColumnTypeIsRefusedWithItsName) {
  auto db = OpenOrDie();
  auto conn = db->Connect().value();
  auto r = conn->Query("SELECT '101'::BIT AS bits");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("'bits'"));
  EXPECT_THAT(r.status().message(), HasSubstr("BIT"));
}

}  // namespace
}  // namespace larder::offline
