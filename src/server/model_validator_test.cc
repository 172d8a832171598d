#include "server/model_validator.h"

#include <gtest/gtest.h>

#include "server/service_models.h"

namespace larder::server {
namespace {

class SageMakerModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = ServiceModel::Parse(SageMakerModelJson());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(m).value().release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }

  // Validates `json` as the input of `op`.
  static Status Check(std::string_view op, std::string_view json) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return model_->ValidateInput(op, doc);
  }

  static std::string CreateWith(std::string_view members) {
    std::string base = R"({"RecordIdentifierFeatureName":"id","EventTimeFeatureName":"ts",)"
                       R"("FeatureDefinitions":[{"FeatureName":"id","FeatureType":"String"},)"
                       R"({"FeatureName":"ts","FeatureType":"Fractional"}])";
    if (members.find("\"FeatureGroupName\"") == std::string_view::npos) {
      base += R"(,"FeatureGroupName":"fg")";
    }
    if (!members.empty()) {
      base += ",";
      base += members;
    }
    return base + "}";
  }

  static ServiceModel* model_;
};
ServiceModel* SageMakerModelTest::model_ = nullptr;

TEST_F(SageMakerModelTest, KnowsTheOperations) {
  EXPECT_EQ(model_->target_prefix(), "SageMaker");
  EXPECT_TRUE(model_->HasOperation("CreateFeatureGroup"));
  EXPECT_TRUE(model_->HasOperation("Search"));
  EXPECT_FALSE(model_->HasOperation("CreateTrainingJob"));
  EXPECT_EQ(model_->OperationNames().size(), 11u);
  EXPECT_EQ(Check("Nope", "{}").code(), StatusCode::kNotFound);
}

TEST_F(SageMakerModelTest, AcceptsGoodRequests) {
  EXPECT_TRUE(Check("CreateFeatureGroup", CreateWith("")).ok());
  EXPECT_TRUE(Check("CreateFeatureGroup",
                    CreateWith(R"("FeatureGroupName":"customer-features_2",)"
                               R"("OnlineStoreConfig":{"EnableOnlineStore":true,)"
                               R"("TtlDuration":{"Unit":"Days","Value":3}},)"
                               R"("OfflineStoreConfig":{"S3StorageConfig":{"S3Uri":"s3://b/p/"},)"
                               R"("DataCatalogConfig":{"TableName":"t\u00e9","Catalog":"c",)"
                               R"("Database":"d\ud83d\ude00"}},)"
                               R"("RoleArn":"arn:aws:iam::123456789012:role/service-role/R",)"
                               R"("Tags":[{"Key":"caf\u00e9 team","Value":""}],)"
                               R"("Description":"x","UnknownMember":[1,2,3])"))
                  .ok());
  EXPECT_TRUE(Check("DescribeFeatureGroup",
                    R"({"FeatureGroupName":"arn:aws:sagemaker:us-east-1:123456789012:)"
                    R"(feature-group/fg"})")
                  .ok());
  EXPECT_TRUE(Check("UpdateFeatureGroup",
                    R"({"FeatureGroupName":"fg","OnlineStoreConfig":{"TtlDuration":{}}})")
                  .ok());
  EXPECT_TRUE(Check("UpdateFeatureMetadata",
                    R"({"FeatureGroupName":"fg","FeatureName":"f","ParameterAdditions":[],)"
                    R"("ParameterRemovals":[]})")
                  .ok());
  EXPECT_TRUE(
      Check("ListFeatureGroups", R"({"CreationTimeAfter":1704067200.5,"MaxResults":100})").ok());
  EXPECT_TRUE(Check("ListFeatureGroups", R"({"CreationTimeAfter":"2024-01-01T00:00:00Z"})").ok());
  EXPECT_TRUE(Check("Search", R"({"Resource":"FeatureGroup","SearchExpression":{"SubExpressions":[)"
                              R"({"Filters":[{"Name":"FeatureGroupName","Operator":"Contains",)"
                              R"("Value":"cust"}]}],"Operator":"Or"}})")
                  .ok());
  EXPECT_TRUE(Check("ListFeatureGroups", "{}").ok());
}

TEST_F(SageMakerModelTest, PatternViolationInAwsWording) {
  Status s = Check("CreateFeatureGroup", CreateWith(R"("FeatureGroupName":"bad name!")"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "1 validation error detected: Value 'bad name!' at 'featureGroupName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "[a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}");
  // The whole value must match, not a substring.
  EXPECT_FALSE(Check("CreateFeatureGroup", CreateWith(R"("FeatureGroupName":"ok-")")).ok());
  EXPECT_FALSE(Check("CreateFeatureGroup", CreateWith(R"("FeatureGroupName":"-ok")")).ok());
  EXPECT_FALSE(Check("DeleteFeatureGroup",
                     R"({"FeatureGroupName":"arn:aws:sagemaker:us-east-1:123456789012:)"
                     R"(feature-group/fg"})")
                   .ok());
}

