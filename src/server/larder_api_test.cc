#include "server/larder_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>

#include "offline/dataset_test_util.h"
#include "offline/offline_test_util.h"

namespace larder::server {
namespace {

using offline::testing::Cell;

constexpr int64_t kS = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kS;

class LarderApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog::FeatureGroup g = offline::testing::CustomerGroup();  // customer_id, event_time, ...
    catalog_.Put(g);
    catalog::FeatureGroup no_offline = offline::testing::CustomerGroup(2, "online-only");
    no_offline.offline_enabled = false;
    catalog_.Put(no_offline);

    LarderApiOptions o;
    o.data_dir = dir_.path();
    o.allowed_base_dirs = {dir_.path() + "/shared"};
    o.threads = 1;
    api_ = LarderApi::Create(&catalog_, nullptr, o).value();

    db_ = offline::Database::Open({}).value();
    conn_ = db_->Connect().value();
    offline::OfflineLayout layout(dir_.path(), o.account_id, o.region);
    offline::testing::Table t = offline::testing::OfflineTable(g, 4);  // no "tags" column: added later
    t.rows = {{Cell::Text("C1"), Cell::Text("2023-11-14T22:13:30Z"), Cell::Double(10.5), Cell::Int(1),
               Cell::Micros(kT0 + 100 * kS), Cell::Micros(kT0 + 200 * kS), Cell::Bool(false)},
              {Cell::Text("C1"), Cell::Text("2023-11-14T22:14:00Z"), Cell::Double(20.5), Cell::Int(2),
               Cell::Micros(kT0 + 110 * kS), Cell::Micros(kT0 + 210 * kS), Cell::Bool(false)}};
    ASSERT_TRUE(offline::testing::WriteTable(
                    conn_.get(), t, offline::testing::OfflineFilePath(layout, g, kT0 + 40 * kS, "AAAA"), false)
                    .ok());
    offline::testing::Table base;
    base.columns = {{"customer_id", "VARCHAR"}, {"event_time", "VARCHAR"}, {"label", "BIGINT"}};
    base.rows = {{Cell::Text("C1"), Cell::Text("1700000020"), Cell::Int(0)},
                 {Cell::Text("C1"), Cell::Text("1700000050"), Cell::Int(1)},
                 {Cell::Text("C9"), Cell::Text("1700000050"), Cell::Int(1)}};
    ASSERT_TRUE(offline::testing::WriteTable(conn_.get(), base, api_->UploadsDir() + "/labels.csv", true).ok());
    ASSERT_TRUE(offline::testing::WriteTable(conn_.get(), base, dir_.path() + "/shared/labels.csv", true).ok());
    ASSERT_TRUE(offline::testing::WriteTable(conn_.get(), base, dir_.path() + "/private/labels.csv", true).ok());
  }

  HttpResponse Call(const std::string& body, const std::string& target = "Larder.CreateDataset") {
    HttpRequest req;
    req.method = "POST";
    req.target = "/";
    req.headers = {{"x-amz-target", target}, {"content-type", "application/x-amz-json-1.1"}};
    req.body = body;
    HttpResponse resp;
    api_->Handle(req, &resp);
    return resp;
  }

  static std::string Field(const HttpResponse& resp, const char* key) {
    rapidjson::Document d;
    d.Parse(resp.body.c_str());
    if (!d.IsObject() || !d.HasMember(key)) return "";
    const auto& v = d[key];
    if (v.IsString()) return v.GetString();
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    return "";
  }

  offline::testing::ScratchDir dir_;
  offline::testing::FakeCatalog catalog_;
  std::unique_ptr<LarderApi> api_;
  std::unique_ptr<offline::Database> db_;
  std::unique_ptr<offline::Connection> conn_;
};

constexpr char kRequest[] = R"({
  "Base": {"Path": "labels.csv", "RecordIdentifierFeatureName": "customer_id",
           "EventTimeFeatureName": "event_time"},
  "FeatureGroups": [{"FeatureGroupName": "customer-features", "FeatureNames": ["total_purchases", "tags"]}],
  "OutputFormat": "csv"
})";

