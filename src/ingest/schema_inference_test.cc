#include "ingest/schema_inference.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace larder::ingest {
namespace {

using catalog::CollectionType;
using catalog::FeatureType;
using offline::Column;
using offline::DataType;
using offline::TypeKind;

Column Col(std::string name, TypeKind kind) { return {std::move(name), DataType::Scalar(kind)}; }

InferenceOptions Opts() {
  InferenceOptions o;
  o.record_identifier = "customer_id";
  o.event_time = "event_time";
  return o;
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("larder-infer-" + std::to_string(::getpid()) + "-" +
             std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name, const std::string& content) const {
    std::string p = (path_ / name).string();
    std::ofstream(p) << content;
    return p;
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

TEST(InferFeatureTest, FollowsTheSdkForNumbersAndText) {
  const InferenceOptions o = Opts();
  struct Case {
    TypeKind kind;
    FeatureType want;
    bool note;
  } cases[] = {
      {TypeKind::kTinyInt, FeatureType::kIntegral, false},
      {TypeKind::kBigInt, FeatureType::kIntegral, false},
      {TypeKind::kUInteger, FeatureType::kIntegral, false},
      {TypeKind::kUBigInt, FeatureType::kIntegral, true},
      {TypeKind::kHugeInt, FeatureType::kIntegral, true},
      {TypeKind::kFloat, FeatureType::kFractional, false},
      {TypeKind::kDouble, FeatureType::kFractional, false},
      {TypeKind::kDecimal, FeatureType::kFractional, false},
      {TypeKind::kVarchar, FeatureType::kString, false},
      {TypeKind::kUuid, FeatureType::kString, false},
      {TypeKind::kBoolean, FeatureType::kString, true},
      {TypeKind::kDate, FeatureType::kString, true},
      {TypeKind::kTimestamp, FeatureType::kString, true},
      {TypeKind::kTimestampTz, FeatureType::kString, true},
      {TypeKind::kTime, FeatureType::kString, true},
      {TypeKind::kNull, FeatureType::kString, true},
  };
  for (const Case& c : cases) {
    StatusOr<InferredFeature> f = InferFeature(Col("x", c.kind), /*is_event_time=*/false, o);
    ASSERT_TRUE(f.ok()) << DataType::Scalar(c.kind).ToSql() << ": " << f.status().ToString();
    EXPECT_EQ(f->definition.type, c.want) << DataType::Scalar(c.kind).ToSql();
    EXPECT_EQ(f->definition.collection, CollectionType::kNone);
    EXPECT_EQ(!f->note.empty(), c.note) << DataType::Scalar(c.kind).ToSql() << ": " << f->note;
  }
}

TEST(InferFeatureTest, EventTimeBecomesStringOrFractional) {
  const InferenceOptions o = Opts();
  EXPECT_EQ(InferFeature(Col("t", TypeKind::kVarchar), true, o)->definition.type,
            FeatureType::kString);
  EXPECT_EQ(InferFeature(Col("t", TypeKind::kBigInt), true, o)->definition.type,
            FeatureType::kFractional);
  EXPECT_EQ(InferFeature(Col("t", TypeKind::kDouble), true, o)->definition.type,
            FeatureType::kFractional);
  EXPECT_EQ(InferFeature(Col("t", TypeKind::kTimestamp), true, o)->definition.type,
            FeatureType::kString);
  EXPECT_EQ(InferFeature(Col("t", TypeKind::kDate), true, o)->definition.type,
            FeatureType::kString);
  StatusOr<InferredFeature> b = InferFeature(Col("t", TypeKind::kBoolean), true, o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("column 't' has type BOOLEAN"), std::string::npos)
      << b.status().message();
}

TEST(InferFeatureTest, ListsNeedInMemoryAndBecomeListCollections) {
  InferenceOptions o = Opts();
  Column list{"tags", DataType::ListOf(DataType::Scalar(TypeKind::kVarchar))};
  StatusOr<InferredFeature> refused = InferFeature(list, false, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("InMemory"), std::string::npos);
  o.allow_collections = true;
  StatusOr<InferredFeature> f = InferFeature(list, false, o);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->definition.collection, CollectionType::kList);
  EXPECT_EQ(f->definition.type, FeatureType::kString);
  Column ints{"scores", DataType::ListOf(DataType::Scalar(TypeKind::kDouble))};
  EXPECT_EQ(InferFeature(ints, false, o)->definition.type, FeatureType::kFractional);
}

TEST(InferFeatureTest, RefusesTypesThatCannotBeFeatures) {
  StatusOr<InferredFeature> f = InferFeature(Col("blob", TypeKind::kBlob), false, Opts());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(),
            "column 'blob' has type BLOB, which cannot be a feature (Integral, Fractional and "
            "String only); drop the column or convert it");
}

TEST(InferFromColumnsTest, ChecksIdentifierEventTimeAndNames) {
  std::vector<Column> cols = {Col("customer_id", TypeKind::kVarchar),
                              Col("event_time", TypeKind::kBigInt),
                              Col("loyalty_score", TypeKind::kDouble)};
  InferenceOptions o = Opts();
  o.record_identifier = "id";
  StatusOr<InferredSchema> s = InferFromColumns(cols, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "--record-id 'id' is not a column of the file; its columns are: customer_id, "
            "event_time, loyalty_score");

  cols.push_back(Col("write_time", TypeKind::kDouble));
  s = InferFromColumns(cols, Opts());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("column 'write_time' uses a reserved name"),
            std::string::npos);
  cols.pop_back();

