#include "ingest/entry_encoder.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>

namespace larder::ingest {
namespace {

using catalog::CollectionType;
using catalog::FeatureType;
using offline::Column;
using offline::DataType;
using offline::Datum;
using offline::TypeKind;

std::string Fmt(double v) {
  char buf[64];
  return std::string(buf, FormatDouble(v, buf, sizeof(buf)));
}

TEST(FormatDoubleTest, ShortestRoundTripWithoutTrailingZero) {
  EXPECT_EQ(Fmt(150.0), "150");
  EXPECT_EQ(Fmt(45.5), "45.5");
  EXPECT_EQ(Fmt(0.1), "0.1");
  EXPECT_EQ(Fmt(0.05), "0.05");
  EXPECT_EQ(Fmt(-2.25), "-2.25");
  EXPECT_EQ(Fmt(0.0), "0");
  EXPECT_EQ(Fmt(1e-7), "1e-07");
  EXPECT_EQ(Fmt(1e16), "1e+16");
  EXPECT_EQ(Fmt(1700000000.25), "1700000000.25");
  EXPECT_EQ(Fmt(0.1 + 0.2), "0.30000000000000004");
}

TEST(FormatDoubleTest, RandomValuesReadBackExactly) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> bits;
  char buf[64];
  for (int i = 0; i < 200000; ++i) {
    uint64_t b = bits(rng);
    double v;
    std::memcpy(&v, &b, sizeof(v));
    if (!std::isfinite(v)) continue;
    const size_t n = FormatDouble(v, buf, sizeof(buf));
    const std::string s(buf, n);
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
  }
}

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

Column Col(std::string name, TypeKind k) { return {std::move(name), DataType::Scalar(k)}; }

TEST(PlanColumnsTest, MapsByNameAndListsUnknownColumns) {
  const catalog::FeatureGroup g = Group();
  std::vector<Column> cols = {Col("customer_id", TypeKind::kVarchar),
                              Col("event_time", TypeKind::kVarchar),
                              Col("extra1", TypeKind::kVarchar), Col("extra2", TypeKind::kBigInt)};
  StatusOr<EncodePlan> p = PlanColumns(g, cols, false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "the file has 2 columns that are not features of 'customer-features': extra1, extra2 "
            "(its features: customer_id, event_time, total_orders, loyalty_score, category, "
            "tags); drop them or pass --ignore-extra-columns");
  p = PlanColumns(g, cols, true);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ignored_columns, (std::vector<std::string>{"extra1", "extra2"}));
  // The text event time gets a TRY_CAST helper column.
  EXPECT_EQ(p->select_list,
            (std::vector<std::string>{"\"customer_id\"", "\"event_time\"",
                                      "CASE WHEN contains(\"event_time\", '-') THEN "
                                      "TRY_CAST(\"event_time\" AS TIMESTAMPTZ) END"}));
}

TEST(PlanColumnsTest, RequiresIdentifierAndEventTimeAndCompatibleTypes) {
  const catalog::FeatureGroup g = Group();
  StatusOr<EncodePlan> p = PlanColumns(g, {Col("customer_id", TypeKind::kVarchar)}, false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "the file has no column 'event_time', the event time of feature group "
            "'customer-features' (the file's columns: customer_id)");
  p = PlanColumns(g,
                  {Col("customer_id", TypeKind::kVarchar), Col("event_time", TypeKind::kVarchar),
                   Col("total_orders", TypeKind::kTimestamp)},
                  false);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "column 'total_orders' has type TIMESTAMP, which cannot feed feature 'total_orders' "
            "of type Integral");
}

// Encodes one row and returns {feature: value} as sent, or the error.
class EncodeTest : public ::testing::Test {
 protected:
  void SetUp() override { group_ = Group(); }

