#include "offline/dataset_builder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "offline/dataset_test_util.h"
#include "offline/offline_test_util.h"

namespace larder::offline {
namespace {

using testing::Cell;

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kS;

// The worked example of docs/datasets.md: one group, five entity rows.
class DatasetBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    using catalog::FeatureType;
    catalog::FeatureGroup g;
    g.id = 1;
    g.name = "customer-features";
    g.record_identifier_name = "customer_id";
    g.event_time_feature_name = "event_time";
    g.features = {testing::Feature("customer_id", FeatureType::kString),
                  testing::Feature("event_time", FeatureType::kString),
                  testing::Feature("score", FeatureType::kFractional),
                  testing::Feature("orders", FeatureType::kIntegral)};
    g.offline_enabled = true;
    g.creation_time = 1'690'000'000;
    g.BuildIndex();
    group_ = std::make_shared<const catalog::FeatureGroup>(g);

    db_ = Database::Open({}).value();
    conn_ = db_->Connect().value();
    testing::Table t = testing::OfflineTable(g, 4);
    auto put = [&t](std::string id, std::string et, double score, int64_t orders, int64_t api,
                    int64_t wt) {
      t.rows.push_back({Cell::Text(id), Cell::Text(et), Cell::Double(score), Cell::Int(orders),
                        Cell::Micros(kT0 + api * kS), Cell::Micros(kT0 + wt * kS),
                        Cell::Bool(false)});
    };
    auto mark = [&t](std::string id, std::string et, int64_t api, int64_t wt) {
      t.rows.push_back({Cell::Text(id), Cell::Text(et), Cell::Null(), Cell::Null(),
                        Cell::Micros(kT0 + api * kS), Cell::Micros(kT0 + wt * kS),
                        Cell::Bool(true)});
    };
    // C1: two versions at +10 (the later api wins), a late row at +30, a delete at +20.
    put("C1", "2023-11-14T22:13:30Z", 1.0, 1, 100, 200);
    put("C1", "2023-11-14T22:13:30Z", 2.0, 2, 110, 150);
    put("C1", "2023-11-14T22:13:50.000Z", 3.0, 3, 120, 900);
    mark("C1", "1700000020", 130, 300);
    // C2: a row at +10; a delete at +20 and, at the same event time, a later put that survives it.
    put("C2", "1700000010", 5.0, 5, 100, 200);
    mark("C2", "2023-11-14T22:13:40Z", 140, 260);
    put("C2", "1700000020.000", 6.0, 6, 150, 400);
    OfflineLayout layout(dir_.path(), "123456789012", "us-east-1");
    std::string path = testing::OfflineFilePath(layout, g, kT0 + 30 * kS, "AAAAAAAAAAAAAAAA");
    ASSERT_TRUE(testing::WriteTable(conn_.get(), t, path, false).ok());
    files_ = {path};

    testing::Table base;
    base.columns = {{"customer_id", "VARCHAR"}, {"event_time", "VARCHAR"}, {"label", "BIGINT"}};
    base.rows = {{Cell::Text("C1"), Cell::Text("2023-11-14T22:13:45Z"), Cell::Int(1)},
                 {Cell::Text("C1"), Cell::Text("1700000035"), Cell::Int(2)},
                 {Cell::Text("C2"), Cell::Text("1700000015"), Cell::Int(3)},
                 {Cell::Text("C2"), Cell::Text("2023-11-14 22:13:40"), Cell::Int(4)},
                 {Cell::Text("C3"), Cell::Text("1700000050"), Cell::Int(5)}};
    base_csv_ = dir_.path() + "/uploads/labels.csv";
    ASSERT_TRUE(testing::WriteTable(conn_.get(), base, base_csv_, true).ok());

    DatasetBuilderOptions o;
    o.temp_directory = dir_.path() + "/tmp";
    o.threads = 2;
    builder_ = DatasetBuilder::Open(o).value();
  }

