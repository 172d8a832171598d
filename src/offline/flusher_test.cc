#include "offline/flusher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/status_macros.h"
#include "offline/offline_test_util.h"

namespace larder::offline {
namespace {

namespace fs = std::filesystem;
using testing::CustomerGroup;
using testing::CustomerRecord;
using ::testing::ElementsAre;
using testing::FakeCatalog;
using testing::FakeOutbox;
using ::testing::HasSubstr;
using testing::ScratchDir;

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z
constexpr int64_t kHour = 3'600'000'000;
constexpr char kStore[] = "/offline/123456789012/sagemaker/us-east-1/offline-store";

FlusherOptions Options(const std::string& dir, Env* env = nullptr) {
  FlusherOptions o;
  o.data_dir = dir;
  o.account_id = "123456789012";
  o.region = "us-east-1";
  o.env = env;
  o.compaction_min_files = 4;
  o.random_seed = 42;
  return o;
}

// Every file below `dir` (relative paths), sorted.
std::vector<std::string> Tree(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ParquetFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& f : Tree(dir)) {
    if (f.size() > 8 && f.substr(f.size() - 8) == ".parquet") out.push_back(dir + "/" + f);
  }
  return out;
}

// Runs `sql` (with {files} replaced by the list of `files`) and returns the rows as text.
std::vector<std::vector<std::string>> Rows(const std::vector<std::string>& files,
                                           const std::string& select) {
  auto db = Database::Open(DatabaseOptions()).value();
  auto conn = db->Connect().value();
  std::string list = "[";
  for (size_t i = 0; i < files.size(); ++i) list += (i ? ", " : "") + QuoteLiteral(files[i]);
  list += "]";
  std::string sql = select;
  sql.replace(sql.find("{files}"), 7,
              "read_parquet(" + list + ", union_by_name = true, hive_partitioning = false)");
  auto result = conn->Query(sql);
  EXPECT_TRUE(result.ok()) << result.status().ToString() << "\n" << sql;
  std::vector<std::vector<std::string>> out;
  if (!result.ok()) return out;
  Chunk chunk;
  while ((*result)->Next(&chunk).value()) {
    for (const auto& row : chunk.rows) {
      std::vector<std::string> r;
      for (const Datum& d : row) {
        if (d.is_null) {
          r.push_back("NULL");
        } else if (!d.text.empty()) {
          r.push_back(d.text);
        } else {
          r.push_back(std::to_string(d.int_value));
        }
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

TEST(FlusherTest, WritesHourlyPartitionsWithTypedColumns) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog.Put(CustomerGroup());
  FakeOutbox outbox;
  outbox.Append(1, CustomerRecord("C1", kT0, 12.5, 3, {"x", "y"}), kT0 + 1);
  outbox.Append(1, CustomerRecord("C2", kT0 + 60'000'000, 1e-5, -4), kT0 + 2);
  outbox.Append(1, CustomerRecord("C1", kT0 + 2 * kHour, 13.25, 4), kT0 + 3);
  // A delete marker: identifier and event time only.
  outbox.Append(
      1,
      testing::MakeRecord({testing::Scalar("C2"), testing::Scalar(testing::Iso(kT0 + kHour))},
                          kT0 + kHour),
      kT0 + 4, /*is_deleted=*/true);
  FakeClock clock(kT0 + 10'000'000);
  FlusherOptions o = Options(dir.path());
  o.clock = &clock;
  auto flusher = Flusher::Open(o, &outbox, &catalog);
  ASSERT_TRUE(flusher.ok()) << flusher.status().ToString();
  ASSERT_TRUE((*flusher)->Sync().ok());

  const std::string root = dir.path() + kStore + "/customer-features-1700000000/data";
  std::vector<std::string> tree = Tree(root);
  ASSERT_EQ(tree.size(), 3u) << ::testing::PrintToString(tree);
  // year=2023/month=11/day=14/hour=22/20231114T221420Z_<16 alnum>.parquet: named after the
  // latest event in the file.
  EXPECT_THAT(tree[0],
              ::testing::MatchesRegex(
                  "year=2023/month=11/day=14/hour=22/20231114T221420Z_[A-Za-z0-9]{16}\\.parquet"));
  EXPECT_THAT(tree[1],
              ::testing::MatchesRegex(
                  "year=2023/month=11/day=14/hour=23/20231114T231320Z_[A-Za-z0-9]{16}\\.parquet"));
  EXPECT_THAT(tree[2],
              ::testing::MatchesRegex(
                  "year=2023/month=11/day=15/hour=00/20231115T001320Z_[A-Za-z0-9]{16}\\.parquet"));

  auto schema = Rows({root + "/" + tree[0]},
                     "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {files})");
  EXPECT_EQ(schema, (std::vector<std::vector<std::string>>{
                        {"customer_id", "VARCHAR"},
                        {"event_time", "VARCHAR"},
                        {"total_purchases", "DOUBLE"},
                        {"total_orders", "BIGINT"},
                        {"tags", "VARCHAR[]"},
                        {"api_invocation_time", "TIMESTAMP WITH TIME ZONE"},
                        {"write_time", "TIMESTAMP WITH TIME ZONE"},
                        {"is_deleted", "BOOLEAN"}}));
  auto rows =
      Rows(ParquetFiles(root),
           "SELECT customer_id, event_time, CAST(total_purchases AS VARCHAR), CAST(total_orders AS "
           "VARCHAR), "
           "CAST(tags AS VARCHAR), CAST(epoch_us(api_invocation_time) AS VARCHAR), "
           "CAST(epoch_us(write_time) AS VARCHAR), CAST(is_deleted AS VARCHAR) FROM {files} "
           "ORDER BY api_invocation_time");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"C1", "2023-11-14T22:13:20Z", "12.5", "3", "[x, y]",
                                               std::to_string(kT0 + 1),
                                               std::to_string(kT0 + 10'000'000), "false"}));
  EXPECT_EQ(rows[1][2], "1e-05");
  EXPECT_EQ(rows[1][3], "-4");
  EXPECT_EQ(rows[3], (std::vector<std::string>{"C2", "2023-11-14T23:13:20Z", "NULL", "NULL", "NULL",
                                               std::to_string(kT0 + 4),
                                               std::to_string(kT0 + 10'000'000), "true"}));

  // Everything flushed was trimmed, and no tmp file or intent is left behind.
  EXPECT_EQ(outbox.ApproximateCount(), 0u);
  EXPECT_EQ(outbox.trimmed(), 4u);
  EXPECT_TRUE(Tree(dir.path() + "/offline/_flush").empty());
  EXPECT_EQ((*flusher)->stats().rows_written, 4u);
  EXPECT_EQ((*flusher)->manifest()->Current()->Files("customer-features-1700000000").size(), 3u);
}

TEST(FlusherTest, FractionalEventTimeStaysDoubleAndDeletedGroupsStillFlush) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog::FeatureGroup g = CustomerGroup(7, "fractional-et");
  g.features[1].type = catalog::FeatureType::kFractional;
  catalog.Put(g, /*live=*/false);  // deleted after its writes were queued
  catalog::FeatureGroup online_only = CustomerGroup(8, "online-only");
  online_only.offline_enabled = false;
  catalog.Put(online_only);
  FakeOutbox outbox;
  outbox.Append(
      7,
      testing::MakeRecord({testing::Scalar("C1"), testing::Scalar("1700000000.25")}, kT0 + 250'000),
      kT0);
  outbox.Append(8, CustomerRecord("C9", kT0, 1, 1), kT0);
  outbox.Append(99, CustomerRecord("C9", kT0, 1, 1), kT0);  // an id no catalog version knows
  auto flusher = Flusher::Open(Options(dir.path()), &outbox, &catalog).value();
  ASSERT_TRUE(flusher->Sync().ok());
  auto files = ParquetFiles(dir.path() + kStore);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_THAT(files[0],
              HasSubstr("/fractional-et-1700000000/data/year=2023/month=11/day=14/hour=22/"));
  auto rows = Rows(files,
                   "SELECT typeof(event_time), CAST(event_time AS VARCHAR), CAST(total_orders AS "
                   "VARCHAR) FROM {files}");
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{{"DOUBLE", "1700000000.25", "NULL"}}));
  EXPECT_EQ(outbox.ApproximateCount(), 0u);
  EXPECT_EQ(flusher->stats().skipped_entries, 2u);
}