TEST_F(SageMakerModelTest, LengthsCountCharactersNotBytes) {
  std::string name(64, 'a');
  EXPECT_TRUE(
      Check("CreateFeatureGroup", CreateWith(R"("FeatureGroupName":")" + name + "\"")).ok());
  Status s = Check("CreateFeatureGroup", CreateWith(R"("FeatureGroupName":")" + name + "a\""));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Member must have length less than or equal to 64"),
            std::string::npos);
  // 128 two-byte characters fit in Description (max 128 characters) though they are 256 bytes.
  std::string desc;
  for (int i = 0; i < 128; ++i) desc += "\xc3\xa9";
  EXPECT_TRUE(Check("CreateFeatureGroup", CreateWith(R"("Description":")" + desc + "\"")).ok());
  EXPECT_FALSE(
      Check("CreateFeatureGroup", CreateWith(R"("Description":")" + desc + "\xc3\xa9\"")).ok());
  s = Check("DescribeFeatureGroup", R"({"FeatureGroupName":""})");
  ASSERT_FALSE(s.ok());
  // Several violations of one member are all reported.
  EXPECT_EQ(s.message().rfind("2 validation errors detected: Value '' at 'featureGroupName' "
                              "failed to satisfy constraint: Member must have length greater "
                              "than or equal to 1; ",
                              0),
            0u)
      << s.message();
}