  DatasetSpec Spec(std::vector<std::string> features = {"score"}) {
    DatasetSpec s;
    BaseFile b;
    b.path = base_csv_;
    b.record_identifier = "customer_id";
    b.event_time = "event_time";
    s.base_file = b;
    GroupJoin j;
    j.data = GroupData{group_, files_};
    j.features = std::move(features);
    s.groups.push_back(j);
    s.output_path = dir_.path() + "/out.parquet";
    return s;
  }

  // "label:score.1" per row, sorted.
  std::vector<std::string> Run(const DatasetSpec& s) {
    auto r = builder_->Build(s);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    auto back = testing::ReadDataset(conn_.get(), s.output_path, s.format == OutputFormat::kCsv);
    EXPECT_TRUE(back.ok()) << back.status().ToString();
    std::vector<std::string> rows;
    for (const auto& row : back->rows) {
      std::string text;
      for (size_t c = 2; c < row.size(); ++c) text += (c > 2 ? ":" : "") + row[c].Canonical();
      rows.push_back(text);
    }
    std::sort(rows.begin(), rows.end());
    EXPECT_EQ(r->rows, static_cast<int64_t>(rows.size()));
    return rows;
  }

  testing::ScratchDir dir_;
  catalog::GroupPtr group_;
  std::vector<std::string> files_;
  std::string base_csv_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<DatasetBuilder> builder_;
};

TEST_F(DatasetBuilderTest, AsOfJoinAppliesDedupAndDeletes) {
  // C1@+25: the only row before it (+10) is older than the delete at +20: null.
  // C1@+35: the late row at +30. C2@+15: +10 is older than C2's delete at +20: null.
  // C2@+20 (no 'Z': UTC): the put at +20 that arrived after that delete. C3: no rows: null
  // (LEFT by default).
  EXPECT_EQ(Run(Spec()),
            (std::vector<std::string>{"1:<null>", "2:3", "3:<null>", "4:6", "5:<null>"}));
}

TEST_F(DatasetBuilderTest, IncludeDeletedKeepsRowsOlderThanMarkers) {
  DatasetSpec s = Spec();
  s.include_deleted = true;
  // C1@+25 now sees the deduped +10 row: the later api_invocation_time (score 2).
  EXPECT_EQ(Run(s), (std::vector<std::string>{"1:2", "2:3", "3:5", "4:6", "5:<null>"}));
}

TEST_F(DatasetBuilderTest, AsOfWriteTimeTravelsBeforeLateRowsAndDeletes) {
  DatasetSpec s = Spec();
  s.as_of_micros = kT0 + 250 * kS;  // before the late row, both deletes and C2's +20 put
  EXPECT_EQ(Run(s), (std::vector<std::string>{"1:2", "2:2", "3:5", "4:5", "5:<null>"}));
}

TEST_F(DatasetBuilderTest, InnerAsOfDropsUnmatchedBaseRows) {
  DatasetSpec s = Spec();
  s.groups[0].join_type = JoinType::kInner;
  EXPECT_EQ(Run(s), (std::vector<std::string>{"2:3", "4:6"}));
}

TEST_F(DatasetBuilderTest, AllMatchesIsTheSdkQuery) {
  DatasetSpec s = Spec();
  s.join_mode = JoinMode::kAllMatches;
  // INNER by default, every surviving row at or before the base event time.
  s.include_deleted = true;  // so that C2@+20 matches both +10 and +20
  EXPECT_EQ(Run(s), (std::vector<std::string>{"1:2", "2:2", "2:3", "3:5", "4:5", "4:6"}));
  s.recent = 1;  // per customer: the latest base event, then the latest feature event
  EXPECT_EQ(Run(s), (std::vector<std::string>{"2:3", "4:6"}));
  s.recent = 2;
  EXPECT_EQ(Run(s), (std::vector<std::string>{"2:2", "2:3", "4:5", "4:6"}));
  s.recent.reset();
  s.limit = 3;
  EXPECT_EQ(Run(s).size(), 3u);
  s.limit.reset();
  s.include_deleted = false;
  EXPECT_EQ(Run(s), (std::vector<std::string>{"2:3", "4:6"}));
}