TEST(FlusherTest, CorruptRecordStopsTheFlushWithoutTrimming) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog.Put(CustomerGroup());
  FakeOutbox outbox;
  outbox.Append(1, CustomerRecord("C1", kT0, 1, 1), kT0);
  outbox.AppendRaw(1, "\xff\xff\xff");
  auto flusher = Flusher::Open(Options(dir.path()), &outbox, &catalog).value();
  Status s = flusher->Sync();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("outbox entry 2"));
  EXPECT_EQ(outbox.ApproximateCount(), 2u);
  EXPECT_TRUE(ParquetFiles(dir.path() + kStore).empty());
  EXPECT_TRUE(Tree(dir.path() + kStore).empty()) << "tmp files are cleaned up";
}

TEST(FlusherTest, BatchesAreSeparateTransactions) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog.Put(CustomerGroup());
  FakeOutbox outbox;
  for (int i = 0; i < 10; ++i)
    outbox.Append(1, CustomerRecord("C" + std::to_string(i), kT0, i, i), kT0 + i);
  FlusherOptions o = Options(dir.path());
  o.max_batch_entries = 3;
  auto flusher = Flusher::Open(o, &outbox, &catalog).value();
  ASSERT_TRUE(flusher->Sync().ok());
  EXPECT_EQ(flusher->stats().flushes, 4u);
  EXPECT_EQ(ParquetFiles(dir.path() + kStore).size(), 4u);
  EXPECT_EQ(Rows(ParquetFiles(dir.path() + kStore),
                 "SELECT CAST(count(*) AS VARCHAR) FROM {files}")[0][0],
            "10");
}

