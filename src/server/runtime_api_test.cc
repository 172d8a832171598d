#include "server/runtime_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "catalog/record.h"
#include "online/rocksdb_store.h"
#include "online/test_util.h"

namespace larder::server {
namespace {

using catalog::CollectionType;
using catalog::FeatureType;
using catalog::GroupPtr;
using ::testing::HasSubstr;

constexpr int64_t kSec = 1'000'000;
constexpr char kArnPrefix[] = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/";

// A CatalogReader over a fixed set of groups, looked up by name or ARN.
class FakeCatalog : public catalog::CatalogReader {
 public:
  void Add(catalog::FeatureGroup g) {
    g.BuildIndex();
    std::string lower = g.name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    g.arn = kArnPrefix + lower;
    auto p = std::make_shared<const catalog::FeatureGroup>(std::move(g));
    by_name_[p->name] = p;
  }
  StatusOr<GroupPtr> Lookup(std::string_view name_or_arn) const override {
    for (const auto& [name, g] : by_name_) {
      if (name == name_or_arn || g->arn == name_or_arn) return g;
    }
    std::string_view name = name_or_arn;
    if (size_t slash = name.rfind('/'); slash != std::string_view::npos)
      name = name.substr(slash + 1);
    return Status::NotFound(
        "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name " +
        std::string(name));
  }
  StatusOr<GroupPtr> GetById(uint64_t id) const override {
    for (const auto& [name, g] : by_name_) {
      if (g->id == id) return g;
    }
    return Status::NotFound("no group");
  }
  void ForEach(const std::function<void(const GroupPtr&)>& fn) const override {
    for (const auto& [name, g] : by_name_) fn(g);
  }

 private:
  std::map<std::string, GroupPtr> by_name_;
};

catalog::FeatureDefinition Def(std::string name, FeatureType type,
                               CollectionType coll = CollectionType::kNone, int dim = 0) {
  catalog::FeatureDefinition d;
  d.name = std::move(name);
  d.type = type;
  d.collection = coll;
  d.vector_dimension = dim;
  return d;
}

// The walkthrough's group: online + offline, String event time.
catalog::FeatureGroup CustomerFeatures() {
  catalog::FeatureGroup g;
  g.id = 1;
  g.name = "customer-features";
  g.record_identifier_name = "customer_id";
  g.event_time_feature_name = "event_time";
  g.features = {Def("customer_id", FeatureType::kString),
                Def("event_time", FeatureType::kString),
                Def("total_purchases", FeatureType::kFractional),
                Def("avg_order_value", FeatureType::kFractional),
                Def("days_since_last_purchase", FeatureType::kFractional),
                Def("total_orders", FeatureType::kFractional),
                Def("return_rate", FeatureType::kFractional),
                Def("preferred_category", FeatureType::kString),
                Def("account_age_days", FeatureType::kFractional),
                Def("loyalty_score", FeatureType::kFractional)};
  g.has_online_store_config = true;
  g.online_enabled = true;
  g.offline_enabled = true;
  g.status = catalog::GroupStatus::kCreated;
  return g;
}

struct Reply {
  int status = 0;
  std::string body;
  std::string error_code;  // x-amzn-ErrorType
  std::string operation;
  rapidjson::Document json;
  std::string message() const {
    return json.IsObject() && json.HasMember("message") ? json["message"].GetString() : "";
  }
};

class RuntimeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    online::RocksDbStoreOptions o;
    o.path = dir_.path() + "/online";
    o.clock = &clock_;
    o.purge_interval_micros = 0;
    o.block_cache_bytes = 1 << 20;
    o.write_buffer_bytes = 1 << 20;
    auto s = online::OpenRocksDbStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    catalog_.Add(CustomerFeatures());

    catalog::FeatureGroup ttl = CustomerFeatures();
    ttl.id = 2;
    ttl.name = "ttl-group";
    ttl.ttl = catalog::TtlDuration{catalog::TtlUnit::kMinutes, 10};
    catalog_.Add(ttl);

    catalog::FeatureGroup offline_only = CustomerFeatures();
    offline_only.id = 3;
    offline_only.name = "offline-only";
    offline_only.online_enabled = false;
    catalog_.Add(offline_only);

    catalog::FeatureGroup creating = CustomerFeatures();
    creating.id = 4;
    creating.name = "still-creating";
    creating.status = catalog::GroupStatus::kCreating;
    catalog_.Add(creating);

