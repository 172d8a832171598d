#include "server/sagemaker_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <filesystem>

namespace larder::server {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr char kRole[] = "arn:aws:iam::123456789012:role/FeatureStoreRole";

struct Reply {
  int status = 0;
  std::string code;  // __type for errors
  std::string message;
  rapidjson::Document json;
  std::string operation;
  std::string content_type;
};

class SageMakerApiTest : public ::testing::Test {
 protected:
  SageMakerApiTest() {
    std::string tmpl = (fs::temp_directory_path() / "larder-sm-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    OpenCatalog();
  }
  ~SageMakerApiTest() override {
    api_.reset();
    catalog_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void OpenCatalog() {
    api_.reset();
    catalog_.reset();
    catalog::CatalogOptions o;
    o.data_dir = dir_;
    o.account_id = "123456789012";
    o.region = "us-west-2";
    o.clock = &clock_;
    auto c = catalog::Catalog::Open(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(c).value();
    catalog_->Start();
    SageMakerApiOptions opts;
    opts.online_store_size_bytes = [](const catalog::FeatureGroup& g) {
      return g.name == "sized" ? int64_t{4096} : int64_t{0};
    };
    auto api = SageMakerApi::Create(catalog_.get(), opts);
    ASSERT_TRUE(api.ok()) << api.status().ToString();
    api_ = std::move(api).value();
  }

  Reply Call(const std::string& op, const std::string& body) {
    HttpRequest req;
    req.method = "POST";
    req.target = "/";
    req.headers = {{"content-type", "application/x-amz-json-1.1"},
                   {"x-amz-target", "SageMaker." + op}};
    req.body = body;
    HttpResponse resp;
    api_->Handle(req, &resp);
    Reply r;
    r.status = resp.status;
    r.operation = resp.operation;
    r.content_type = resp.content_type;
    r.json.Parse(resp.body.c_str());
    EXPECT_FALSE(r.json.HasParseError()) << resp.body;
    if (resp.status != 200 && r.json.IsObject()) {
      r.code = r.json["__type"].GetString();
      r.message = r.json["message"].GetString();
    }
    return r;
  }

  // Calls and expects success.
  Reply Ok(const std::string& op, const std::string& body) {
    Reply r = Call(op, body);
    EXPECT_EQ(r.status, 200) << op << ": " << r.code << ": " << r.message;
    return r;
  }

  std::string CreateBody(const std::string& name, const std::string& extra = "") {
    return R"({"FeatureGroupName":")" + name +
           R"(","RecordIdentifierFeatureName":"customer_id","EventTimeFeatureName":"event_time",)"
           R"("FeatureDefinitions":[{"FeatureName":"customer_id","FeatureType":"String"},)"
           R"({"FeatureName":"event_time","FeatureType":"String"},)"
           R"({"FeatureName":"loyalty_score","FeatureType":"Fractional"}],)"
           R"("OnlineStoreConfig":{"EnableOnlineStore":true},)"
           R"("OfflineStoreConfig":{"S3StorageConfig":{"S3Uri":"s3://bucket/feature-store/"},)"
           R"("DisableGlueTableCreation":false},"RoleArn":")" +
           std::string(kRole) + R"(","Description":"customer features")" + extra + "}";
  }

  void CreateAndSettle(const std::string& name, const std::string& extra = "") {
    Ok("CreateFeatureGroup", CreateBody(name, extra));
    ASSERT_TRUE(catalog_->WaitForIdle(milliseconds(10000)));
  }

  std::string dir_;
  FakeClock clock_{1'700'000'000'500'000};
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<SageMakerApi> api_;
};