TEST_F(DatasetBuilderTest, EventTimeRangeFiltersGroupsAndBase) {
  DatasetSpec s = Spec();
  s.event_time_start_micros = kT0 + 15 * kS;
  s.event_time_end_micros = kT0 + 40 * kS;
  // The base row outside [+15, +40] goes (C3@+50); so do the group rows at +10, which leaves
  // C2@+15 without a match.
  EXPECT_EQ(Run(s), (std::vector<std::string>{"1:<null>", "2:3", "3:<null>", "4:6"}));
}

TEST_F(DatasetBuilderTest, SdkAndPlainColumnNames) {
  DatasetSpec s = Spec({});
  auto r = builder_->Build(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->columns,
            (std::vector<std::string>{"customer_id", "event_time", "label", "customer_id.1",
                                      "event_time.1", "score.1", "orders.1"}));
  s.naming = ColumnNaming::kPlain;
  r = builder_->Build(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->columns,
            (std::vector<std::string>{"customer_id", "event_time", "label", "customer_id.1",
                                      "event_time.1", "score", "orders"}));
}

TEST_F(DatasetBuilderTest, CsvOutputHoldsTheSameRows) {
  DatasetSpec s = Spec();
  std::vector<std::string> parquet = Run(s);
  s.format = OutputFormat::kCsv;
  s.output_path = dir_.path() + "/out.csv";
  EXPECT_EQ(Run(s), parquet);
  FILE* f = std::fopen(s.output_path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), f), nullptr);
  std::fclose(f);
  EXPECT_EQ(std::string(line), "customer_id,event_time,label,score.1\n");
}

TEST_F(DatasetBuilderTest, BaseFeatureGroup) {
  DatasetSpec s;
  s.base_group = GroupData{group_, files_};
  s.base_group_features = {"customer_id", "score"};
  s.output_path = dir_.path() + "/out.parquet";
  auto r = builder_->Build(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // After dedup and deletes: C1's +30 row and C2's +20 row.
  auto back = testing::ReadDataset(conn_.get(), s.output_path, false).value();
  std::vector<std::string> rows;
  for (const auto& row : back.rows) rows.push_back(row[0].Canonical() + ":" + row[1].Canonical());
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"C1:3", "C2:6"}));
}