    catalog::FeatureGroup typed;  // Integral identifier, Fractional event time, collections
    typed.id = 5;
    typed.name = "typed";
    typed.record_identifier_name = "id";
    typed.event_time_feature_name = "ts";
    typed.features = {Def("id", FeatureType::kIntegral), Def("ts", FeatureType::kFractional),
                      Def("tags", FeatureType::kString, CollectionType::kSet),
                      Def("vec", FeatureType::kFractional, CollectionType::kVector, 2)};
    typed.online_enabled = true;
    typed.online_storage_type = "InMemory";
    typed.status = catalog::GroupStatus::kCreated;
    catalog_.Add(typed);

    catalog::FeatureGroup online_only = CustomerFeatures();
    online_only.id = 6;
    online_only.name = "online-only";
    online_only.offline_enabled = false;
    catalog_.Add(online_only);

    api_ = std::make_unique<RuntimeApi>(&catalog_, store_.get(), &clock_);
  }

  Reply Call(std::string method, std::string target, std::string body = "") {
    HttpRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.received_micros = clock_.NowMicros();
    HttpResponse resp;
    api_->Handle(req, &resp);
    Reply r;
    r.status = resp.status;
    r.body = resp.body;
    r.operation = resp.operation;
    for (const auto& [k, v] : resp.headers) {
      if (k == "x-amzn-ErrorType") r.error_code = v;
    }
    if (!r.body.empty()) {
      r.json.Parse(r.body.c_str());
      EXPECT_FALSE(r.json.HasParseError()) << "response is not JSON: " << r.body;
    }
    return r;
  }

  // PUT /FeatureGroup/<group> with {"Record":[...]} built from name/value pairs.
  Reply Put(std::string group, const std::vector<std::pair<std::string, std::string>>& values,
            std::string extra = "") {
    std::string body = "{\"Record\":[";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) body += ",";
      body += "{\"FeatureName\":\"" + values[i].first + "\",\"ValueAsString\":\"" +
              values[i].second + "\"}";
    }
    body += "]" + extra + "}";
    return Call("PUT", "/FeatureGroup/" + group, body);
  }

  // Feature name -> value of a GetRecord/BatchGetRecord "Record" array.
  static std::map<std::string, std::string> Features(const rapidjson::Value& record) {
    std::map<std::string, std::string> out;
    for (const auto& fv : record.GetArray()) {
      std::string v;
      if (fv.HasMember("ValueAsString")) {
        v = fv["ValueAsString"].GetString();
      } else {
        for (const auto& e : fv["ValueAsStringList"].GetArray())
          v += std::string(e.GetString()) + "|";
      }
      out[fv["FeatureName"].GetString()] = v;
    }
    return out;
  }

  online::testing::TempDir dir_;
  FakeClock clock_{1'700'000'000 * kSec};
  std::unique_ptr<online::OnlineStore> store_;
  FakeCatalog catalog_;
  std::unique_ptr<RuntimeApi> api_;
};

const std::vector<std::pair<std::string, std::string>> kC001 = {
    {"customer_id", "C001"},
    {"event_time", "1700000000"},
    {"total_purchases", "1250.75"},
    {"avg_order_value", "52.3"},
    {"days_since_last_purchase", "3.0"},
    {"total_orders", "24.0"},
    {"return_rate", "0.04"},
    {"preferred_category", "electronics"},
    {"account_age_days", "730.0"},
    {"loyalty_score", "0.92"}};

TEST_F(RuntimeApiTest, WalkthroughPutGetUpdate) {
  Reply put = Put("customer-features", kC001);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.operation, "PutRecord");
  EXPECT_EQ(put.body, "");

  Reply get = Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=C001");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.operation, "GetRecord");
  std::map<std::string, std::string> f = Features(get.json["Record"]);
  EXPECT_EQ(f.size(), 10u);
  EXPECT_EQ(f["total_purchases"], "1250.75");
  EXPECT_EQ(f["preferred_category"], "electronics");
  EXPECT_FALSE(get.json.HasMember("ExpiresAt"));

  auto updated = kC001;
  updated[1].second = "1700000100";
  updated[9].second = "0.95";
  ASSERT_EQ(Put("customer-features", updated).status, 200);
  auto older = kC001;
  older[9].second = "0.10";  // same identifier, older event time: offline only
  older[1].second = "1699999999";
  ASSERT_EQ(Put("customer-features", older).status, 200);
  get = Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=C001");
  EXPECT_EQ(Features(get.json["Record"])["loyalty_score"], "0.95");

  // All three puts reached the outbox, stamped with the request's receive time.
  auto entries = store_->outbox()->Read(0, 10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].api_invocation_time_micros, clock_.NowMicros());
  EXPECT_EQ((*entries)[0].group_id, 1u);
}