TEST_F(SageMakerApiTest, CreateDescribeShape) {
  Reply c = Ok("CreateFeatureGroup", CreateBody("customer-features"));
  EXPECT_EQ(c.operation, "CreateFeatureGroup");
  EXPECT_EQ(c.content_type, "application/x-amz-json-1.1");
  EXPECT_STREQ(c.json["FeatureGroupArn"].GetString(),
               "arn:aws:sagemaker:us-west-2:123456789012:feature-group/customer-features");
  ASSERT_TRUE(catalog_->WaitForIdle(milliseconds(10000)));

  Reply d = Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"customer-features"})");
  const auto& j = d.json;
  EXPECT_STREQ(j["FeatureGroupName"].GetString(), "customer-features");
  EXPECT_STREQ(j["FeatureGroupStatus"].GetString(), "Created");
  EXPECT_STREQ(j["RecordIdentifierFeatureName"].GetString(), "customer_id");
  ASSERT_EQ(j["FeatureDefinitions"].Size(), 3u);
  EXPECT_STREQ(j["FeatureDefinitions"][2]["FeatureType"].GetString(), "Fractional");
  EXPECT_FALSE(j["FeatureDefinitions"][2].HasMember("CollectionType"));
  EXPECT_TRUE(j["CreationTime"].IsNumber());
  EXPECT_DOUBLE_EQ(j["CreationTime"].GetDouble(), 1700000000.5);
  EXPECT_FALSE(j.HasMember("LastModifiedTime"));
  EXPECT_TRUE(j["OnlineStoreConfig"]["EnableOnlineStore"].GetBool());
  EXPECT_FALSE(j["OnlineStoreConfig"].HasMember("StorageType"));
  const auto& off = j["OfflineStoreConfig"];
  EXPECT_STREQ(off["S3StorageConfig"]["S3Uri"].GetString(), "s3://bucket/feature-store/");
  EXPECT_STREQ(off["S3StorageConfig"]["ResolvedOutputS3Uri"].GetString(),
               "s3://bucket/feature-store/123456789012/sagemaker/us-west-2/offline-store/"
               "customer-features-1700000000/data");
  EXPECT_FALSE(off["DisableGlueTableCreation"].GetBool());
  EXPECT_STREQ(off["DataCatalogConfig"]["Catalog"].GetString(), "AwsDataCatalog");
  EXPECT_STREQ(off["DataCatalogConfig"]["Database"].GetString(), "sagemaker_featurestore");
  EXPECT_STREQ(off["DataCatalogConfig"]["TableName"].GetString(), "customer-features_1700000000");
  EXPECT_FALSE(off.HasMember("TableFormat"));
  EXPECT_STREQ(j["ThroughputConfig"]["ThroughputMode"].GetString(), "OnDemand");
  EXPECT_STREQ(j["RoleArn"].GetString(), kRole);
  EXPECT_STREQ(j["OfflineStoreStatus"]["Status"].GetString(), "Active");
  EXPECT_STREQ(j["Description"].GetString(), "customer features");
  EXPECT_STREQ(j["NextToken"].GetString(), "");
  EXPECT_EQ(j["OnlineStoreTotalSizeBytes"].GetInt64(), 0);
  EXPECT_FALSE(j.HasMember("FailureReason"));
  EXPECT_FALSE(j.HasMember("LastUpdateStatus"));

  // Describe by ARN, and the size callback.
  Ok("DescribeFeatureGroup",
     R"({"FeatureGroupName":"arn:aws:sagemaker:us-west-2:123456789012:feature-group/customer-features"})");
  CreateAndSettle("sized");
  EXPECT_EQ(Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"sized"})")
                .json["OnlineStoreTotalSizeBytes"]
                .GetInt64(),
            4096);
}

TEST_F(SageMakerApiTest, CreateErrors) {
  CreateAndSettle("taken");
  Reply r = Call("CreateFeatureGroup", CreateBody("taken"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "ResourceInUse");
  EXPECT_EQ(r.message,
            "Resource Already Exists: FeatureGroup with name taken already exists. Choose a "
            "different name.");

  r = Call("CreateFeatureGroup", CreateBody("bad_name-"));
  EXPECT_EQ(r.code, "ValidationException");
  EXPECT_NE(r.message.find("Value 'bad_name-' at 'featureGroupName'"), std::string::npos);

  r = Call(
      "CreateFeatureGroup",
      R"({"FeatureGroupName":"x","RecordIdentifierFeatureName":"id",)"
      R"("EventTimeFeatureName":"ts","FeatureDefinitions":[)"
      R"({"FeatureName":"id","FeatureType":"String"},{"FeatureName":"ts","FeatureType":"String"},)"
      R"({"FeatureName":"is_deleted","FeatureType":"String"}],)"
      R"("OnlineStoreConfig":{"EnableOnlineStore":true}})");
  EXPECT_EQ(r.code, "ValidationException");
  EXPECT_NE(r.message.find("'is_deleted'"), std::string::npos);

  r = Call(
      "CreateFeatureGroup",
      R"({"FeatureGroupName":"x","RecordIdentifierFeatureName":"id",)"
      R"("EventTimeFeatureName":"ts","FeatureDefinitions":[)"
      R"({"FeatureName":"id","FeatureType":"String"},{"FeatureName":"ts","FeatureType":"String"}]})");
  EXPECT_EQ(r.code, "ValidationException");
  EXPECT_NE(r.message.find("OfflineStoreConfig"), std::string::npos);

  r = Call("CreateFeatureGroup",
           CreateBody("ttl", R"(,"Tags":[{"Key":"a","Value":"1"}])")
               .replace(CreateBody("ttl").find(R"({"EnableOnlineStore":true})"),
                        std::string(R"({"EnableOnlineStore":true})").size(),
                        R"({"EnableOnlineStore":true,"TtlDuration":{"Unit":"Days"}})"));
  EXPECT_EQ(r.code, "ValidationException");
  EXPECT_NE(r.message.find("Unit 'Days'"), std::string::npos);
}

TEST_F(SageMakerApiTest, ProtocolErrors) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/";
  req.headers = {{"x-amz-target", "SageMaker.CreateTrainingJob"}};
  HttpResponse resp;
  api_->Handle(req, &resp);
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("UnknownOperationException"), std::string::npos);
  EXPECT_NE(resp.body.find("CreateTrainingJob"), std::string::npos);

  req.headers = {{"x-amz-target", "SageMaker.ListFeatureGroups"}};
  req.body = "{not json";
  resp = HttpResponse();
  api_->Handle(req, &resp);
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("SerializationException"), std::string::npos);
  EXPECT_EQ(resp.operation, "ListFeatureGroups");

  req.body = "";  // an empty body is an empty input
  resp = HttpResponse();
  api_->Handle(req, &resp);
  EXPECT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(resp.body, R"({"FeatureGroupSummaries":[]})");
}