  cols.push_back(Col("bad name", TypeKind::kDouble));
  s = InferFromColumns(cols, Opts());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("column 'bad name' is not a valid feature name"),
            std::string::npos);
  cols.pop_back();

  cols.push_back(Col("hour", TypeKind::kBigInt));
  EXPECT_FALSE(InferFromColumns(cols, Opts()).ok());
  cols.pop_back();

  s = InferFromColumns(cols, Opts());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->features.size(), 3u);
  EXPECT_EQ(s->features[1].definition.type, FeatureType::kFractional);  // event time as seconds
}

TEST(InferFromColumnsTest, OverridesReplaceInferredTypes) {
  std::vector<Column> cols = {Col("customer_id", TypeKind::kBigInt),
                              Col("event_time", TypeKind::kBigInt),
                              Col("total_orders", TypeKind::kDouble)};
  InferenceOptions o = Opts();
  o.overrides["event_time"] = FeatureType::kString;
  o.overrides["total_orders"] = FeatureType::kIntegral;
  StatusOr<InferredSchema> s = InferFromColumns(cols, o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->features[0].definition.type, FeatureType::kIntegral);
  EXPECT_EQ(s->features[1].definition.type, FeatureType::kString);
  EXPECT_EQ(s->features[2].definition.type, FeatureType::kIntegral);
  EXPECT_EQ(s->features[2].note, "--type: Integral instead of the inferred Fractional");

  o.overrides["event_time"] = FeatureType::kIntegral;
  EXPECT_FALSE(InferFromColumns(cols, o).ok());
  o.overrides.clear();
  o.overrides["nope"] = FeatureType::kString;
  StatusOr<InferredSchema> bad = InferFromColumns(cols, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--type 'nope' is not a column"), std::string::npos);
}

TEST(InferFromColumnsTest, FractionalIdentifierIsRefused) {
  std::vector<Column> cols = {Col("customer_id", TypeKind::kDouble),
                              Col("event_time", TypeKind::kVarchar)};
  StatusOr<InferredSchema> s = InferFromColumns(cols, Opts());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("must be Integral or String"), std::string::npos);
}

// The walkthrough's sample_df written as CSV: what load_feature_definitions gives from the
// DataFrame (customer_id, event_time, preferred_category String; the rest Fractional), with the
// event time kept String by --type because CSV carries no types.
TEST(InferSchemaTest, WalkthroughSampleCsv) {
  TempDir dir;
  const std::string path =
      dir.File("sample.csv",
               "customer_id,event_time,total_purchases,avg_order_value,days_since_last_purchase,"
               "total_orders,return_rate,preferred_category,account_age_days,loyalty_score\n"
               "C001,1700000000,150.0,45.5,7.0,12.0,0.05,electronics,365.0,0.85\n");
  InferenceOptions o = Opts();
  o.overrides["event_time"] = FeatureType::kString;
  StatusOr<InferredSchema> s = InferSchema(path, o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->format, FileFormat::kCsv);
  std::map<std::string, FeatureType> got;
  for (const InferredFeature& f : s->features) got[f.definition.name] = f.definition.type;
  const std::map<std::string, FeatureType> want = {
      {"customer_id", FeatureType::kString},
      {"event_time", FeatureType::kString},
      {"total_purchases", FeatureType::kFractional},
      {"avg_order_value", FeatureType::kFractional},
      {"days_since_last_purchase", FeatureType::kFractional},
      {"total_orders", FeatureType::kFractional},
      {"return_rate", FeatureType::kFractional},
      {"preferred_category", FeatureType::kString},
      {"account_age_days", FeatureType::kFractional},
      {"loyalty_score", FeatureType::kFractional},
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(s->features[0].definition.name, "customer_id");  // file order kept
}

TEST(InferSchemaTest, ParquetAndJsonCarryTheirTypes) {
  TempDir dir;
  const std::string parquet = dir.Path("x.parquet");
  {
    auto db = OpenSourceDatabase({});
    ASSERT_TRUE(db.ok());
    auto conn = (*db)->Connect();
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)
                    ->Execute("COPY (SELECT 'a' AS customer_id, TIMESTAMP '2024-05-01 12:00:00' AS "
                              "event_time, 3::BIGINT AS n, true AS flag) TO " +
                              offline::QuoteLiteral(parquet) + " (FORMAT parquet)")
                    .ok());
  }
  StatusOr<InferredSchema> s = InferSchema(parquet, Opts());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->features.size(), 4u);
  EXPECT_EQ(s->features[1].definition.type, FeatureType::kString);
  EXPECT_EQ(s->features[2].definition.type, FeatureType::kIntegral);
  EXPECT_EQ(s->features[3].definition.type, FeatureType::kString);

  const std::string json =
      dir.File("x.jsonl",
               "{\"customer_id\":\"a\",\"event_time\":1700000000.5,\"n\":3}\n"
               "{\"customer_id\":\"b\",\"event_time\":1700000001.5,\"n\":4}\n");
  s = InferSchema(json, Opts());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->format, FileFormat::kJson);
  EXPECT_EQ(s->features[1].definition.type, FeatureType::kFractional);
  EXPECT_EQ(s->features[2].definition.type, FeatureType::kIntegral);
}

TEST(InferSchemaTest, MissingFileAndUnknownExtensionAreClear) {
  StatusOr<InferredSchema> s = InferSchema("/nonexistent/x.csv", Opts());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "cannot read '/nonexistent/x.csv': no such file");
  s = InferSchema("/nonexistent/x.xlsx", Opts());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("pass --format"), std::string::npos);
}

}  // namespace
}  // namespace larder::ingest
