#include "server/http_types.h"

#include <gtest/gtest.h>

namespace larder::server {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(HttpTypesTest, PathQueryAndHeaderLookup) {
  HttpRequest req;
  req.target = "/FeatureGroup/arn%3Aaws%3Asagemaker?RecordIdentifierValueAsString=a%20b";
  req.headers = {{"host", "h"}, {"x-amz-target", "SageMaker.ListFeatureGroups"}, {"host", "h2"}};
  EXPECT_EQ(req.path(), "/FeatureGroup/arn%3Aaws%3Asagemaker");
  EXPECT_EQ(req.query(), "RecordIdentifierValueAsString=a%20b");
  ASSERT_NE(req.Header("host"), nullptr);
  EXPECT_EQ(*req.Header("host"), "h");  // the first of repeated headers
  EXPECT_EQ(req.Header("authorization"), nullptr);

  HttpRequest bare;
  bare.target = "/BatchGetRecord";
  EXPECT_EQ(bare.path(), "/BatchGetRecord");
  EXPECT_EQ(bare.query(), "");
}

TEST(HttpTypesTest, PercentDecode) {
  std::string out;
  ASSERT_TRUE(
      PercentDecode("arn%3Aaws%3Asagemaker%3Aus-east-1%3A123456789012%3Afeature-group%2Ffg", &out));
  EXPECT_EQ(out, "arn:aws:sagemaker:us-east-1:123456789012:feature-group/fg");
  ASSERT_TRUE(PercentDecode("a%20b+c%2bd%C3%A9", &out));
  EXPECT_EQ(out, "a b+c+d\xC3\xA9");  // '+' stays '+'; lower-case hex accepted
  ASSERT_TRUE(PercentDecode("", &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(PercentDecode("%", &out));
  EXPECT_FALSE(PercentDecode("abc%4", &out));
  EXPECT_FALSE(PercentDecode("%zz", &out));
  EXPECT_FALSE(PercentDecode("%4g", &out));
}

TEST(HttpTypesTest, ParseQueryKeepsOrderAndRepeats) {
  Pairs out;
  ASSERT_TRUE(ParseQuery(
      "RecordIdentifierValueAsString=a%20b%2Fc&FeatureName=x&FeatureName=y&Flag&&Empty=", &out));
  EXPECT_EQ(out, (Pairs{{"RecordIdentifierValueAsString", "a b/c"},
                        {"FeatureName", "x"},
                        {"FeatureName", "y"},
                        {"Flag", ""},
                        {"Empty", ""}}));
  ASSERT_TRUE(ParseQuery("", &out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(ParseQuery("a=%ZZ", &out));
  EXPECT_FALSE(ParseQuery("%=1", &out));
}

}  // namespace
}  // namespace larder::server