TEST_F(SageMakerApiTest, DescribeAndDeleteNotFound) {
  Reply r = Call("DescribeFeatureGroup", R"({"FeatureGroupName":"ghost"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code, "ResourceNotFound");
  EXPECT_EQ(r.message,
            "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name ghost");
  r = Call("DeleteFeatureGroup", R"({"FeatureGroupName":"ghost"})");
  EXPECT_EQ(r.code, "ResourceNotFound");
  CreateAndSettle("real");
  r = Call("DeleteFeatureGroup",
           R"({"FeatureGroupName":"arn:aws:sagemaker:us-west-2:123456789012:feature-group/real"})");
  EXPECT_EQ(r.code, "ValidationException");  // names only
  Ok("DeleteFeatureGroup", R"({"FeatureGroupName":"real"})");
  ASSERT_TRUE(catalog_->WaitForIdle(milliseconds(10000)));
  EXPECT_EQ(Call("DescribeFeatureGroup", R"({"FeatureGroupName":"real"})").code,
            "ResourceNotFound");
}

TEST_F(SageMakerApiTest, ListFeatureGroups) {
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMicros(1'000'000);
    CreateAndSettle("fg-" + std::to_string(i));
  }
  Reply r = Ok("ListFeatureGroups", R"({"SortBy":"CreationTime","SortOrder":"Descending"})");
  const auto& s = r.json["FeatureGroupSummaries"];
  ASSERT_EQ(s.Size(), 5u);
  EXPECT_STREQ(s[0]["FeatureGroupName"].GetString(), "fg-4");
  EXPECT_STREQ(s[0]["FeatureGroupStatus"].GetString(), "Created");
  EXPECT_STREQ(s[0]["OfflineStoreStatus"]["Status"].GetString(), "Active");
  EXPECT_TRUE(s[0]["CreationTime"].IsNumber());
  EXPECT_FALSE(r.json.HasMember("NextToken"));

  std::vector<std::string> names;
  std::string token;
  do {
    std::string body = R"({"SortBy":"Name","SortOrder":"Ascending","MaxResults":2)";
    if (!token.empty()) body += R"(,"NextToken":")" + token + "\"";
    Reply page = Ok("ListFeatureGroups", body + "}");
    for (const auto& g : page.json["FeatureGroupSummaries"].GetArray()) {
      names.push_back(g["FeatureGroupName"].GetString());
    }
    token = page.json.HasMember("NextToken") ? page.json["NextToken"].GetString() : "";
  } while (!token.empty());
  EXPECT_EQ(names, (std::vector<std::string>{"fg-0", "fg-1", "fg-2", "fg-3", "fg-4"}));

  r = Ok("ListFeatureGroups", R"({"NameContains":"FG-3"})");
  EXPECT_EQ(r.json["FeatureGroupSummaries"].Size(), 1u);
  r = Ok("ListFeatureGroups", R"({"CreationTimeAfter":1700000002.5,"CreationTimeBefore":)"
                              R"("2023-11-14T22:13:25Z"})");  // (…02.5, …05): fg-2, fg-3
  EXPECT_EQ(r.json["FeatureGroupSummaries"].Size(), 2u);
  r = Ok("ListFeatureGroups", R"({"FeatureGroupStatusEquals":"Creating"})");
  EXPECT_EQ(r.json["FeatureGroupSummaries"].Size(), 0u);
  r = Ok("ListFeatureGroups", R"({"OfflineStoreStatusEquals":"Active"})");
  EXPECT_EQ(r.json["FeatureGroupSummaries"].Size(), 5u);
  Reply bad = Call("ListFeatureGroups", R"({"NextToken":"zz"})");
  EXPECT_EQ(bad.code, "ValidationException");
  EXPECT_NE(bad.message.find("'zz'"), std::string::npos);
  bad = Call("ListFeatureGroups", R"({"CreationTimeAfter":"last tuesday"})");
  EXPECT_EQ(bad.code, "ValidationException");
  EXPECT_NE(bad.message.find("'last tuesday'"), std::string::npos);
}

