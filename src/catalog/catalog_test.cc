#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "catalog/catalog_test_util.h"

namespace larder::catalog {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::CustomerGroup;
using testing::Feature;
using testing::InMemoryGroup;

constexpr milliseconds kWait{10000};

class CatalogTest : public ::testing::Test {
 protected:
  CatalogTest() {
    std::string tmpl = (fs::temp_directory_path() / "larder-catalog-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    options_.data_dir = dir_;
    options_.region = "eu-west-1";
    options_.account_id = "123456789012";
    options_.clock = &clock_;
  }
  ~CatalogTest() override {
    catalog_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Catalog* Open(bool start = true) {
    catalog_.reset();
    auto c = Catalog::Open(options_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(c).value();
    if (start) catalog_->Start();
    return catalog_.get();
  }

  GroupPtr CreateAndWait(FeatureGroup g) {
    auto created = catalog_->CreateGroup(std::move(g));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    EXPECT_TRUE(catalog_->WaitForIdle(kWait));
    auto now = catalog_->Lookup((*created)->name);
    EXPECT_TRUE(now.ok());
    return *now;
  }

  std::string dir_;
  FakeClock clock_{1'700'000'000'250'000};
  CatalogOptions options_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogTest, CreateReturnsCreatingThenWorkerMakesItCreated) {
  Catalog* c = Open(/*start=*/false);
  auto created = c->CreateGroup(CustomerGroup("Customer-Features"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const FeatureGroup& g = **created;
  EXPECT_EQ(g.status, GroupStatus::kCreating);
  EXPECT_EQ(g.arn, "arn:aws:sagemaker:eu-west-1:123456789012:feature-group/customer-features");
  EXPECT_DOUBLE_EQ(g.creation_time, 1700000000.25);
  EXPECT_EQ(g.last_modified_time, 0);
  EXPECT_EQ(g.resolved_output_s3_uri,
            "s3://bucket/feature-store/123456789012/sagemaker/eu-west-1/offline-store/"
            "Customer-Features-1700000000/data");
  EXPECT_EQ(g.data_catalog, "AwsDataCatalog");
  EXPECT_EQ(g.data_database, "sagemaker_featurestore");
  EXPECT_EQ(g.table_name, "Customer-Features_1700000000");
  EXPECT_EQ(g.throughput_mode, "OnDemand");
  EXPECT_DOUBLE_EQ(g.features[0].metadata.creation_time, 1700000000.25);
  EXPECT_EQ(g.offline_store_status(), "Active");
  // Until the worker runs it stays Creating.
  EXPECT_EQ((*c->Lookup("customer-features"))->status, GroupStatus::kCreating);
  EXPECT_FALSE(c->WaitForIdle(milliseconds(1)));

  c->Start();
  ASSERT_TRUE(c->WaitForIdle(kWait));
  EXPECT_EQ((*c->Lookup("Customer-Features"))->status, GroupStatus::kCreated);
  // The group returned by Create is an immutable version: unchanged.
  EXPECT_EQ(g.status, GroupStatus::kCreating);
}

TEST_F(CatalogTest, LookupByNameIgnoringCaseAndByArn) {
  Catalog* c = Open();
  GroupPtr g = CreateAndWait(CustomerGroup("Fg-One"));
  EXPECT_EQ((*c->Lookup("fg-one"))->id, g->id);
  EXPECT_EQ((*c->Lookup("FG-ONE"))->id, g->id);
  EXPECT_EQ((*c->Lookup(g->arn))->id, g->id);
  EXPECT_EQ((*c->GetById(g->id))->name, "Fg-One");

  auto other_account = c->Lookup("arn:aws:sagemaker:eu-west-1:999999999999:feature-group/fg-one");
  ASSERT_FALSE(other_account.ok());
  EXPECT_EQ(other_account.status().code(), StatusCode::kNotFound);
  auto missing = c->Lookup("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name nope");
  EXPECT_FALSE(c->Lookup("arn:aws:sagemaker:eu-west-1:123456789012:training-job/x").ok());
}

TEST_F(CatalogTest, DuplicateNamesAndTheGroupQuota) {
  options_.max_groups = 2;
  Catalog* c = Open();
  ASSERT_TRUE(c->CreateGroup(CustomerGroup("a")).ok());
  auto dup = c->CreateGroup(CustomerGroup("A"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(),
            "Resource Already Exists: FeatureGroup with name A already exists. Choose a "
            "different name.");
  ASSERT_TRUE(c->CreateGroup(CustomerGroup("b")).ok());
  auto third = c->CreateGroup(CustomerGroup("c"));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("'Maximum number of feature groups' is 2"),
            std::string::npos);
  // Invalid definitions never reach the store.
  FeatureGroup bad = CustomerGroup("d");
  bad.record_identifier_name = "missing";
  auto invalid = c->CreateGroup(bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, DeleteRunsHooksRemovesAndArchives) {
  Catalog* c = Open(/*start=*/false);
  std::vector<std::string> dropped;
  c->AddDeletionHook([&](const FeatureGroup& g) {
    dropped.push_back(g.name);
    return Status::OK();
  });
  c->Start();
  GroupPtr g = CreateAndWait(CustomerGroup("doomed"));
  ASSERT_TRUE(c->DeleteGroup("doomed").ok());
  // Deleting twice is a no-op while the first delete runs (or after, NotFound).
  Status again = c->DeleteGroup("doomed");
  EXPECT_TRUE(again.ok() || again.code() == StatusCode::kNotFound) << again.ToString();
  ASSERT_TRUE(c->WaitForIdle(kWait));
  EXPECT_EQ(dropped, std::vector<std::string>{"doomed"});
  auto gone = c->Lookup("doomed");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  // The archived definition stays reachable by id (queued offline rows need it).
  auto archived = c->GetById(g->id);
  ASSERT_TRUE(archived.ok());
  EXPECT_EQ((*archived)->name, "doomed");
  EXPECT_EQ(c->DeleteGroup("doomed").code(), StatusCode::kNotFound);
  EXPECT_EQ(c->DeleteGroup(g->arn).code(), StatusCode::kNotFound);  // names only

  // Re-creating the name gets a new id.
  GroupPtr again_created = CreateAndWait(CustomerGroup("doomed"));
  EXPECT_GT(again_created->id, g->id);
}

TEST_F(CatalogTest, FailingHooksGiveCreateFailedAndDeleteFailed) {
  Catalog* c = Open(/*start=*/false);
  std::atomic<bool> fail_delete{true};
  c->AddCreationHook([](const FeatureGroup& g) {
    if (g.name == "bad-create") return Status::IOError("cannot create table for bad-create");
    return Status::OK();
  });
  c->AddDeletionHook([&](const FeatureGroup&) {
    return fail_delete ? Status::IOError("online store unavailable") : Status::OK();
  });
  c->Start();
  GroupPtr failed = CreateAndWait(CustomerGroup("bad-create"));
  EXPECT_EQ(failed->status, GroupStatus::kCreateFailed);
  EXPECT_EQ(failed->failure_reason, "cannot create table for bad-create");

  CreateAndWait(CustomerGroup("sticky"));
  ASSERT_TRUE(c->DeleteGroup("sticky").ok());
  ASSERT_TRUE(c->WaitForIdle(kWait));
  auto s = c->Lookup("sticky");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->status, GroupStatus::kDeleteFailed);
  EXPECT_EQ((*s)->failure_reason, "online store unavailable");
  fail_delete = false;
  ASSERT_TRUE(c->DeleteGroup("sticky").ok());
  ASSERT_TRUE(c->WaitForIdle(kWait));
  EXPECT_FALSE(c->Lookup("sticky").ok());
}

TEST_F(CatalogTest, UnavailableHooksPostponeTheStepToTheNextOpen) {
  Catalog* c = Open(/*start=*/false);
  c->AddDeletionHook(
      [](const FeatureGroup&) { return Status::Unavailable("online store shutting down"); });
  c->Start();
  CreateAndWait(CustomerGroup("later"));
  ASSERT_TRUE(c->DeleteGroup("later").ok());
  ASSERT_TRUE(c->WaitForIdle(kWait));
  EXPECT_EQ((*c->Lookup("later"))->status, GroupStatus::kDeleting);  // not DeleteFailed

  c = Open(/*start=*/false);
  EXPECT_EQ((*c->Lookup("later"))->status, GroupStatus::kDeleting);
  int runs = 0;
  c->AddDeletionHook([&](const FeatureGroup&) {
    ++runs;
    return Status::OK();
  });
  c->Start();
  ASSERT_TRUE(c->WaitForIdle(kWait));
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(c->Lookup("later").ok());
}

TEST_F(CatalogTest, SurvivesReopenWithIdsNeverReused) {
  Catalog* c = Open();
  GroupPtr a = CreateAndWait(CustomerGroup("a"));
  GroupPtr b = CreateAndWait(CustomerGroup("b"));
  ASSERT_TRUE(c->DeleteGroup("b").ok());
  ASSERT_TRUE(c->WaitForIdle(kWait));
  ASSERT_TRUE(c->AddTags(a->arn, {{"team", "ml"}}).ok());

  c = Open();
  auto a2 = c->Lookup("a");
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ((*a2)->id, a->id);
  EXPECT_EQ((*a2)->status, GroupStatus::kCreated);
  EXPECT_EQ((*a2)->tags.size(), 1u);
  EXPECT_EQ((*a2)->FeatureIndex("loyalty_score"), 4);
  EXPECT_FALSE(c->Lookup("b").ok());
  EXPECT_TRUE(c->GetById(b->id).ok());
  GroupPtr d = CreateAndWait(CustomerGroup("d"));
  EXPECT_GT(d->id, b->id);
}

TEST_F(CatalogTest, FinishesCreatingAndDeletingLeftByACrash) {
  // A catalog whose worker never ran: the persisted states are Creating and Deleting, as after
  // a kill -9 between the acknowledgement and the worker's step.
  Catalog* c = Open();
  CreateAndWait(CustomerGroup("to-delete"));
  c = Open(/*start=*/false);
  ASSERT_TRUE(c->CreateGroup(CustomerGroup("half-created")).ok());
  ASSERT_TRUE(c->DeleteGroup("to-delete").ok());
  EXPECT_EQ((*c->Lookup("to-delete"))->status, GroupStatus::kDeleting);

  c = Open(/*start=*/false);
  EXPECT_EQ((*c->Lookup("half-created"))->status, GroupStatus::kCreating);
  EXPECT_EQ((*c->Lookup("to-delete"))->status, GroupStatus::kDeleting);
  std::vector<std::string> dropped;
  c->AddDeletionHook([&](const FeatureGroup& g) {
    dropped.push_back(g.name);
    return Status::OK();
  });
  c->Start();
  ASSERT_TRUE(c->WaitForIdle(kWait));
  EXPECT_EQ((*c->Lookup("half-created"))->status, GroupStatus::kCreated);
  EXPECT_FALSE(c->Lookup("to-delete").ok());
  EXPECT_EQ(dropped, std::vector<std::string>{"to-delete"});
}

TEST_F(CatalogTest, UpdatesPublishNewVersionsAndKeepOldOnesIntact) {
  Catalog* c = Open();
  GroupPtr v1 = CreateAndWait(CustomerGroup("fg"));
  clock_.AdvanceMicros(5'000'000);
  auto v2 = c->AddFeatures("fg", {Feature("new_score", FeatureType::kIntegral)});
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v1->features.size(), 5u);
  EXPECT_EQ((*v2)->features.size(), 6u);
  EXPECT_EQ((*v2)->FeatureIndex("new_score"), 5);
  EXPECT_DOUBLE_EQ((*v2)->last_modified_time, 1700000005.25);
  EXPECT_DOUBLE_EQ((*v2)->features[5].metadata.creation_time, 1700000005.25);
  EXPECT_EQ((*v2)->last_update_status, "Successful");

  auto dup = c->AddFeatures("fg", {Feature("loyalty_score", FeatureType::kString)});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'loyalty_score'"), std::string::npos);

  auto ttl = c->SetDefaultTtl(v1->arn, TtlDuration{TtlUnit::kDays, 3});
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_EQ((*ttl)->ttl->Seconds(), 3 * 86400);
  auto cleared = c->SetDefaultTtl("fg", std::nullopt);
  ASSERT_TRUE(cleared.ok());
  EXPECT_FALSE((*cleared)->ttl.has_value());

  auto prov = c->UpdateThroughput("fg", {"Provisioned", 10, 20});
  ASSERT_TRUE(prov.ok()) << prov.status().ToString();
  EXPECT_EQ((*prov)->throughput_mode, "Provisioned");
  EXPECT_EQ(*(*prov)->provisioned_read_capacity_units, 10);
  auto wcu_only = c->UpdateThroughput("fg", {std::nullopt, std::nullopt, 30});
  ASSERT_TRUE(wcu_only.ok()) << wcu_only.status().ToString();
  EXPECT_EQ(*(*wcu_only)->provisioned_read_capacity_units, 10);
  EXPECT_EQ(*(*wcu_only)->provisioned_write_capacity_units, 30);
  auto back = c->UpdateThroughput("fg", {"OnDemand", std::nullopt, std::nullopt});
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE((*back)->provisioned_read_capacity_units.has_value());
  ASSERT_TRUE(c->UpdateThroughput("fg", {"Provisioned", 1, 1}).ok());
  auto too_soon = c->UpdateThroughput("fg", {"OnDemand", std::nullopt, std::nullopt});
  ASSERT_FALSE(too_soon.ok());
  EXPECT_NE(too_soon.status().message().find("once per 24 hours"), std::string::npos);
  clock_.AdvanceMicros(int64_t{25} * 3600 * 1'000'000);
  EXPECT_TRUE(c->UpdateThroughput("fg", {"OnDemand", std::nullopt, std::nullopt}).ok());
}

TEST_F(CatalogTest, UpdatesNeedACreatedGroup) {
  Catalog* c = Open(/*start=*/false);
  ASSERT_TRUE(c->CreateGroup(CustomerGroup("young")).ok());
  auto early = c->AddFeatures("young", {Feature("x", FeatureType::kString)});
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(early.status().message().find("young is Creating"), std::string::npos);
  // Metadata and tags may change in any live status.
  EXPECT_TRUE(c->UpdateFeatureMetadata("young", "customer_id", {"the key", {}, {}}).ok());
}

TEST_F(CatalogTest, FeatureMetadataAndTags) {
  Catalog* c = Open();
  GroupPtr g = CreateAndWait(CustomerGroup("fg"));
  clock_.AdvanceMicros(1'000'000);
  Catalog::FeatureMetadataUpdate u;
  u.description = "lifetime spend";
  u.parameter_additions = {{"unit", "usd"}, {"owner", "growth"}};
  auto v = c->UpdateFeatureMetadata("fg", "total_purchases", u);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const FeatureMetadata& m = (*v)->FindFeature("total_purchases")->metadata;
  EXPECT_EQ(m.description, "lifetime spend");
  EXPECT_EQ(m.parameters.size(), 2u);
  EXPECT_DOUBLE_EQ(m.last_modified_time, 1700000001.25);
  EXPECT_DOUBLE_EQ(m.creation_time, 1700000000.25);

  // Empty lists (what the SDK always sends) only bump LastModifiedTime.
  clock_.AdvanceMicros(1'000'000);
  auto v2 = c->UpdateFeatureMetadata("fg", "total_purchases", {});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ((*v2)->FindFeature("total_purchases")->metadata.description, "lifetime spend");
  EXPECT_DOUBLE_EQ((*v2)->FindFeature("total_purchases")->metadata.last_modified_time,
                   1700000002.25);

  Catalog::FeatureMetadataUpdate r;
  r.parameter_removals = {"unit", "never-there"};
  auto v3 = c->UpdateFeatureMetadata("fg", "total_purchases", r);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ((*v3)->FindFeature("total_purchases")->metadata.parameters.count("unit"), 0u);

  Catalog::FeatureMetadataUpdate both;
  both.parameter_additions = {{"k", "v"}};
  both.parameter_removals = {"k"};
  EXPECT_EQ(c->UpdateFeatureMetadata("fg", "total_purchases", both).status().code(),
            StatusCode::kInvalidArgument);
  auto unknown = c->UpdateFeatureMetadata("fg", "nope", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("nope"), std::string::npos);

  ASSERT_TRUE(c->AddTags(g->arn, {{"team", "ml"}, {"env", "dev"}}).ok());
  auto t = c->AddTags(g->arn, {{"env", "prod"}});
  ASSERT_TRUE(t.ok());
  ASSERT_EQ((*t)->tags.size(), 2u);
  EXPECT_EQ((*t)->tags[1], std::make_pair(std::string("env"), std::string("prod")));
  auto d = c->DeleteTags(g->arn, {"team", "absent"});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ((*d)->tags.size(), 1u);
  EXPECT_EQ(c->AddTags("fg", {{"a", "b"}}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c->AddTags(g->arn, {{"aws:owner", "x"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, ReadersSeeConsistentVersionsWhileWritersRun) {
  Catalog* c = Open();
  CreateAndWait(CustomerGroup("hot"));
  std::atomic<bool> done{false};
  std::atomic<int> lookups{0};
  std::thread reader([&] {
    while (!done) {
      auto g = c->Lookup("hot");
      ASSERT_TRUE(g.ok());
      // A version is internally consistent: its index matches its features.
      const FeatureGroup& v = **g;
      ASSERT_EQ(v.FeatureIndex(v.features.back().name), static_cast<int>(v.features.size()) - 1);
      ++lookups;
    }
  });
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        c->AddFeatures("hot", {Feature("f" + std::to_string(i), FeatureType::kString)}).ok());
    ASSERT_TRUE(c->CreateGroup(CustomerGroup("g" + std::to_string(i))).ok());
  }
  done = true;
  reader.join();
  EXPECT_GT(lookups.load(), 0);
  ASSERT_TRUE(c->WaitForIdle(kWait));
  int n = 0;
  c->ForEach([&](const GroupPtr&) { ++n; });
  EXPECT_EQ(n, 21);
}

TEST_F(CatalogTest, MemStoreCatalogAndBadOptions) {
  CatalogOptions o = options_;
  o.account_id = "12345";
  EXPECT_EQ(Catalog::Open(o, std::make_unique<MemCatalogStore>()).status().code(),
            StatusCode::kInvalidArgument);
  o = options_;
  o.data_dir.clear();
  EXPECT_EQ(Catalog::Open(o).status().code(), StatusCode::kInvalidArgument);
  auto c = Catalog::Open(options_, std::make_unique<MemCatalogStore>());
  ASSERT_TRUE(c.ok());
  (*c)->Start();
  ASSERT_TRUE((*c)->CreateGroup(InMemoryGroup("mem")).ok());
  ASSERT_TRUE((*c)->WaitForIdle(kWait));
  EXPECT_EQ((*(*c)->Lookup("mem"))->status, GroupStatus::kCreated);
}

}  // namespace
}  // namespace larder::catalog