TEST_F(RuntimeApiTest, MissingRecordIsEmptyObjectAndUnknownGroupIs404) {
  Reply get = Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=nobody");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "{}");
  get = Call("GET", "/FeatureGroup/nope?RecordIdentifierValueAsString=x");
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(get.error_code, "ResourceNotFound");
  EXPECT_THAT(get.message(), HasSubstr("can't find a FeatureGroup with name nope"));
  Reply put = Put("nope", kC001);
  EXPECT_EQ(put.status, 400);
  EXPECT_EQ(put.error_code, "ValidationError");
  EXPECT_THAT(put.message(),
              HasSubstr("Resource Not Found: Amazon SageMaker can't find a FeatureGroup"));
}

TEST_F(RuntimeApiTest, ArnInThePathIsDecoded) {
  ASSERT_EQ(Put("customer-features", kC001).status, 200);
  std::string arn =
      "arn%3Aaws%3Asagemaker%3Aus-east-1%3A123456789012%3Afeature-group%2Fcustomer-features";
  Reply get = Call("GET", "/FeatureGroup/" + arn + "?RecordIdentifierValueAsString=C001");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(Features(get.json["Record"])["customer_id"], "C001");
  EXPECT_EQ(Put(arn, kC001).status, 200);
  Reply list = Call("POST", "/FeatureGroup/" + arn + "/ListRecords", "{}");
  EXPECT_EQ(list.status, 200) << list.body;
}

TEST_F(RuntimeApiTest, ProjectionAndPercentEncodedIdentifiers) {
  auto rec = kC001;
  rec[0].second = "a b/c";
  ASSERT_EQ(Put("customer-features", rec).status, 200);
  Reply get = Call("GET",
                   "/FeatureGroup/customer-features?RecordIdentifierValueAsString=a%20b%2Fc"
                   "&FeatureName=loyalty_score&FeatureName=customer_id");
  ASSERT_EQ(get.status, 200) << get.body;
  std::map<std::string, std::string> f = Features(get.json["Record"]);
  EXPECT_EQ(
      f, (std::map<std::string, std::string>{{"customer_id", "a b/c"}, {"loyalty_score", "0.92"}}));
  get = Call("GET",
             "/FeatureGroup/customer-features?RecordIdentifierValueAsString=x&FeatureName=nope");
  EXPECT_EQ(get.status, 400);
  EXPECT_THAT(get.message(), HasSubstr("feature 'nope' is not defined"));
  get = Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=%zz");
  EXPECT_EQ(get.status, 400);
  EXPECT_THAT(get.message(), HasSubstr("not valid percent-encoding"));
  get = Call("GET", "/FeatureGroup/customer%2Dfeatures?Record%49dentifierValueAsString=a%20b%2Fc");
  EXPECT_EQ(Features(get.json["Record"])["customer_id"], "a b/c");  // escapes in label and key
}

TEST_F(RuntimeApiTest, ExpiresAtFromGroupDefaultAndPerRecordTtl) {
  ASSERT_EQ(Put("ttl-group", kC001).status, 200);
  Reply get = Call(
      "GET",
      "/FeatureGroup/ttl-group?RecordIdentifierValueAsString=C001&ExpirationTimeResponse=Enabled");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_STREQ(get.json["ExpiresAt"].GetString(),
               "2023-11-14T22:23:20.000Z");  // event time + 10 min
  get = Call(
      "GET",
      "/FeatureGroup/ttl-group?RecordIdentifierValueAsString=C001&ExpirationTimeResponse=Disabled");
  EXPECT_FALSE(get.json.HasMember("ExpiresAt"));

  // A per-record TtlDuration overrides the default; the record is hidden once it expires.
  auto rec = kC001;
  rec[0].second = "C002";
  ASSERT_EQ(Put("ttl-group", rec, ",\"TtlDuration\":{\"Unit\":\"Seconds\",\"Value\":30}").status,
            200);
  get = Call(
      "GET",
      "/FeatureGroup/ttl-group?RecordIdentifierValueAsString=C002&ExpirationTimeResponse=Enabled");
  EXPECT_STREQ(get.json["ExpiresAt"].GetString(), "2023-11-14T22:13:50.000Z");
  clock_.AdvanceMicros(31 * kSec);
  get = Call("GET", "/FeatureGroup/ttl-group?RecordIdentifierValueAsString=C002");
  EXPECT_EQ(get.body, "{}");
  get = Call("GET", "/FeatureGroup/ttl-group?RecordIdentifierValueAsString=C001");
  EXPECT_NE(get.body, "{}");
}