TEST_F(SageMakerApiTest, UpdateFeatureGroup) {
  CreateAndSettle("fg");
  clock_.AdvanceMicros(2'000'000);
  Reply r = Ok("UpdateFeatureGroup",
               R"({"FeatureGroupName":"fg","FeatureAdditions":[{"FeatureName":"new_f",)"
               R"("FeatureType":"Integral"}]})");
  EXPECT_STREQ(r.json["FeatureGroupArn"].GetString(),
               "arn:aws:sagemaker:us-west-2:123456789012:feature-group/fg");
  Reply d = Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"fg"})");
  EXPECT_EQ(d.json["FeatureDefinitions"].Size(), 4u);
  EXPECT_DOUBLE_EQ(d.json["LastModifiedTime"].GetDouble(), 1700000002.5);
  EXPECT_STREQ(d.json["LastUpdateStatus"]["Status"].GetString(), "Successful");

  Ok("UpdateFeatureGroup",
     R"({"FeatureGroupName":"fg","OnlineStoreConfig":{"TtlDuration":{"Unit":"Hours","Value":5}}})");
  d = Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"fg"})");
  EXPECT_STREQ(d.json["OnlineStoreConfig"]["TtlDuration"]["Unit"].GetString(), "Hours");
  EXPECT_EQ(d.json["OnlineStoreConfig"]["TtlDuration"]["Value"].GetInt(), 5);
  Ok("UpdateFeatureGroup", R"({"FeatureGroupName":"fg","OnlineStoreConfig":{"TtlDuration":{}}})");
  d = Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"fg"})");
  EXPECT_FALSE(d.json["OnlineStoreConfig"].HasMember("TtlDuration"));

  Ok("UpdateFeatureGroup",
     R"({"FeatureGroupName":"fg","ThroughputConfig":{"ThroughputMode":"Provisioned",)"
     R"("ProvisionedReadCapacityUnits":10,"ProvisionedWriteCapacityUnits":20}})");
  d = Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"fg"})");
  EXPECT_STREQ(d.json["ThroughputConfig"]["ThroughputMode"].GetString(), "Provisioned");
  EXPECT_EQ(d.json["ThroughputConfig"]["ProvisionedWriteCapacityUnits"].GetInt(), 20);

  Reply e = Call("UpdateFeatureGroup", R"({"FeatureGroupName":"fg"})");
  EXPECT_EQ(e.code, "ValidationException");
  e = Call("UpdateFeatureGroup",
           R"({"FeatureGroupName":"fg","OnlineStoreConfig":{"TtlDuration":{}},)"
           R"("ThroughputConfig":{"ThroughputMode":"OnDemand"}})");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("OnlineStoreConfig and ThroughputConfig"), std::string::npos);
  e = Call("UpdateFeatureGroup",
           R"({"FeatureGroupName":"fg","FeatureAdditions":[{"FeatureName":"customer_id",)"
           R"("FeatureType":"String"}]})");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("'customer_id'"), std::string::npos);
  e = Call("UpdateFeatureGroup",
           R"({"FeatureGroupName":"ghost","FeatureAdditions":[{"FeatureName":"a",)"
           R"("FeatureType":"String"}]})");
  EXPECT_EQ(e.code, "ResourceNotFound");
  e = Call("UpdateFeatureGroup",
           R"({"FeatureGroupName":"fg","ThroughputConfig":{"ThroughputMode":"Provisioned",)"
           R"("ProvisionedReadCapacityUnits":50000,"ProvisionedWriteCapacityUnits":1}})");
  EXPECT_EQ(e.code, "ResourceLimitExceeded");
  EXPECT_NE(e.message.find("50000"), std::string::npos);
}