TEST_F(DatasetBuilderTest, ProgressReachesOneAndCancelLeavesNothing) {
  DatasetSpec s = Spec();
  std::vector<double> seen;
  auto r = builder_->Build(s, [&seen](double f) {
    seen.push_back(f);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 1.0);
  for (double f : seen) EXPECT_TRUE(f == -1.0 || (f >= 0 && f <= 1.0)) << f;

  s.output_path = dir_.path() + "/cancelled.parquet";
  r = builder_->Build(s, [](double) { return false; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(s.output_path));
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST_F(DatasetBuilderTest, QuotesInNamesAndPathsAreData) {
  catalog::FeatureGroup g = *group_;
  g.name = "q-group";
  g.features[2].name = "sc'o\"re";
  g.BuildIndex();
  auto group = std::make_shared<const catalog::FeatureGroup>(g);
  testing::Table t = testing::OfflineTable(g, 4);
  t.rows.push_back({Cell::Text("C1"), Cell::Text("1700000001"), Cell::Double(9.5), Cell::Int(1),
                    Cell::Micros(kT0), Cell::Micros(kT0), Cell::Bool(false)});
  std::string dir = dir_.path() + "/it's \"odd\"";
  std::string path = dir + "/data.parquet";
  ASSERT_TRUE(testing::WriteTable(conn_.get(), t, path, false).ok());
  DatasetSpec s = Spec({"sc'o\"re"});
  s.groups[0].data = GroupData{group, {path}};
  s.output_path = dir + "/o'ut.parquet";
  auto r = builder_->Build(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->columns.back(), "sc'o\"re.1");
  EXPECT_EQ(Run(s),
            (std::vector<std::string>{"1:9.5", "2:9.5", "3:<null>", "4:<null>", "5:<null>"}));
}

TEST_F(DatasetBuilderTest, ErrorsNameTheOptionAndValue) {
  auto expect = [this](const DatasetSpec& s, std::string_view needle) {
    auto r = builder_->Build(s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  DatasetSpec s = Spec();
  s.base_file->event_time = "when";
  expect(s, "event_time 'when' is not a column of base file");
  s = Spec({"nope"});
  expect(s, "feature 'nope' is not a feature of feature group 'customer-features'");
  s = Spec();
  s.groups[0].comparator = JoinComparator::kGreater;
  expect(s, "join_comparator '>' needs join_mode AllMatches");
  s = Spec();
  s.groups[0].join_type = JoinType::kFull;
  expect(s, "join_type 'Full' needs join_mode AllMatches");
  s = Spec();
  s.recent = -1;
  expect(s, "recent must be a non-negative integer, got -1");
  s = Spec();
  s.output_path = "relative.parquet";
  expect(s, "output path 'relative.parquet' must be an absolute path");
  s = Spec();
  s.output_path = dir_.path() + "/missing/out.parquet";
  expect(s, "does not exist");
  s = Spec();
  s.base_group = GroupData{group_, files_};
  expect(s, "exactly one base");
  s = Spec();
  s.base_file->path = dir_.path() + "/labels.txt";
  expect(s, "cannot tell its format");
  s = Spec();
  s.event_time_start_micros = kT0 + 10;
  s.event_time_end_micros = kT0;
  expect(s, "is after event_time_end");
}

TEST_F(DatasetBuilderTest, BadBaseEventTimeFailsQuotingTheValue) {
  testing::Table base;
  base.columns = {{"customer_id", "VARCHAR"}, {"event_time", "VARCHAR"}};
  base.rows = {{Cell::Text("C1"), Cell::Text("yesterday")}};
  std::string path = dir_.path() + "/uploads/bad.csv";
  ASSERT_TRUE(testing::WriteTable(conn_.get(), base, path, true).ok());
  DatasetSpec s = Spec();
  s.base_file->path = path;
  auto r = builder_->Build(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("yesterday"), std::string::npos) << r.status().ToString();
}

TEST(ListParquetFilesTest, SkipsHiddenAndOtherFiles) {
  testing::ScratchDir dir;
  std::filesystem::create_directories(dir.path() + "/data/year=2024/month=01");
  for (const char* name : {"a.parquet", ".a.parquet.tmp", ".hidden.parquet", "notes.txt"}) {
    std::FILE* f = std::fopen((dir.path() + "/data/year=2024/month=01/" + name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  auto files = ListParquetFiles(dir.path() + "/data");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(*files, std::vector<std::string>{dir.path() + "/data/year=2024/month=01/a.parquet"});
  EXPECT_TRUE(ListParquetFiles(dir.path() + "/none")->empty());
}

TEST(TerminalProgressBarTest, PrintsNothingWhenNotATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    TerminalProgressBar bar(f);
    EXPECT_TRUE(bar.Update(0.5));
  }
  EXPECT_EQ(std::ftell(f), 0L);
  std::fclose(f);
}

TEST(DatasetNamesTest, WireNamesRoundTrip) {
  EXPECT_EQ(JoinModeFromName("AllMatches"), JoinMode::kAllMatches);
  EXPECT_EQ(JoinTypeFromName("LEFT_JOIN"), JoinType::kLeft);
  EXPECT_EQ(JoinComparatorFromName("GREATER_THAN_OR_EQUAL_TO"), JoinComparator::kGreaterOrEqual);
  EXPECT_EQ(OutputFormatFromName("CSV"), OutputFormat::kCsv);
  EXPECT_FALSE(JoinTypeFromName("CROSS_JOIN").has_value());
}

}  // namespace
}  // namespace larder::offline