TEST_F(SageMakerModelTest, EnumsRangesAndListPaths) {
  Status s =
      Check("CreateFeatureGroup", R"({"FeatureGroupName":"fg","RecordIdentifierFeatureName":"id",)"
                                  R"("EventTimeFeatureName":"ts","FeatureDefinitions":[)"
                                  R"({"FeatureName":"id","FeatureType":"String"},)"
                                  R"({"FeatureName":"bad name","FeatureType":"Boolean"}]})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "2 validation errors detected: Value 'bad name' at "
            "'featureDefinitions.2.member.featureName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}; Value "
            "'Boolean' at 'featureDefinitions.2.member.featureType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Integral, Fractional, String]");
  s = Check("ListFeatureGroups", R"({"MaxResults":101})");
  EXPECT_EQ(s.message(),
            "1 validation error detected: Value '101' at 'maxResults' failed to satisfy "
            "constraint: Member must have value less than or equal to 100");
  s = Check("ListFeatureGroups", R"({"MaxResults":0,"SortOrder":"Up"})");
  EXPECT_NE(s.message().find("Member must have value greater than or equal to 1"),
            std::string::npos);
  EXPECT_NE(s.message().find("Member must satisfy enum value set: [Ascending, Descending]"),
            std::string::npos);
  s = Check("CreateFeatureGroup",
            CreateWith(R"("OnlineStoreConfig":{"TtlDuration":{"Unit":"Days","Value":0}})"));
  EXPECT_NE(s.message().find("at 'onlineStoreConfig.ttlDuration.value'"), std::string::npos);
  s = Check("CreateFeatureGroup",
            CreateWith(R"("OfflineStoreConfig":{"S3StorageConfig":{"S3Uri":"ftp://x"}})"));
  EXPECT_NE(s.message().find("Value 'ftp://x' at 'offlineStoreConfig.s3StorageConfig.s3Uri'"),
            std::string::npos);
  std::string tags = R"("Tags":[)";
  for (int i = 0; i < 51; ++i) tags += std::string(i ? "," : "") + R"({"Key":"k","Value":"v"})";
  s = Check("CreateFeatureGroup", CreateWith(tags + "]"));
  EXPECT_NE(s.message().find("at 'tags' failed to satisfy constraint: Member must have length "
                             "less than or equal to 50"),
            std::string::npos);
  s = Check("CreateFeatureGroup", CreateWith(R"("Tags":[{"Key":"a<b","Value":"v"}])"));
  EXPECT_NE(s.message().find("Value 'a<b' at 'tags.1.member.key'"), std::string::npos);
}

TEST_F(SageMakerModelTest, RequiredMembersTypesAndUnions) {
  Status s = Check("CreateFeatureGroup", R"({"FeatureGroupName":"fg"})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "3 validation errors detected: Value null at 'recordIdentifierFeatureName' failed to "
            "satisfy constraint: Member must not be null; Value null at 'eventTimeFeatureName' "
            "failed to satisfy constraint: Member must not be null; Value null at "
            "'featureDefinitions' failed to satisfy constraint: Member must not be null");
  s = Check("DescribeFeatureGroup", R"({"FeatureGroupName":7})");
  EXPECT_NE(s.message().find("Value '7' at 'featureGroupName' failed to satisfy constraint: "
                             "Member must be a string"),
            std::string::npos);
  s = Check("ListFeatureGroups", R"({"MaxResults":1.5})");
  EXPECT_NE(s.message().find("Member must be an integer"), std::string::npos);
  s = Check("CreateFeatureGroup", CreateWith(R"("OnlineStoreConfig":{"EnableOnlineStore":"yes"})"));
  EXPECT_NE(s.message().find("Member must be a boolean"), std::string::npos);
  s = Check("CreateFeatureGroup",
            R"({"FeatureGroupName":"fg","RecordIdentifierFeatureName":"id",)"
            R"("EventTimeFeatureName":"ts","FeatureDefinitions":[{"FeatureName":"v",)"
            R"("FeatureType":"Fractional","CollectionType":"Vector","CollectionConfig":{}}]})");
  EXPECT_NE(s.message().find("'featureDefinitions.1.member.collectionConfig'"), std::string::npos);
  EXPECT_NE(s.message().find("exactly one member"), std::string::npos);
  s = Check("CreateFeatureGroup",
            R"({"FeatureGroupName":"fg","RecordIdentifierFeatureName":"id",)"
            R"("EventTimeFeatureName":"ts","FeatureDefinitions":[{"FeatureName":"v",)"
            R"("FeatureType":"Fractional","CollectionType":"Vector",)"
            R"("CollectionConfig":{"VectorConfig":{"Dimension":8193}}}]})");
  EXPECT_NE(s.message().find("featureDefinitions.1.member.collectionConfig.vectorConfig."
                             "dimension"),
            std::string::npos);
  // JSON null counts as absent.
  EXPECT_EQ(Check("DescribeFeatureGroup", R"({"FeatureGroupName":null})").message(),
            "1 validation error detected: Value null at 'featureGroupName' failed to satisfy "
            "constraint: Member must not be null");
  rapidjson::Document arr;
  arr.Parse("[1]");
  EXPECT_FALSE(model_->ValidateInput("ListFeatureGroups", arr).ok());
}

TEST_F(SageMakerModelTest, UnicodePatternsUseJavaSemantics) {
  // \p{L} etc. match non-ASCII letters; the DataCatalogConfig pattern allows astral characters
  // through its surrogate-pair range and rejects control characters.
  EXPECT_TRUE(Check("AddTags",
                    R"({"ResourceArn":"arn:aws:sagemaker:us-east-1:123456789012:feature-group/x",)"
                    R"("Tags":[{"Key":"\u65e5\u672c","Value":"\u00fc ber"}]})")
                  .ok());
  EXPECT_FALSE(Check("CreateFeatureGroup",
                     CreateWith(R"("OfflineStoreConfig":{"S3StorageConfig":{"S3Uri":"s3://b"},)"
                                R"("DataCatalogConfig":{"TableName":"a\u0001","Catalog":"c",)"
                                R"("Database":"d"}})"))
                   .ok());
  EXPECT_FALSE(Check("CreateFeatureGroup",
                     CreateWith(R"("RoleArn":"arn:aws:iam::\u0661\u0662\u0663456789012:role/R")"))
                   .ok());  // Arabic-Indic digits are not Java \d
}

TEST(TranslateJavaPatternTest, Escapes) {
  EXPECT_EQ(TranslateJavaPattern(R"([\u0020-\uD7FF\uD800\uDC00-\uDBFF\uDFFF\t]*)"),
            R"([\x{20}-\x{d7ff}\x{10000}-\x{10ffff}\t]*)");
  EXPECT_EQ(TranslateJavaPattern(R"(\d{12}[\d-]\w\s\S)"),
            R"([0-9]{12}[0-9-][a-zA-Z_0-9][ \t\n\x0B\f\r][^ \t\n\x0B\f\r])");
  EXPECT_EQ(TranslateJavaPattern(R"(a\-b\/\p{L})"), R"(a\-b\/\p{L})");
}

TEST(ServiceModelTest, EveryEmbeddedModelCompiles) {
  for (std::string_view json :
       {SageMakerModelJson(), FeatureStoreRuntimeModelJson(), AthenaModelJson()}) {
    auto m = ServiceModel::Parse(json);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_FALSE((*m)->OperationNames().empty());
  }
  EXPECT_FALSE(ServiceModel::Parse("{").ok());
  auto dangling = ServiceModel::Parse(
      R"({"operations":{"Op":{"input":{"shape":"In"}}},"shapes":{"In":{"type":"structure",)"
      R"("members":{"A":{"shape":"Missing"}}}}})");
  ASSERT_FALSE(dangling.ok());
  EXPECT_NE(dangling.status().message().find("'Missing'"), std::string::npos);
  auto bad_regex =
      ServiceModel::Parse(R"({"operations":{},"shapes":{"S":{"type":"string","pattern":"(("}}})");
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_NE(bad_regex.status().message().find("'(('"), std::string::npos);
}

TEST(ServiceModelTest, RuntimeModelPathsAndShapes) {
  auto m = ServiceModel::Parse(FeatureStoreRuntimeModelJson());
  ASSERT_TRUE(m.ok());
  rapidjson::Document doc;
  doc.Parse(R"({"FeatureGroupName":"fg","Record":[{"FeatureName":"bad name",)"
            R"("ValueAsString":"x"}]})");
  Status s = (*m)->ValidateInput("PutRecord", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("at 'record.1.member.featureName'"), std::string::npos) << s.message();
  EXPECT_EQ((*m)->ValidateShape("NoSuchShape", doc, "").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace larder::server