TEST_F(SageMakerApiTest, FeatureMetadata) {
  CreateAndSettle("fg");
  Reply m =
      Ok("DescribeFeatureMetadata", R"({"FeatureGroupName":"fg","FeatureName":"loyalty_score"})");
  EXPECT_STREQ(m.json["FeatureType"].GetString(), "Fractional");
  EXPECT_STREQ(m.json["FeatureGroupName"].GetString(), "fg");
  EXPECT_DOUBLE_EQ(m.json["CreationTime"].GetDouble(), 1700000000.5);
  EXPECT_DOUBLE_EQ(m.json["LastModifiedTime"].GetDouble(), 1700000000.5);
  EXPECT_FALSE(m.json.HasMember("Parameters"));

  clock_.AdvanceMicros(3'000'000);
  Ok("UpdateFeatureMetadata",
     R"({"FeatureGroupName":"fg","FeatureName":"loyalty_score","Description":"score",)"
     R"("ParameterAdditions":[{"Key":"owner","Value":"crm team"}],"ParameterRemovals":[]})");
  m = Ok("DescribeFeatureMetadata", R"({"FeatureGroupName":"fg","FeatureName":"loyalty_score"})");
  EXPECT_STREQ(m.json["Description"].GetString(), "score");
  ASSERT_EQ(m.json["Parameters"].Size(), 1u);
  EXPECT_STREQ(m.json["Parameters"][0]["Value"].GetString(), "crm team");
  EXPECT_DOUBLE_EQ(m.json["LastModifiedTime"].GetDouble(), 1700000003.5);
  // What the SDK sends: empty lists.
  Ok("UpdateFeatureMetadata",
     R"({"FeatureGroupName":"fg","FeatureName":"loyalty_score","ParameterAdditions":[],)"
     R"("ParameterRemovals":[]})");

  Reply e = Call("DescribeFeatureMetadata", R"({"FeatureGroupName":"fg","FeatureName":"nope"})");
  EXPECT_EQ(e.code, "ResourceNotFound");
  EXPECT_NE(e.message.find("nope"), std::string::npos);
  e = Call("UpdateFeatureMetadata", R"({"FeatureGroupName":"fg","FeatureName":"loyalty_score",)"
                                    R"("ParameterAdditions":[{"Key":"k"}]})");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("Key 'k'"), std::string::npos);
}