TEST_F(RuntimeApiTest, ModelConstraintsUseAwsWording) {
  Reply r = Put("bad%20name", kC001);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code, "ValidationError");
  EXPECT_EQ(r.message(),
            "1 validation error detected: Value 'bad name' at 'featureGroupName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]*:[0-9]{12}:feature-group/)?"
            "([a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63})");
  r = Call("PUT", "/FeatureGroup/customer-features", "{}");
  EXPECT_EQ(r.message(),
            "1 validation error detected: Value null at 'record' failed to satisfy constraint: "
            "Member must not be null");
  r = Call("PUT", "/FeatureGroup/customer-features", "{\"Record\":[]}");
  EXPECT_THAT(r.message(), HasSubstr("Member must have length greater than or equal to 1"));
  r = Put("customer-features", {{"bad name", "1"}},
          ",\"TargetStores\":[\"Disk\"],\"TtlDuration\":{\"Unit\":\"Years\",\"Value\":0}");
  EXPECT_THAT(r.message(), HasSubstr("4 validation errors detected"));
  EXPECT_THAT(r.message(), HasSubstr("Value 'bad name' at 'record.1.member.featureName'"));
  EXPECT_THAT(r.message(),
              HasSubstr("Value 'Disk' at 'targetStores.1.member' failed to satisfy constraint: "
                        "Member must satisfy enum value set: [OnlineStore, OfflineStore]"));
  EXPECT_THAT(r.message(), HasSubstr("at 'ttlDuration.unit'"));
  EXPECT_THAT(r.message(),
              HasSubstr("Value '0' at 'ttlDuration.value' failed to satisfy constraint: "
                        "Member must have value greater than or equal to 1"));
  std::string long_name(151, 'a');
  r = Put(long_name, kC001);
  EXPECT_THAT(r.message(), HasSubstr("Member must have length less than or equal to 150"));
  r = Call("PUT", "/FeatureGroup/customer-features", "{\"Record\":[");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message(), HasSubstr("not valid JSON"));
  r = Call("GET", "/FeatureGroup/customer-features");
  EXPECT_THAT(r.message(), HasSubstr("Value null at 'recordIdentifierValueAsString'"));
  r = Call(
      "GET",
      "/FeatureGroup/customer-features?RecordIdentifierValueAsString=x&ExpirationTimeResponse=On");
  EXPECT_THAT(r.message(), HasSubstr("enum value set: [Enabled, Disabled]"));
  // Nothing was written by any of these.
  EXPECT_EQ(store_->outbox()->LastSeq(), 0u);
}

TEST_F(RuntimeApiTest, RecordValidationNamesTheFeatureAndWritesNothing) {
  auto rec = kC001;
  rec[9].second = "high";
  Reply r = Put("customer-features", rec);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.message(),
            "feature 'loyalty_score' is Fractional but got \"high\": expected a finite decimal "
            "number such as \"0.85\" or \"1e-3\"");
  r = Put("customer-features", {{"customer_id", "C1"}, {"event_time", "yesterday"}});
  EXPECT_THAT(r.message(), HasSubstr("\"yesterday\""));
  r = Put("customer-features", {{"customer_id", "C1"}, {"event_time", "1"}, {"color", "red"}});
  EXPECT_THAT(r.message(),
              HasSubstr("feature 'color' is not defined in feature group 'customer-features'"));
  EXPECT_EQ(store_->outbox()->LastSeq(), 0u);
  EXPECT_EQ(Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=C1").body,
            "{}");
}