  StatusOr<std::map<std::string, std::string>> Encode(const std::vector<Column>& cols,
                                                      std::vector<Datum> row) {
    StatusOr<EncodePlan> plan = PlanColumns(group_, cols, false);
    if (!plan.ok()) return plan.status();
    plan_ = *plan;
    // Helper (TRY_CAST) columns the test leaves null.
    row.resize(plan_.select_list.size());
    EntryEncoder enc(group_, plan_);
    std::string out = "xx";
    EntryRef ref;
    Status s = enc.Append(row, &out, &ref);
    if (!s.ok()) {
      EXPECT_EQ(out, "xx");  // untouched on failure
      return s;
    }
    const std::string entry = out.substr(ref.begin, ref.end - ref.begin);
    rapidjson::Document d;
    d.Parse(entry.c_str());
    EXPECT_FALSE(d.HasParseError()) << entry;
    EXPECT_EQ(std::string(d["FeatureGroupName"].GetString()), "customer-features");
    EXPECT_EQ(out.substr(ref.id_begin, ref.id_end - ref.id_begin),
              "\"" + std::string(row[0].text) + "\"");
    std::map<std::string, std::string> values;
    for (const auto& fv : d["Record"].GetArray()) {
      std::string v;
      if (fv.HasMember("ValueAsString")) {
        v = fv["ValueAsString"].GetString();
      } else {
        for (const auto& e : fv["ValueAsStringList"].GetArray())
          v += std::string("|") + e.GetString();
      }
      values[fv["FeatureName"].GetString()] = v;
    }
    return values;
  }

  catalog::FeatureGroup group_;
  EncodePlan plan_;
};

TEST_F(EncodeTest, TextIsValidatedLikeTheServer) {
  std::vector<Column> cols = {
      Col("customer_id", TypeKind::kVarchar), Col("event_time", TypeKind::kVarchar),
      Col("total_orders", TypeKind::kVarchar), Col("loyalty_score", TypeKind::kVarchar),
      Col("category", TypeKind::kVarchar)};
  auto v = Encode(cols, {Datum::Text("C1"), Datum::Text("1700000000"), Datum::Text("12.0"),
                         Datum::Text("0.850"), Datum::Text("a \"quoted\"\ntext")});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["total_orders"], "12");      // Integral without ".0"
  EXPECT_EQ((*v)["loyalty_score"], "0.850");  // text kept, as the server stores it
  EXPECT_EQ((*v)["category"], "a \"quoted\"\ntext");
  EXPECT_EQ((*v)["event_time"], "1700000000");

  v = Encode(cols, {Datum::Text("C1"), Datum::Text("1700000000"), Datum::Text("high"),
                    Datum::Null(), Datum::Null()});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("'total_orders' is Integral"), std::string::npos)
      << v.status().message();

  v = Encode(cols, {Datum::Text("C1"), Datum::Text("yesterday"), Datum::Null(), Datum::Null(),
                    Datum::Null()});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("yesterday"), std::string::npos) << v.status().message();
}

TEST_F(EncodeTest, NullsAreLeftOutButIdentifierAndEventTimeAreRequired) {
  std::vector<Column> cols = {Col("customer_id", TypeKind::kVarchar),
                              Col("event_time", TypeKind::kVarchar),
                              Col("loyalty_score", TypeKind::kDouble)};
  auto v = Encode(
      cols, {Datum::Text("C1"), Datum::Text("2024-05-01T00:00:00Z"), Datum::Double(std::nan(""))});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->size(), 2u);  // NaN is null: left out, as the SDK does
  v = Encode(cols, {Datum::Text("C1"), Datum::Null(), Datum::Double(1)});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "the event time 'event_time' is null");
  v = Encode(cols, {Datum::Text(""), Datum::Text("1"), Datum::Double(1)});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "the record identifier 'customer_id' is empty");
}