TEST_F(SageMakerApiTest, Search) {
  CreateAndSettle("alpha", R"(,"Tags":[{"Key":"team","Value":"ml"}])");
  clock_.AdvanceMicros(1'000'000);
  CreateAndSettle("beta");
  Reply r = Ok("Search",
               R"({"Resource":"FeatureGroup","SearchExpression":{"Filters":[{"Name":"Tags.team",)"
               R"("Operator":"Equals","Value":"ml"}]}})");
  ASSERT_EQ(r.json["Results"].Size(), 1u);
  const auto& fg = r.json["Results"][0]["FeatureGroup"];
  EXPECT_STREQ(fg["FeatureGroupName"].GetString(), "alpha");
  EXPECT_STREQ(fg["Tags"][0]["Key"].GetString(), "team");
  EXPECT_FALSE(fg.HasMember("ThroughputConfig"));
  EXPECT_FALSE(fg.HasMember("NextToken"));
  EXPECT_STREQ(fg["OfflineStoreStatus"]["Status"].GetString(), "Active");
  EXPECT_EQ(r.json["TotalHits"]["Value"].GetInt(), 1);
  EXPECT_STREQ(r.json["TotalHits"]["Relation"].GetString(), "EqualTo");

  // Default order: LastModifiedTime (here creation time) descending; paging.
  r = Ok("Search", R"({"Resource":"FeatureGroup","MaxResults":1})");
  EXPECT_STREQ(r.json["Results"][0]["FeatureGroup"]["FeatureGroupName"].GetString(), "beta");
  ASSERT_TRUE(r.json.HasMember("NextToken"));
  std::string token = r.json["NextToken"].GetString();
  r = Ok("Search", R"({"Resource":"FeatureGroup","MaxResults":1,"NextToken":")" + token + "\"}");
  EXPECT_STREQ(r.json["Results"][0]["FeatureGroup"]["FeatureGroupName"].GetString(), "alpha");
  EXPECT_FALSE(r.json.HasMember("NextToken"));

  r = Ok("Search",
         R"({"Resource":"FeatureMetadata","SearchExpression":{"Operator":"Or","Filters":[)"
         R"({"Name":"FeatureName","Value":"loyalty_score"},)"
         R"({"Name":"FeatureType","Operator":"Equals","Value":"Integral"}]},)"
         R"("SortBy":"FeatureGroupName","SortOrder":"Ascending"})");
  ASSERT_EQ(r.json["Results"].Size(), 2u);
  EXPECT_STREQ(r.json["Results"][0]["FeatureMetadata"]["FeatureGroupName"].GetString(), "alpha");
  EXPECT_STREQ(r.json["Results"][0]["FeatureMetadata"]["FeatureName"].GetString(), "loyalty_score");

  r = Ok("Search",
         R"({"Resource":"FeatureGroup","SearchExpression":{"NestedFilters":[{)"
         R"("NestedPropertyName":"FeatureDefinitions","Filters":[{"Name":)"
         R"("FeatureDefinitions.FeatureName","Operator":"Equals","Value":"loyalty_score"}]}],)"
         R"("SubExpressions":[{"Filters":[{"Name":"FeatureGroupName","Operator":"Contains",)"
         R"("Value":"et"}]}]}})");
  ASSERT_EQ(r.json["Results"].Size(), 1u);
  EXPECT_STREQ(r.json["Results"][0]["FeatureGroup"]["FeatureGroupName"].GetString(), "beta");

  Reply e = Call("Search", R"({"Resource":"FeatureGroup","SearchExpression":{"Filters":[{"Name":)"
                           R"("CreationTime","Operator":"GreaterThan","Value":"soon"}]}})");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("'soon'"), std::string::npos);
  e = Call("Search", R"({"Resource":"TrainingJob"})");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("Value 'TrainingJob' at 'resource'"), std::string::npos);
  std::string deep = R"({"Filters":[{"Name":"FeatureGroupName","Value":"x"}]})";
  for (int i = 0; i < 12; ++i) deep = R"({"SubExpressions":[)" + deep + "]}";
  e = Call("Search", R"({"Resource":"FeatureGroup","SearchExpression":)" + deep + "}");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("levels deep"), std::string::npos);
}

TEST_F(SageMakerApiTest, Tags) {
  CreateAndSettle("fg", R"(,"Tags":[{"Key":"team","Value":"ml"}])");
  std::string arn = "arn:aws:sagemaker:us-west-2:123456789012:feature-group/fg";
  Reply r = Ok("ListTags", R"({"ResourceArn":")" + arn + "\"}");
  ASSERT_EQ(r.json["Tags"].Size(), 1u);
  r = Ok("AddTags", R"({"ResourceArn":")" + arn + R"(","Tags":[{"Key":"env","Value":"dev"}]})");
  EXPECT_STREQ(r.json["Tags"][0]["Key"].GetString(), "env");
  r = Ok("ListTags", R"({"ResourceArn":")" + arn + "\"}");
  EXPECT_EQ(r.json["Tags"].Size(), 2u);
  EXPECT_FALSE(r.json.HasMember("NextToken"));
  Ok("DeleteTags", R"({"ResourceArn":")" + arn + R"(","TagKeys":["team"]})");
  r = Ok("ListTags", R"({"ResourceArn":")" + arn + "\"}");
  ASSERT_EQ(r.json["Tags"].Size(), 1u);
  EXPECT_STREQ(r.json["Tags"][0]["Value"].GetString(), "dev");

  Reply e = Call("ListTags",
                 R"({"ResourceArn":"arn:aws:sagemaker:us-west-2:123456789012:feature-group/no"})");
  EXPECT_EQ(e.code, "ResourceNotFound");
  e = Call("AddTags", R"({"ResourceArn":"not-an-arn","Tags":[]})");
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_NE(e.message.find("'not-an-arn'"), std::string::npos);
}

TEST_F(SageMakerApiTest, PersistsAcrossReopen) {
  CreateAndSettle("durable");
  OpenCatalog();
  Reply d = Ok("DescribeFeatureGroup", R"({"FeatureGroupName":"durable"})");
  EXPECT_STREQ(d.json["FeatureGroupStatus"].GetString(), "Created");
}

}  // namespace
}  // namespace larder::server
