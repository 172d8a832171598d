#include "catalog/record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace larder::catalog {
namespace {

using ::testing::HasSubstr;

FeatureDefinition Def(std::string name, FeatureType type,
                      CollectionType coll = CollectionType::kNone, int dim = 0) {
  FeatureDefinition d;
  d.name = std::move(name);
  d.type = type;
  d.collection = coll;
  d.vector_dimension = dim;
  return d;
}

// The walkthrough's customer-features group, plus collection features.
FeatureGroup CustomerGroup() {
  FeatureGroup g;
  g.id = 7;
  g.name = "customer-features";
  g.record_identifier_name = "customer_id";
  g.event_time_feature_name = "event_time";
  g.features = {Def("customer_id", FeatureType::kString),
                Def("event_time", FeatureType::kString),
                Def("total_purchases", FeatureType::kFractional),
                Def("total_orders", FeatureType::kIntegral),
                Def("preferred_category", FeatureType::kString),
                Def("tags", FeatureType::kString, CollectionType::kSet),
                Def("history", FeatureType::kIntegral, CollectionType::kList),
                Def("embedding", FeatureType::kFractional, CollectionType::kVector, 3)};
  g.BuildIndex();
  return g;
}

FeatureValueInput S(std::string_view name, std::string_view v) {
  FeatureValueInput f;
  f.name = name;
  f.has_scalar = true;
  f.scalar = v;
  return f;
}

FeatureValueInput L(std::string_view name, std::vector<std::string_view> items) {
  FeatureValueInput f;
  f.name = name;
  f.has_list = true;
  f.list = std::move(items);
  return f;
}

// ---------------------------------------------------------------- codec

TEST(RecordCodecTest, GoldenBytesMatchTheDocumentedLayout) {
  Record r;
  r.event_time_micros = -1;  // zigzag(-1) = 1
  r.values.resize(3);
  r.values[0].kind = Value::Kind::kScalar;
  r.values[0].scalar = "ab";
  r.values[2].kind = Value::Kind::kList;
  r.values[2].list = {"x", ""};
  std::string out;
  EncodeRecord(r, &out);
  const std::string expected(
      "\x01\x03"
      "\x01\x02"
      "ab"
      "\x00"
      "\x02\x02\x01x\x00",
      12);
  EXPECT_EQ(out, expected);
}

bool SameRecord(const Record& a, const Record& b) {
  if (a.event_time_micros != b.event_time_micros || a.values.size() != b.values.size())
    return false;
  for (size_t i = 0; i < a.values.size(); ++i) {
    const Value& x = a.values[i];
    const Value& y = b.values[i];
    if (x.kind != y.kind) return false;
    if (x.kind == Value::Kind::kScalar && x.scalar != y.scalar) return false;
    if (x.kind == Value::Kind::kList && x.list != y.list) return false;
  }
  return true;
}

Record RandomRecord(std::mt19937_64& rng) {
  auto random_bytes = [&](size_t max_len) {
    std::string s(rng() % (max_len + 1), '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  Record r;
  static constexpr int64_t kTimes[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1'700'000'000'000'000};
  r.event_time_micros = rng() % 2 ? kTimes[rng() % 6] : static_cast<int64_t>(rng());
  r.values.resize(rng() % 12);
  for (Value& v : r.values) {
    v.kind = static_cast<Value::Kind>(rng() % 3);
    if (v.kind == Value::Kind::kScalar) v.scalar = random_bytes(rng() % 4 == 0 ? 300 : 20);
    if (v.kind == Value::Kind::kList) {
      v.list.resize(rng() % 5);
      for (std::string& e : v.list) e = random_bytes(10);
    }
  }
  return r;
}

TEST(RecordCodecTest, RandomRecordsRoundTripAndEveryTruncationIsCorruption) {
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    Record r = RandomRecord(rng);
    std::string bytes;
    EncodeRecord(r, &bytes);
    StatusOr<Record> back = DecodeRecord(bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ASSERT_TRUE(SameRecord(r, *back)) << "iteration " << iter;

    // The zero-copy reader sees the same values.
    RecordReader reader(bytes);
    EXPECT_EQ(reader.event_time_micros(), r.event_time_micros);
    EXPECT_EQ(reader.size(), r.values.size());
    size_t i = 0;
    while (reader.Next()) {
      ASSERT_LT(i, r.values.size());
      EXPECT_EQ(reader.index(), static_cast<int>(i));
      EXPECT_EQ(reader.kind(), r.values[i].kind);
      if (reader.kind() == Value::Kind::kScalar) {
        EXPECT_EQ(reader.scalar(), r.values[i].scalar);
      }
      // Read only some list elements: Next() must skip the rest.
      if (reader.kind() == Value::Kind::kList && !r.values[i].list.empty()) {
        std::string_view e;
        ASSERT_TRUE(reader.NextElement(&e));
        EXPECT_EQ(e, r.values[i].list[0]);
      }
      ++i;
    }
    EXPECT_TRUE(reader.status().ok());
    EXPECT_EQ(i, r.values.size());

    if (iter % 10 == 0) {
      for (size_t cut = 0; cut < bytes.size(); ++cut) {
        EXPECT_EQ(DecodeRecord(std::string_view(bytes).substr(0, cut)).status().code(),
                  StatusCode::kCorruption)
            << "prefix of " << cut << " bytes";
      }
    }
  }
}

TEST(RecordCodecTest, TrailingBytesAndGarbageAreCorruption) {
  Record r;
  r.values.resize(1);
  std::string bytes;
  EncodeRecord(r, &bytes);
  EXPECT_EQ(DecodeRecord(bytes + "x").status().code(), StatusCode::kCorruption);
  std::string bad_kind = bytes;
  bad_kind.back() = '\x07';
  EXPECT_EQ(DecodeRecord(bad_kind).status().code(), StatusCode::kCorruption);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {  // must never crash or loop
    std::string junk(rng() % 40, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)DecodeRecord(junk);
  }
}

// ---------------------------------------------------------------- event times

int64_t Parse(std::string_view text, FeatureType type = FeatureType::kString) {
  StatusOr<int64_t> t = ParseEventTime("event_time", type, text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().ToString();
  return t.ok() ? *t : INT64_MIN;
}

Status ParseError(std::string_view text, FeatureType type = FeatureType::kString) {
  return ParseEventTime("event_time", type, text).status();
}

TEST(EventTimeTest, Iso8601WithZeroToNineFractionDigits) {
  EXPECT_EQ(Parse("2023-11-14T22:13:20Z"), 1'700'000'000'000'000);
  EXPECT_EQ(Parse("2023-11-14T22:13:20.1Z"), 1'700'000'000'100'000);
  EXPECT_EQ(Parse("2023-11-14T22:13:20.12Z"), 1'700'000'000'120'000);
  EXPECT_EQ(Parse("2023-11-14T22:13:20.123Z"), 1'700'000'000'123'000);
  EXPECT_EQ(Parse("2023-11-14T22:13:20.123456Z"), 1'700'000'000'123'456);
  EXPECT_EQ(Parse("2023-11-14T22:13:20.123456789Z"), 1'700'000'000'123'456);  // truncated to us
  EXPECT_EQ(Parse("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(Parse("1969-12-31T23:59:59.5Z"), -500'000);
  EXPECT_FALSE(ParseError("2023-11-14T22:13:20.1234567891Z").ok());  // 10 digits
  EXPECT_FALSE(ParseError("2023-11-14T22:13:20.Z").ok());
}

TEST(EventTimeTest, CalendarIsValidatedIncludingLeapYears) {
  EXPECT_EQ(Parse("2024-02-29T00:00:00Z"), Parse("2024-03-01T00:00:00Z") - 86'400'000'000);
  EXPECT_EQ(Parse("2000-02-29T12:00:00Z") + 43'200'000'000, Parse("2000-03-01T00:00:00Z"));
  EXPECT_TRUE(ParseError("0000-02-29T00:00:00Z").ok());  // year 0 is a leap year
  EXPECT_FALSE(ParseError("2023-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseError("1900-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseError("2023-04-31T00:00:00Z").ok());
  EXPECT_FALSE(ParseError("2023-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseError("2023-00-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseError("2023-01-00T00:00:00Z").ok());
  EXPECT_FALSE(ParseError("2023-01-01T24:00:00Z").ok());
  EXPECT_FALSE(ParseError("2023-01-01T00:60:00Z").ok());
  EXPECT_FALSE(ParseError("2023-01-01T00:00:60Z").ok());
  EXPECT_TRUE(ParseError("2023-12-31T23:59:59Z").ok());
}

TEST(EventTimeTest, BadFormsAreRejectedWithTheValueAndTheAcceptedForms) {
  for (std::string_view bad :
       {"", "abc", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z",
        "2023-11-14t22:13:20z", "2023-11-14T22:13:20+00:00", "2023-1-14T22:13:20Z", "1.7e9", "12.",
        ".5", "+1700000000", " 1", "1700000000 ", "0x10", "NaN"}) {
    Status s = ParseError(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("'event_time'"));
    EXPECT_THAT(s.message(), HasSubstr("\"" + std::string(bad) + "\""));
    EXPECT_THAT(s.message(), HasSubstr("yyyy-MM-ddTHH:mm:ssZ"));
    EXPECT_THAT(s.message(), HasSubstr("Unix epoch seconds"));
  }
  EXPECT_THAT(ParseError("soon", FeatureType::kFractional).message(),
              HasSubstr("Unix epoch seconds"));
  EXPECT_FALSE(ParseError("1", FeatureType::kIntegral).ok());
}

TEST(EventTimeTest, UnixSecondsForStringAndFractional) {
  EXPECT_EQ(Parse("1700000000"), 1'700'000'000'000'000);
  EXPECT_EQ(Parse("1700000000.25"), 1'700'000'000'250'000);
  EXPECT_EQ(Parse("-1.5"), -1'500'000);
  EXPECT_EQ(Parse("0.0000015"), 1);  // floor to the microsecond
  EXPECT_EQ(Parse("-0.0000015"), -2);
  EXPECT_EQ(Parse("1700000000.5", FeatureType::kFractional), 1'700'000'000'500'000);
  EXPECT_EQ(Parse("1.7e9", FeatureType::kFractional), 1'700'000'000'000'000);
  EXPECT_EQ(Parse("+17E8", FeatureType::kFractional), 1'700'000'000'000'000);
  EXPECT_EQ(Parse("1700000000", FeatureType::kFractional), 1'700'000'000'000'000);
  EXPECT_FALSE(ParseError("2023-11-14T22:13:20Z", FeatureType::kFractional).ok());
  EXPECT_FALSE(ParseError("inf", FeatureType::kFractional).ok());
}

TEST(EventTimeTest, RangeIsYearZeroToYear9999) {
  EXPECT_EQ(Parse("0000-01-01T00:00:00Z"), -62'167'219'200'000'000);
  EXPECT_EQ(Parse("9999-12-31T23:59:59.999999999Z"), 253'402'300'799'999'999);
  EXPECT_EQ(Parse("253402300799.999999"), 253'402'300'799'999'999);
  EXPECT_EQ(Parse("-62167219200"), -62'167'219'200'000'000);
  Status s = ParseError("253402300800");
  EXPECT_THAT(s.message(), HasSubstr("outside the supported range"));
  EXPECT_THAT(s.message(), HasSubstr("9999-12-31T23:59:59.999999999Z"));
  EXPECT_FALSE(ParseError("-62167219200.000001").ok());
  EXPECT_FALSE(ParseError("1e12", FeatureType::kFractional).ok());
  EXPECT_FALSE(ParseError("99999999999999999999999999").ok());
}

TEST(EventTimeTest, FormatsRoundTripThroughTheParser) {
  EXPECT_EQ(FormatIsoMillis(1'700'000'000'123'456), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatIsoMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIsoMillis(-62'167'219'200'000'000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(
      FormatEventTimeLike(FeatureType::kString, "2020-01-01T00:00:00Z", 1'700'000'000'000'000),
      "2023-11-14T22:13:20Z");
  EXPECT_EQ(
      FormatEventTimeLike(FeatureType::kString, "2020-01-01T00:00:00Z", 1'700'000'000'250'000),
      "2023-11-14T22:13:20.25Z");
  EXPECT_EQ(FormatEventTimeLike(FeatureType::kString, "1600000000", 1'700'000'000'250'000),
            "1700000000.25");
  EXPECT_EQ(FormatEventTimeLike(FeatureType::kFractional, "1.6e9", -1'500'000), "-1.5");
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    int64_t t = static_cast<int64_t>(rng() % 315'569'520'000'000'000ULL) - 62'167'219'200'000'000;
    EXPECT_EQ(Parse(FormatEventTimeLike(FeatureType::kString, "2020-01-01T00:00:00Z", t)), t);
    EXPECT_EQ(Parse(FormatEventTimeLike(FeatureType::kString, "1", t)), t);
    EXPECT_EQ(
        Parse(FormatEventTimeLike(FeatureType::kFractional, "1", t), FeatureType::kFractional), t);
    EXPECT_EQ(Parse(FormatIsoMillis(t)), t - ((t % 1000) + 1000) % 1000);
  }
}

// ---------------------------------------------------------------- values

std::string Canon(FeatureType type, std::string_view text) {
  std::string out;
  Status s = CanonicalizeScalar("f", type, text, &out);
  EXPECT_TRUE(s.ok()) << text << ": " << s.ToString();
  return out;
}

Status CanonError(FeatureType type, std::string_view text) {
  std::string out;
  return CanonicalizeScalar("loyalty_score", type, text, &out);
}

TEST(ValueTest, IntegralAcceptsIntegralValuedDecimals) {
  EXPECT_EQ(Canon(FeatureType::kIntegral, "42"), "42");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "-7"), "-7");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "1.0"), "1");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "24.000"), "24");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "-0.0"), "0");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "+5"), "5");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "1e3"), "1000");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "1.5e1"), "15");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "1e+16"), "10000000000000000");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "-9223372036854775808.0"), "-9223372036854775808");
  EXPECT_EQ(Canon(FeatureType::kIntegral, "0e99999"), "0");
}

TEST(ValueTest, IntegralRejectsFractionsOverflowAndNonNumbers) {
  for (std::string_view bad :
       {"1.5", "0.1", "1e-1", "abc", "", "1.0.0", "0x10", " 1", "1 ", "NaN", "inf", "--1", "1e"}) {
    Status s = CanonError(FeatureType::kIntegral, bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.message(),
                HasSubstr("'loyalty_score' is Integral but got \"" + std::string(bad)));
  }
  for (std::string_view big :
       {"9223372036854775808", "-9223372036854775809", "1e19", "99999999999999999999.0"}) {
    EXPECT_THAT(CanonError(FeatureType::kIntegral, big).message(),
                HasSubstr("64-bit integer range"))
        << big;
  }
}

TEST(ValueTest, FractionalIsAnyFiniteDoubleKeptAsSent) {
  EXPECT_EQ(Canon(FeatureType::kFractional, "0.85"), "0.85");
  EXPECT_EQ(Canon(FeatureType::kFractional, "1250.75"), "1250.75");
  EXPECT_EQ(Canon(FeatureType::kFractional, "-3"), "-3");
  EXPECT_EQ(Canon(FeatureType::kFractional, "+1.5"), "+1.5");
  EXPECT_EQ(Canon(FeatureType::kFractional, "1e308"), "1e308");
  EXPECT_EQ(Canon(FeatureType::kFractional, "1e-400"), "1e-400");  // underflows to 0: finite
  EXPECT_EQ(Canon(FeatureType::kFractional, ".5"), ".5");
  for (std::string_view bad : {"1e309", "-1e309", "nan", "NaN", "inf", "Infinity", "high", "",
                               "0x1p3", " 1", "1,5", "1.5f"}) {
    Status s = CanonError(FeatureType::kFractional, bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(s.message(),
                HasSubstr("'loyalty_score' is Fractional but got \"" + std::string(bad)));
  }
}

TEST(ValueTest, StringMustBeValidUtf8AndMayBeEmpty) {
  EXPECT_EQ(Canon(FeatureType::kString, ""), "");
  EXPECT_EQ(Canon(FeatureType::kString, "électronique ✓ 𝄞"), "électronique ✓ 𝄞");
  for (std::string_view bad :
       {std::string_view("\xff"), std::string_view("ab\xc3"), std::string_view("\xc0\x80"),
        std::string_view("\xed\xa0\x80"), std::string_view("\xf4\x90\x80\x80"),
        std::string_view("\xe2\x28\xa1")}) {
    Status s = CanonError(FeatureType::kString, bad);
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr("not valid UTF-8"));
  }
}

// ---------------------------------------------------------------- BuildRecord

TEST(BuildRecordTest, BuildsTheWalkthroughRecord) {
  FeatureGroup g = CustomerGroup();
  StatusOr<Record> r = BuildRecord(
      g, {S("customer_id", "C001"), S("event_time", "1700000000"), S("total_purchases", "1250.75"),
          S("total_orders", "24.0"), S("preferred_category", "electronics")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->event_time_micros, 1'700'000'000'000'000);
  ASSERT_EQ(r->values.size(), g.features.size());
  EXPECT_EQ(ScalarAt(*r, 0), "C001");
  EXPECT_EQ(ScalarAt(*r, 3), "24");  // Integral canonical form
  EXPECT_EQ(r->values[5].kind, Value::Kind::kNull);
  EXPECT_EQ(r->values[7].kind, Value::Kind::kNull);
}

TEST(BuildRecordTest, OrderOfFeaturesDoesNotMatter) {
  FeatureGroup g = CustomerGroup();
  StatusOr<Record> r =
      BuildRecord(g, {S("total_orders", "3"), S("event_time", "1"), S("customer_id", "x")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ScalarAt(*r, 3), "3");
  EXPECT_EQ(ScalarAt(*r, 0), "x");
}

TEST(BuildRecordTest, CollectionsSetVectorList) {
  FeatureGroup g = CustomerGroup();
  StatusOr<Record> r =
      BuildRecord(g, {S("customer_id", "C1"), S("event_time", "2024-01-01T00:00:00Z"),
                      L("tags", {"a", "b", "a", "c", "b"}), L("history", {"1", "1.0", "2"}),
                      L("embedding", {"0.1", "0.2", "0.3"})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->values[5].list, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r->values[6].list, (std::vector<std::string>{"1", "1", "2"}));  // List keeps duplicates
  EXPECT_EQ(r->values[7].list.size(), 3u);
  // An empty List or Set is a value, not a null.
  StatusOr<Record> e =
      BuildRecord(g, {S("customer_id", "C1"), S("event_time", "1"), L("tags", {})});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->values[5].kind, Value::Kind::kList);
}

Status BuildError(std::vector<FeatureValueInput> in) {
  return BuildRecord(CustomerGroup(), in).status();
}

TEST(BuildRecordTest, RejectsBadRecordsNamingTheFeature) {
  auto id = S("customer_id", "C1");
  auto et = S("event_time", "1700000000");
  EXPECT_THAT(BuildError({id, et, S("nope", "1")}).message(),
              HasSubstr("feature 'nope' is not defined in feature group 'customer-features'"));
  EXPECT_THAT(BuildError({id, et, S("total_orders", "1"), S("total_orders", "2")}).message(),
              HasSubstr("'total_orders' appears more than once"));
  EXPECT_THAT(BuildError({et}).message(),
              HasSubstr("record identifier feature 'customer_id' is missing"));
  EXPECT_THAT(BuildError({id}).message(), HasSubstr("event time feature 'event_time' is missing"));
  EXPECT_THAT(BuildError({S("customer_id", ""), et}).message(), HasSubstr("must not be empty"));
  EXPECT_THAT(BuildError({id, S("event_time", "yesterday")}).message(), HasSubstr("\"yesterday\""));
  EXPECT_THAT(BuildError({id, et, S("total_orders", "1.5")}).message(),
              HasSubstr("'total_orders' is Integral but got \"1.5\""));
  EXPECT_THAT(BuildError({id, et, L("total_orders", {"1"})}).message(),
              HasSubstr("'total_orders' is a scalar Integral feature but got ValueAsStringList"));
  EXPECT_THAT(BuildError({id, et, S("tags", "a")}).message(),
              HasSubstr("'tags' is a Set of String but got ValueAsString"));
  EXPECT_THAT(BuildError({id, et, L("embedding", {"1", "2"})}).message(),
              HasSubstr("'embedding' is a Vector of dimension 3 but got 2 elements"));
  EXPECT_THAT(BuildError({id, et, L("embedding", {"1", "2", "x"})}).message(),
              HasSubstr("'embedding' is Fractional but got \"x\""));
  FeatureValueInput with_null = L("history", {"1"});
  with_null.list_has_null = true;
  EXPECT_THAT(BuildError({id, et, with_null}).message(), HasSubstr("'history' has a null item"));
  FeatureValueInput both = S("total_orders", "1");
  both.has_list = true;
  EXPECT_THAT(BuildError({id, et, both}).message(),
              HasSubstr("both ValueAsString and ValueAsStringList"));
  FeatureValueInput neither;
  neither.name = "total_orders";
  EXPECT_THAT(BuildError({id, et, neither}).message(), HasSubstr("'total_orders' has no value"));
}

TEST(BuildRecordTest, EnforcesSizeLimits) {
  std::string big_id(kMaxIdentifierBytes + 1, 'i');
  EXPECT_THAT(BuildError({S("customer_id", big_id), S("event_time", "1")}).message(),
              HasSubstr("limit is 2048 bytes"));
  std::string ok_id(kMaxIdentifierBytes, 'i');
  EXPECT_TRUE(BuildError({S("customer_id", ok_id), S("event_time", "1")}).ok());
  std::string big_value(kMaxValueBytes + 1, 'v');
  EXPECT_THAT(
      BuildError({S("customer_id", "C"), S("event_time", "1"), S("preferred_category", big_value)})
          .message(),
      HasSubstr("'preferred_category' has a value of 358401 bytes"));
  std::string half(kMaxValueBytes / 2 + 10, 'v');
  EXPECT_THAT(BuildError({S("customer_id", "C"), S("event_time", "1"),
                          S("preferred_category", half), L("tags", {half})})
                  .message(),
              HasSubstr("the limit is 358400 bytes"));
}

TEST(BuildRecordTest, MarkerHoldsIdentifierAndEventTimeOnly) {
  FeatureGroup g = CustomerGroup();
  Record m = MakeMarker(g, "C9", "1700000000", 1'700'000'000'000'000);
  ASSERT_EQ(m.values.size(), 2u);
  EXPECT_EQ(ScalarAt(m, 0), "C9");
  EXPECT_EQ(ScalarAt(m, 1), "1700000000");
  EXPECT_EQ(m.event_time_micros, 1'700'000'000'000'000);
}

}  // namespace
}  // namespace larder::catalog