// The rows on disk, as "customer_id/api_invocation_time" sorted, from every visible file.
std::vector<std::string> VisibleRows(const std::string& dir) {
  std::vector<std::string> out;
  auto files = ParquetFiles(dir + kStore);
  if (files.empty()) return out;
  for (const auto& r : Rows(files,
                            "SELECT customer_id || '/' || CAST(epoch_us(api_invocation_time) AS "
                            "VARCHAR) FROM {files}")) {
    out.push_back(r[0]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Exactly once across a crash at every step: for each crash point k, run the scenario with an
// Env that dies at its k-th mutation, throw the flusher away (the "process" died), reopen on the
// same directory and outbox with a healthy Env, and check every row is visible exactly once.
TEST(FlusherTest, ExactlyOnceAcrossACrashAtEveryStep) {
  auto scenario = [](FakeOutbox* outbox) {
    outbox->Append(1, CustomerRecord("A", kT0, 1, 1), 1);
    outbox->Append(2, CustomerRecord("B", kT0 + kHour, 2, 2), 2);
    outbox->Append(1, CustomerRecord("C", kT0 + 3 * kHour, 3, 3), 3);
    outbox->Append(2, CustomerRecord("D", kT0, 4, 4), 4);
    outbox->Append(1, CustomerRecord("E", kT0, 5, 5), 5);
  };
  const std::vector<std::string> expected = {"A/1", "B/2", "C/3", "D/4", "E/5"};
  FakeCatalog catalog;
  catalog.Put(CustomerGroup(1, "g-one"));
  catalog.Put(CustomerGroup(2, "g-two"));

  // Count the steps of a clean run (two transactions: batches of 3 then 2 entries).
  uint64_t steps = 0;
  {
    ScratchDir dir;
    FakeOutbox outbox;
    scenario(&outbox);
    CrashingEnv env(Env::Posix(), 0);
    FlusherOptions o = Options(dir.path(), &env);
    o.max_batch_entries = 3;
    auto flusher = Flusher::Open(o, &outbox, &catalog).value();
    ASSERT_TRUE(flusher->Sync().ok());
    steps = env.mutations();
    EXPECT_EQ(VisibleRows(dir.path()), expected);
  }
  ASSERT_GT(steps, 20u);

  for (uint64_t k = 1; k <= steps; ++k) {
    SCOPED_TRACE("crash at step " + std::to_string(k));
    ScratchDir dir;
    FakeOutbox outbox;
    scenario(&outbox);
    std::string crash_step;
    {
      CrashingEnv env(Env::Posix(), k);
      FlusherOptions o = Options(dir.path(), &env);
      o.max_batch_entries = 3;
      auto flusher = Flusher::Open(o, &outbox, &catalog);
      if (flusher.ok()) {
        EXPECT_FALSE((*flusher)->Sync().ok());
        flusher->reset();  // its Stop() fails too: the process is dead
      }
      ASSERT_TRUE(env.crashed());
      crash_step = env.crash_step();
    }
    SCOPED_TRACE(crash_step);
    auto flusher = Flusher::Open(Options(dir.path()), &outbox, &catalog);
    ASSERT_TRUE(flusher.ok()) << flusher.status().ToString();
    ASSERT_TRUE((*flusher)->Sync().ok());
    EXPECT_EQ(VisibleRows(dir.path()), expected);
    EXPECT_EQ(outbox.ApproximateCount(), 0u);
    // Nothing half-done is left: no tmp files, no intents.
    for (const std::string& f : Tree(dir.path() + "/offline")) {
      EXPECT_THAT(f, ::testing::Not(HasSubstr(".tmp")));
      EXPECT_THAT(f, ::testing::Not(HasSubstr(".intent")));
    }
    // The reopened store's manifest agrees with the disk.
    size_t visible = (*flusher)->manifest()->Current()->Files("g-one-1700000000").size() +
                     (*flusher)->manifest()->Current()->Files("g-two-1700000000").size();
    EXPECT_EQ(visible, ParquetFiles(dir.path() + kStore).size());
  }
}

// Compaction merges a partition's small files; a snapshot taken before keeps reading the old
// files (which stay on disk until it is released), a snapshot after reads only the merged one,
// and neither sees a row twice.
TEST(FlusherTest, CompactionNeverShowsARowTwice) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog.Put(CustomerGroup());
  FakeOutbox outbox;
  auto flusher = Flusher::Open(Options(dir.path()), &outbox, &catalog).value();
  for (int i = 0; i < 6; ++i) {
    outbox.Append(1, CustomerRecord("C" + std::to_string(i), kT0 + i * 1'000'000, i, i), kT0 + i);
    ASSERT_TRUE(flusher->Sync().ok());  // one file per flush
  }
  const std::string root = "customer-features-1700000000";
  ASSERT_EQ(flusher->manifest()->Current()->Files(root).size(), 6u);
  auto before = flusher->manifest()->Acquire();

  ASSERT_TRUE(flusher->CompactOnce().ok());
  EXPECT_EQ(flusher->stats().compactions, 1u);
  auto after = flusher->manifest()->Acquire();
  ASSERT_EQ(after->Files(root).size(), 1u);
  EXPECT_THAT(after->Files(root)[0].path,
              HasSubstr("/20231114T221325Z_"));  // latest event of the inputs
  auto paths = [](const FileManifest::FileList& list) {
    std::vector<std::string> out;
    for (const auto& f : list) out.push_back(f.path);
    return out;
  };
  const std::string count =
      "SELECT CAST(count(*) AS VARCHAR), CAST(count(DISTINCT customer_id) AS VARCHAR) FROM {files}";
  EXPECT_EQ(Rows(paths(before->Files(root)), count),
            (std::vector<std::vector<std::string>>{{"6", "6"}}));
  EXPECT_EQ(Rows(paths(after->Files(root)), count),
            (std::vector<std::vector<std::string>>{{"6", "6"}}));

  // The old files are kept while the old snapshot lives.
  ASSERT_TRUE(flusher->CollectGarbage().ok());
  for (const auto& f : before->Files(root)) EXPECT_TRUE(fs::exists(f.path)) << f.path;
  EXPECT_EQ(Tree(dir.path() + "/offline/_flush").size(), 1u)
      << "the compaction intent waits for the deletes";
  std::vector<std::string> old_paths = paths(before->Files(root));
  before.reset();
  ASSERT_TRUE(flusher->CollectGarbage().ok());
  for (const auto& p : old_paths) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_TRUE(Tree(dir.path() + "/offline/_flush").empty());
  EXPECT_EQ(ParquetFiles(dir.path() + kStore).size(), 1u);
  EXPECT_EQ(VisibleRows(dir.path()).size(), 6u);
}

TEST(FlusherTest, CompactionKeepsFeaturesAddedLaterInDefinitionOrder) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog::FeatureGroup g = CustomerGroup();
  catalog.Put(g);
  FakeOutbox outbox;
  auto flusher = Flusher::Open(Options(dir.path()), &outbox, &catalog).value();
  for (int i = 0; i < 2; ++i) {
    outbox.Append(1, CustomerRecord("old" + std::to_string(i), kT0, i, i), kT0 + i);
    ASSERT_TRUE(flusher->Sync().ok());
  }
  g.features.push_back(testing::Feature("loyalty_score", catalog::FeatureType::kFractional));
  catalog.Put(g);
  for (int i = 0; i < 2; ++i) {
    catalog::Record r = CustomerRecord("new" + std::to_string(i), kT0, i, i);
    r.values.push_back(testing::Scalar("0.5"));
    outbox.Append(1, r, kT0 + 10 + i);
    ASSERT_TRUE(flusher->Sync().ok());
  }
  ASSERT_TRUE(flusher->CompactOnce().ok());
  auto files = ParquetFiles(dir.path() + kStore);
  ASSERT_EQ(files.size(), 1u);
  auto schema = Rows(files, "SELECT column_name FROM (DESCRIBE SELECT * FROM {files})");
  std::vector<std::string> names;
  for (const auto& r : schema) names.push_back(r[0]);
  EXPECT_THAT(names,
              ElementsAre("customer_id", "event_time", "total_purchases", "total_orders", "tags",
                          "loyalty_score", "api_invocation_time", "write_time", "is_deleted"));
  auto rows =
      Rows(files,
           "SELECT customer_id, CAST(loyalty_score AS VARCHAR) FROM {files} ORDER BY customer_id");
  EXPECT_EQ(rows, (std::vector<std::vector<std::string>>{
                      {"new0", "0.5"}, {"new1", "0.5"}, {"old0", "NULL"}, {"old1", "NULL"}}));
}

TEST(FlusherTest, CompactionIsCrashSafeAtEveryStep) {
  FakeCatalog catalog;
  catalog.Put(CustomerGroup());
  auto prepare = [&](const std::string& dir, FakeOutbox* outbox) {
    auto flusher = Flusher::Open(Options(dir), outbox, &catalog).value();
    for (int i = 0; i < 5; ++i) {
      outbox->Append(1, CustomerRecord("C" + std::to_string(i), kT0, i, i), i + 1);
      ASSERT_TRUE(flusher->Sync().ok());
    }
  };
  const std::vector<std::string> expected = {"C0/1", "C1/2", "C2/3", "C3/4", "C4/5"};
  uint64_t steps = 0;
  {
    ScratchDir dir;
    FakeOutbox outbox;
    prepare(dir.path(), &outbox);
    CrashingEnv env(Env::Posix(), 0);
    auto flusher = Flusher::Open(Options(dir.path(), &env), &outbox, &catalog).value();
    uint64_t before = env.mutations();
    ASSERT_TRUE(flusher->CompactOnce().ok());
    ASSERT_EQ(flusher->stats().compactions, 1u);
    steps = env.mutations() - before;
  }
  ASSERT_GT(steps, 5u);
  for (uint64_t k = 1; k <= steps; ++k) {
    ScratchDir dir;
    FakeOutbox outbox;
    prepare(dir.path(), &outbox);
    std::string crash_step;
    {
      CrashingEnv counter(Env::Posix(), 0);
      auto probe = Flusher::Open(Options(dir.path(), &counter), &outbox, &catalog);
      ASSERT_TRUE(probe.ok());
      uint64_t open_steps = counter.mutations();
      probe->reset();
      CrashingEnv env(Env::Posix(), open_steps + k);
      auto flusher = Flusher::Open(Options(dir.path(), &env), &outbox, &catalog);
      ASSERT_TRUE(flusher.ok());
      EXPECT_FALSE((*flusher)->CompactOnce().ok());
      ASSERT_TRUE(env.crashed());
      crash_step = env.crash_step();
      flusher->reset();
    }
    SCOPED_TRACE("crash at compaction step " + std::to_string(k) + ": " + crash_step);
    auto flusher = Flusher::Open(Options(dir.path()), &outbox, &catalog);
    ASSERT_TRUE(flusher.ok()) << flusher.status().ToString();
    EXPECT_EQ(VisibleRows(dir.path()), expected);
    for (const std::string& f : Tree(dir.path() + "/offline")) {
      EXPECT_THAT(f, ::testing::Not(HasSubstr(".tmp")));
      EXPECT_THAT(f, ::testing::Not(HasSubstr(".intent")));
    }
  }
}

TEST(FlusherTest, BackgroundThreadFlushesByAgeAndStopFlushesTheRest) {
  ScratchDir dir;
  FakeCatalog catalog;
  catalog.Put(CustomerGroup());
  FakeOutbox outbox;
  FlusherOptions o = Options(dir.path());
  o.flush_interval_ms = 3'600'000;  // never by age within the test
  o.flush_rows = 1'000'000;
  auto flusher = Flusher::Open(o, &outbox, &catalog).value();
  flusher->Start();
  outbox.Append(1, CustomerRecord("C1", kT0, 1, 1), 1);
  ASSERT_TRUE(flusher->Stop().ok());
  EXPECT_EQ(VisibleRows(dir.path()), (std::vector<std::string>{"C1/1"}));
  EXPECT_EQ(outbox.ApproximateCount(), 0u);
}

TEST(FlusherTest, RejectsUnsafeLayout) {
  ScratchDir dir;
  FakeCatalog catalog;
  FakeOutbox outbox;
  FlusherOptions o = Options(dir.path());
  o.region = "../etc";
  auto flusher = Flusher::Open(o, &outbox, &catalog);
  EXPECT_EQ(flusher.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(flusher.status().message(), HasSubstr("'../etc'"));
  catalog::FeatureGroup g = CustomerGroup();
  g.name = "../x";
  EXPECT_FALSE(OfflineLayout::GroupRoot(g).ok());
}

}  // namespace
}  // namespace larder::offline