TEST_F(RuntimeApiTest, DeeplyNestedBodiesAreRejectedWithoutExhaustingTheStack) {
  // A million nested arrays used to recurse once per level in the parser; this body must be an
  // ordinary validation error on every body-carrying route, and the store must stay untouched.
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  for (const auto& body : {deep, "{\"Record\":" + deep + "}"}) {
    Reply r = Call("PUT", "/FeatureGroup/customer-features", body);
    EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
    EXPECT_EQ(r.error_code, "ValidationError");
    r = Call("POST", "/BatchGetRecord", "{\"Identifiers\":" + deep + "}");
    EXPECT_EQ(r.status, 400);
    r = Call("POST", "/BatchWriteRecord", "{\"Entries\":" + deep + "}");
    EXPECT_EQ(r.status, 400);
  }
  EXPECT_EQ(store_->outbox()->LastSeq(), 0u);
}

TEST_F(RuntimeApiTest, GroupStateAndStoresAreChecked) {
  Reply r = Put("still-creating", kC001);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message(), HasSubstr("status is Creating"));
  r = Call("GET", "/FeatureGroup/offline-only?RecordIdentifierValueAsString=C001");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code, "ValidationError");
  EXPECT_THAT(r.message(), HasSubstr("has no online store"));
  EXPECT_EQ(Put("offline-only", kC001).status, 200);  // writes go to the offline store
  r = Put("offline-only", kC001, ",\"TargetStores\":[\"OnlineStore\"]");
  EXPECT_THAT(r.message(),
              HasSubstr("TargetStores includes OnlineStore but feature group 'offline-only'"));
  r = Put("online-only", kC001, ",\"TargetStores\":[\"OfflineStore\"]");
  EXPECT_THAT(r.message(), HasSubstr("has no offline store"));
  // TargetStores OnlineStore only: online row, no outbox entry.
  uint64_t before = store_->outbox()->LastSeq();
  ASSERT_EQ(Put("customer-features", kC001, ",\"TargetStores\":[\"OnlineStore\"]").status, 200);
  EXPECT_EQ(store_->outbox()->LastSeq(), before);
  EXPECT_NE(Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=C001").body,
            "{}");
}

TEST_F(RuntimeApiTest, DeleteRecordSoftAndHard) {
  ASSERT_EQ(Put("customer-features", kC001).status, 200);
  const std::string base = "/FeatureGroup/customer-features?RecordIdentifierValueAsString=C001";
  // Not later than the record: soft delete keeps it (but writes the marker); hard delete fails.
  Reply r = Call("DELETE", base + "&EventTime=1700000000");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.operation, "DeleteRecord");
  EXPECT_NE(Call("GET", base).body, "{}");
  r = Call("DELETE", base + "&EventTime=1699999999&DeletionMode=HardDelete");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code, "ValidationError");
  EXPECT_THAT(r.message(), HasSubstr("is not later than the EventTime"));
  EXPECT_EQ(store_->outbox()->LastSeq(), 2u);  // put + the soft marker, no hard marker
  r = Call("DELETE", base + "&EventTime=2023-11-14T22:13:21Z");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("GET", base).body, "{}");
  ASSERT_EQ(Call("POST", "/FeatureGroup/customer-features/ListRecords",
                 "{\"IncludeSoftDeletedRecords\":true}")
                .json["RecordIdentifiers"]
                .Size(),
            1u);
  r = Call("DELETE", base + "&EventTime=1700000002&DeletionMode=HardDelete");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("POST", "/FeatureGroup/customer-features/ListRecords",
                 "{\"IncludeSoftDeletedRecords\":true}")
                .json["RecordIdentifiers"]
                .Size(),
            0u);
  auto entries = store_->outbox()->Read(0, 10);
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_TRUE((*entries)[3].is_deleted);
  auto marker = catalog::DecodeRecord((*entries)[3].record);
  ASSERT_TRUE(marker.ok());
  EXPECT_EQ(catalog::ScalarAt(*marker, 0), "C001");
  EXPECT_EQ(catalog::ScalarAt(*marker, 1), "1700000002");

  r = Call("DELETE", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=C001");
  EXPECT_THAT(r.message(), HasSubstr("Value null at 'eventTime'"));
  r = Call("DELETE", base + "&EventTime=soon");
  EXPECT_THAT(r.message(), HasSubstr("\"soon\""));
  r = Call("DELETE", base + "&EventTime=1&DeletionMode=Shred");
  EXPECT_THAT(r.message(), HasSubstr("[SoftDelete, HardDelete]"));
  r = Call("DELETE", base + "&EventTime=1800000000&TargetStores=OfflineStore");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(store_->outbox()->LastSeq(), 5u);
}