TEST_F(EncodeTest, TypedValuesBecomeWireText) {
  std::vector<Column> cols = {Col("customer_id", TypeKind::kVarchar),
                              Col("event_time", TypeKind::kTimestamp),
                              Col("total_orders", TypeKind::kDouble),
                              Col("loyalty_score", TypeKind::kFloat),
                              Col("category", TypeKind::kBoolean),
                              {"tags", DataType::ListOf(DataType::Scalar(TypeKind::kBigInt))}};
  // 2024-05-01T12:00:00.25Z
  const int64_t ts = 1714564800'250000;
  Datum tags = Datum::List({Datum::Int(1), Datum::Int(-2)});
  auto v = Encode(cols, {Datum::Text("C1"), Datum::Int(ts), Datum::Double(12.0),
                         Datum::Double(static_cast<double>(0.1f)), Datum::Bool(true), tags});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["event_time"], "2024-05-01T12:00:00.25Z");
  EXPECT_EQ((*v)["total_orders"], "12");
  EXPECT_EQ((*v)["loyalty_score"], "0.1");  // the float's own shortest text
  EXPECT_EQ((*v)["category"], "true");
  EXPECT_EQ((*v)["tags"], "|1|-2");

  v = Encode(cols, {Datum::Text("C1"), Datum::Int(ts), Datum::Double(12.5), Datum::Null(),
                    Datum::Null(), Datum::Null()});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "feature 'total_orders' is Integral but got 12.5, which is not a whole number in the "
            "signed 64-bit range");

  v = Encode(
      cols, {Datum::Text("C1"), Datum::Int(ts), Datum::Null(),
             Datum::Double(std::numeric_limits<double>::infinity()), Datum::Null(), Datum::Null()});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("not a finite number"), std::string::npos);

  v = Encode(cols, {Datum::Text("C1"), Datum::Int(ts), Datum::Null(), Datum::Null(), Datum::Null(),
                    Datum::List({Datum::Int(1), Datum::Null()})});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "feature 'tags' has a null item at position 1; collections may not contain nulls");
}

TEST_F(EncodeTest, DecimalsLoseOnlyTheirScalesTrailingZeros) {
  std::vector<Column> cols = {
      Col("customer_id", TypeKind::kVarchar), Col("event_time", TypeKind::kVarchar),
      Col("total_orders", TypeKind::kDecimal), Col("loyalty_score", TypeKind::kDecimal)};
  auto v = Encode(
      cols, {Datum::Text("C1"), Datum::Text("1"), Datum::Text("12.00"), Datum::Text("-1.50")});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["total_orders"], "12");
  EXPECT_EQ((*v)["loyalty_score"], "-1.5");
  v = Encode(cols, {Datum::Text("C1"), Datum::Text("1"), Datum::Text("12.50"), Datum::Text("100")});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("'total_orders' is Integral"), std::string::npos);
}

TEST_F(EncodeTest, FractionalEventTimeFromTimestampIsUnixSeconds) {
  group_.features[1].type = FeatureType::kFractional;
  group_.BuildIndex();
  std::vector<Column> cols = {Col("customer_id", TypeKind::kBigInt),
                              Col("event_time", TypeKind::kTimestampTz)};
  StatusOr<EncodePlan> plan = PlanColumns(group_, cols, false);
  ASSERT_TRUE(plan.ok());
  EntryEncoder enc(group_, *plan);
  std::string out;
  EntryRef ref;
  ASSERT_TRUE(enc.Append({Datum::Int(7), Datum::Int(1714564800'250000)}, &out, &ref).ok());
  EXPECT_EQ(out,
            "{\"FeatureGroupName\":\"customer-features\",\"Record\":["
            "{\"FeatureName\":\"customer_id\",\"ValueAsString\":\"7\"},"
            "{\"FeatureName\":\"event_time\",\"ValueAsString\":\"1714564800.25\"}]}");
  EXPECT_EQ(out.substr(ref.et_begin, ref.et_end - ref.et_begin), "\"1714564800.25\"");
}

TEST_F(EncodeTest, RowJsonForRejects) {
  std::vector<Column> cols = {Col("customer_id", TypeKind::kVarchar),
                              Col("event_time", TypeKind::kVarchar),
                              Col("total_orders", TypeKind::kBigInt)};
  StatusOr<EncodePlan> plan = PlanColumns(group_, cols, false);
  ASSERT_TRUE(plan.ok());
  EntryEncoder enc(group_, *plan);
  std::string out;
  enc.AppendRowJson({Datum::Text("C\"1"), Datum::Null(), Datum::Int(3), Datum::Null()}, &out);
  EXPECT_EQ(out, R"({"customer_id":"C\"1","event_time":null,"total_orders":3})");
}

}  // namespace
}  // namespace larder::ingest