TEST_F(LarderApiTest, CreateDatasetBuildsIntoTheDatasetsDirectory) {
  HttpResponse resp = Call(kRequest);
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(resp.operation, "CreateDataset");
  EXPECT_EQ(Field(resp, "RowCount"), "3");
  std::string id = Field(resp, "DatasetId");
  EXPECT_EQ(id.rfind("ds-", 0), 0u) << id;
  std::string path = Field(resp, "OutputPath");
  EXPECT_EQ(path, api_->DatasetsDir() + "/" + id + ".csv");
  rapidjson::Document d;
  d.Parse(resp.body.c_str());
  ASSERT_TRUE(d["Columns"].IsArray());
  EXPECT_EQ(d["Columns"].Size(), 5u);
  EXPECT_STREQ(d["Columns"][3].GetString(), "total_purchases.1");
  EXPECT_TRUE(d["ElapsedMillis"].IsInt64());

  auto back = offline::testing::ReadDataset(conn_.get(), path, true).value();
  std::multiset<std::string> rows;
  for (const auto& r : back.rows) rows.insert(r[2].Canonical() + ":" + r[0].Canonical() + ":" + r[3].Canonical());
  // C1@+20 sees the +10 row; C1@+50 the +40 row; C9 has no rows.
  EXPECT_EQ(rows, (std::multiset<std::string>{"0:C1:10.5", "1:C1:20.5", "1:C9:<null>"}));
}

TEST_F(LarderApiTest, BaseFilesOutsideTheAllowedDirectoriesAreRefused) {
  auto with_path = [](const std::string& path) {
    return R"({"Base": {"Path": ")" + path +
           R"(", "RecordIdentifierFeatureName": "customer_id", "EventTimeFeatureName": "event_time"},
               "FeatureGroups": [{"FeatureGroupName": "customer-features"}]})";
  };
  EXPECT_EQ(Call(with_path(dir_.path() + "/shared/labels.csv")).status, 200);
  EXPECT_EQ(Call(with_path(dir_.path() + "/uploads/labels.csv")).status, 200);

  HttpResponse resp = Call(with_path(dir_.path() + "/private/labels.csv"));
  EXPECT_EQ(resp.status, 403) << resp.body;
  EXPECT_NE(resp.body.find("AccessDeniedException"), std::string::npos) << resp.body;
  resp = Call(with_path("../private/labels.csv"));
  EXPECT_EQ(resp.status, 403) << resp.body;
  std::filesystem::create_symlink(dir_.path() + "/private/labels.csv", api_->UploadsDir() + "/link.csv");
  resp = Call(with_path("link.csv"));
  EXPECT_EQ(resp.status, 403) << resp.body;
  resp = Call(with_path("missing.csv"));
  EXPECT_EQ(resp.status, 400) << resp.body;
  EXPECT_NE(resp.body.find("base file 'missing.csv' does not exist"), std::string::npos) << resp.body;
}

TEST_F(LarderApiTest, ErrorsUseTheControlPlaneCodes) {
  HttpResponse resp = Call(R"({"BaseFeatureGroupName": "nope"})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("ResourceNotFound"), std::string::npos) << resp.body;

  resp = Call(R"({"BaseFeatureGroupName": "online-only"})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("has no offline store"), std::string::npos) << resp.body;

  resp = Call(R"({"BaseFeatureGroupName": "customer-features", "JoinMode": "Sideways"})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("member 'JoinMode' is 'Sideways'; expected one of AsOf, AllMatches"),
            std::string::npos)
      << resp.body;

  resp = Call(R"({"BaseFeatureGroupName": "customer-features", "NumberOfRecords": "ten"})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("member 'NumberOfRecords' must be an integer"), std::string::npos) << resp.body;

  resp = Call("not json");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("ValidationException"), std::string::npos) << resp.body;

  resp = Call("{}", "Larder.DropEverything");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("UnknownOperationException"), std::string::npos) << resp.body;
}

TEST_F(LarderApiTest, BaseFeatureGroupWithOptions) {
  HttpResponse resp = Call(R"({"BaseFeatureGroupName": "customer-features",
                               "BaseFeatureNames": ["customer_id", "total_orders"],
                               "AsOf": 1700000205, "JoinMode": "AllMatches"})");
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(Field(resp, "RowCount"), "1");  // only the first row was written by then
}

}  // namespace
}  // namespace larder::server