TEST_F(RuntimeApiTest, TypedGroupCanonicalizesIdentifiersAndCollections) {
  Reply r = Call("PUT", "/FeatureGroup/typed",
                 R"({"Record":[{"FeatureName":"id","ValueAsString":"7.0"},
                               {"FeatureName":"ts","ValueAsString":"1.7e9"},
                               {"FeatureName":"tags","ValueAsStringList":["a","b","a"]},
                               {"FeatureName":"vec","ValueAsStringList":["0.5","1"]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Reply get = Call("GET", "/FeatureGroup/typed?RecordIdentifierValueAsString=7");
  ASSERT_EQ(get.status, 200);
  std::map<std::string, std::string> f = Features(get.json["Record"]);
  EXPECT_EQ(f["id"], "7");
  EXPECT_EQ(f["tags"], "a|b|");
  EXPECT_EQ(f["vec"], "0.5|1|");
  get = Call("GET", "/FeatureGroup/typed?RecordIdentifierValueAsString=7.0");  // same record
  EXPECT_EQ(Features(get.json["Record"])["id"], "7");
  // InMemory groups do not replicate to the offline store.
  EXPECT_EQ(store_->outbox()->LastSeq(), 0u);
  r = Call(
      "PUT", "/FeatureGroup/typed",
      R"({"Record":[{"FeatureName":"id","ValueAsString":"8"},{"FeatureName":"ts","ValueAsString":"1"},
                         {"FeatureName":"vec","ValueAsStringList":["0.5",null]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message(), HasSubstr("'vec' has a null item"));
}

TEST_F(RuntimeApiTest, BatchGetRecordAcrossGroupsWithErrors) {
  ASSERT_EQ(Put("customer-features", kC001).status, 200);
  auto rec = kC001;
  rec[0].second = "C042";
  ASSERT_EQ(Put("customer-features", rec).status, 200);
  Reply r = Call("POST", "/BatchGetRecord", R"({"Identifiers":[
      {"FeatureGroupName":"customer-features","RecordIdentifiersValueAsString":["C001","C042","C100"]},
      {"FeatureGroupName":"customer-features","RecordIdentifiersValueAsString":["C042"],
       "FeatureNames":["loyalty_score"]},
      {"FeatureGroupName":"nope","RecordIdentifiersValueAsString":["a","b"]},
      {"FeatureGroupName":"offline-only","RecordIdentifiersValueAsString":["a"]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.operation, "BatchGetRecord");
  const auto& records = r.json["Records"];
  ASSERT_EQ(records.Size(), 3u);  // C100 is left out
  EXPECT_STREQ(records[0]["RecordIdentifierValueAsString"].GetString(), "C001");
  EXPECT_STREQ(records[1]["RecordIdentifierValueAsString"].GetString(), "C042");
  EXPECT_STREQ(records[0]["FeatureGroupName"].GetString(), "customer-features");
  EXPECT_EQ(Features(records[2]["Record"]).size(), 1u);
  const auto& errors = r.json["Errors"];
  ASSERT_EQ(errors.Size(), 3u);
  EXPECT_STREQ(errors[0]["ErrorCode"].GetString(), "ResourceNotFound");
  EXPECT_STREQ(errors[0]["RecordIdentifierValueAsString"].GetString(), "a");
  EXPECT_STREQ(errors[1]["RecordIdentifierValueAsString"].GetString(), "b");
  EXPECT_STREQ(errors[2]["ErrorCode"].GetString(), "ValidationError");
  EXPECT_TRUE(r.json["UnprocessedIdentifiers"].IsArray());

  std::string ids;
  for (int i = 0; i < 101; ++i) ids += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  r = Call(
      "POST", "/BatchGetRecord",
      R"({"Identifiers":[{"FeatureGroupName":"customer-features","RecordIdentifiersValueAsString":[)" +
          ids + "]}]}");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.message(), HasSubstr("Member must have length less than or equal to 100"));
  r = Call("POST", "/BatchGetRecord", "{}");
  EXPECT_THAT(r.message(), HasSubstr("Value null at 'identifiers'"));
}

TEST_F(RuntimeApiTest, BatchWriteRecordCommitsValidEntriesAndReportsTheRest) {
  Reply r = Call("POST", "/BatchWriteRecord", R"({"Entries":[
      {"FeatureGroupName":"customer-features","Record":[
          {"FeatureName":"customer_id","ValueAsString":"B1"},{"FeatureName":"event_time","ValueAsString":"1700000000"}]},
      {"FeatureGroupName":"customer-features","Record":[
          {"FeatureName":"customer_id","ValueAsString":"B2"},{"FeatureName":"event_time","ValueAsString":"never"}]},
      {"FeatureGroupName":"nope","Record":[{"FeatureName":"customer_id","ValueAsString":"B3"}]},
      {"FeatureGroupName":"ttl-group","Record":[
          {"FeatureName":"customer_id","ValueAsString":"B4"},{"FeatureName":"event_time","ValueAsString":"1700000000"}]}],
      "TtlDuration":{"Unit":"Seconds","Value":5}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.operation, "BatchWriteRecord");
  const auto& errors = r.json["Errors"];
  ASSERT_EQ(errors.Size(), 2u);
  EXPECT_STREQ(errors[0]["ErrorCode"].GetString(), "ValidationError");
  EXPECT_STREQ(errors[0]["Entry"]["Record"][0]["ValueAsString"].GetString(), "B2");
  EXPECT_THAT(errors[0]["ErrorMessage"].GetString(), HasSubstr("\"never\""));
  EXPECT_STREQ(errors[1]["ErrorCode"].GetString(), "ResourceNotFound");
  EXPECT_EQ(r.json["UnprocessedEntries"].Size(), 0u);
  EXPECT_NE(Call("GET", "/FeatureGroup/customer-features?RecordIdentifierValueAsString=B1").body,
            "{}");
  // The request-level TTL applies to entries without their own (and overrides the group default).
  Reply get = Call(
      "GET",
      "/FeatureGroup/ttl-group?RecordIdentifierValueAsString=B4&ExpirationTimeResponse=Enabled");
  EXPECT_STREQ(get.json["ExpiresAt"].GetString(), "2023-11-14T22:13:25.000Z");
  r = Call("POST", "/BatchWriteRecord", "{\"Entries\":[]}");
  EXPECT_THAT(
      r.message(),
      HasSubstr("at 'entries' failed to satisfy constraint: Member must have length greater"));
}

TEST_F(RuntimeApiTest, ListRecordsPaginates) {
  for (int i = 0; i < 7; ++i) {
    auto rec = kC001;
    rec[0].second = "L" + std::to_string(i);
    ASSERT_EQ(Put("customer-features", rec).status, 200);
  }
  std::vector<std::string> all;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    std::string body =
        "{\"MaxResults\":3" + (token.empty() ? "" : ",\"NextToken\":\"" + token + "\"") + "}";
    Reply r = Call("POST", "/FeatureGroup/customer-features/ListRecords", body);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& id : r.json["RecordIdentifiers"].GetArray()) all.push_back(id.GetString());
    if (!r.json.HasMember("NextToken")) break;
    token = r.json["NextToken"].GetString();
  }
  EXPECT_EQ(all, (std::vector<std::string>{"L0", "L1", "L2", "L3", "L4", "L5", "L6"}));
  Reply r = Call("POST", "/FeatureGroup/customer-features/ListRecords", "{\"MaxResults\":101}");
  EXPECT_THAT(r.message(), HasSubstr("Member must have value less than or equal to 100"));
  r = Call("POST", "/FeatureGroup/customer-features/ListRecords", "{\"NextToken\":\"zz\"}");
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/FeatureGroup/nope/ListRecords", "");
  EXPECT_EQ(r.status, 404);
}

TEST_F(RuntimeApiTest, UnknownRoutes) {
  Reply r = Call("PATCH", "/FeatureGroup/customer-features");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code, "UnknownOperationException");
  EXPECT_EQ(Call("POST", "/FeatureGroup/customer-features/Other", "{}").status, 404);
  EXPECT_EQ(Call("GET", "/BatchGetRecord").status, 404);
}

}  // namespace
}  // namespace larder::server
