#include "catalog/catalog_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "catalog/catalog_test_util.h"
#include "catalog/group_codec.h"

namespace larder::catalog {
namespace {

namespace fs = std::filesystem;
using testing::CustomerGroup;
using testing::Feature;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "larder-catalog-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteRaw(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

FeatureGroup FullGroup() {
  FeatureGroup g = CustomerGroup("Full-Group_1");
  g.id = 42;
  g.arn = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/full-group_1";
  g.features.push_back(Feature("embedding", FeatureType::kFractional, CollectionType::kVector, 3));
  g.features.back().metadata.description = "vec \"quoted\" \xc3\xa9";
  g.features.back().metadata.parameters = {{"owner", "team-a"}, {"unit", "m/s"}};
  g.features.back().metadata.creation_time = 1700000000.125;
  g.features.back().metadata.last_modified_time = 1700000001.5;
  g.online_storage_type = "InMemory";
  g.online_kms_key_id = "key-1";
  g.ttl = TtlDuration{TtlUnit::kHours, 36};
  g.resolved_output_s3_uri = "s3://bucket/x/data";
  g.offline_kms_key_id = "key-2";
  g.disable_glue_table_creation = true;
  g.data_catalog = "AwsDataCatalog";
  g.data_database = "sagemaker_featurestore";
  g.table_name = "Full-Group_1_1700000000";
  g.table_format = "Iceberg";
  g.throughput_mode = "Provisioned";
  g.provisioned_read_capacity_units = 5;
  g.provisioned_write_capacity_units = 7;
  g.ondemand_switch_time = 1699990000.25;
  g.tags = {{"team", "ml"}, {"env", ""}};
  g.creation_time = 1700000000.123456;
  g.last_modified_time = 1700000100.5;
  g.status = GroupStatus::kCreateFailed;
  g.failure_reason = "disk full";
  g.last_update_status = "Failed";
  g.last_update_failure_reason = "nope";
  g.BuildIndex();
  return g;
}

void ExpectSameGroup(const FeatureGroup& a, const FeatureGroup& b) {
  EXPECT_EQ(EncodeGroup(a), EncodeGroup(b));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  ASSERT_EQ(a.features.size(), b.features.size());
  EXPECT_EQ(b.FeatureIndex("embedding"), a.FeatureIndex("embedding"));
  EXPECT_EQ(b.record_identifier_index(), a.record_identifier_index());
  EXPECT_EQ(b.event_time_index(), a.event_time_index());
}

TEST(GroupCodecTest, RoundTripsEveryField) {
  FeatureGroup g = FullGroup();
  std::string text = EncodeGroup(g);
  StatusOr<FeatureGroup> back = DecodeGroup(text, "test");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameGroup(g, *back);
  EXPECT_EQ(back->ttl->unit, TtlUnit::kHours);
  EXPECT_EQ(back->ttl->value, 36);
  EXPECT_EQ(back->features[5].collection, CollectionType::kVector);
  EXPECT_EQ(back->features[5].vector_dimension, 3);
  EXPECT_EQ(back->features[5].metadata.parameters.at("unit"), "m/s");
  EXPECT_DOUBLE_EQ(back->creation_time, 1700000000.123456);
  EXPECT_EQ(*back->provisioned_write_capacity_units, 7);
  EXPECT_EQ(back->status, GroupStatus::kCreateFailed);
}

TEST(GroupCodecTest, RejectsTruncatedAndForeignDocuments) {
  std::string text = EncodeGroup(FullGroup());
  StatusOr<FeatureGroup> truncated = DecodeGroup(text.substr(0, text.size() / 2), "f.json");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption);
  EXPECT_NE(truncated.status().message().find("f.json"), std::string::npos);

  StatusOr<FeatureGroup> other = DecodeGroup(R"({"format_version":99})", "g.json");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("format_version 99"), std::string::npos);

  StatusOr<FeatureGroup> missing = DecodeGroup(R"({"format_version":1,"id":3})", "h.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing member 'name'"), std::string::npos);
}

TEST(FileCatalogStoreTest, PersistsGroupsIdsAndArchive) {
  TempDir dir;
  uint64_t first = 0;
  {
    auto store = FileCatalogStore::Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto contents = (*store)->Load();
    ASSERT_TRUE(contents.ok());
    EXPECT_TRUE(contents->live.empty());
    EXPECT_EQ(contents->next_id, 1u);
    auto id = (*store)->AllocateId();
    ASSERT_TRUE(id.ok());
    first = *id;
    FeatureGroup g = FullGroup();
    g.id = first;
    ASSERT_TRUE((*store)->PutGroup(g).ok());
    auto id2 = (*store)->AllocateId();
    ASSERT_TRUE(id2.ok());
    EXPECT_GT(*id2, first);
    FeatureGroup h = CustomerGroup("other");
    h.id = *id2;
    h.BuildIndex();
    ASSERT_TRUE((*store)->PutGroup(h).ok());
    ASSERT_TRUE((*store)->DeleteGroup(*id2).ok());
    EXPECT_EQ((*store)->DeleteGroup(*id2).code(), StatusCode::kNotFound);
  }
  // File names are ids, never group names.
  EXPECT_TRUE(fs::exists(dir.path() + "/groups/" + std::to_string(first) + ".json"));
  EXPECT_FALSE(fs::exists(dir.path() + "/groups/Full-Group_1.json"));

  auto store = FileCatalogStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto contents = (*store)->Load();
  ASSERT_TRUE(contents.ok()) << contents.status().ToString();
  ASSERT_EQ(contents->live.size(), 1u);
  EXPECT_EQ(contents->live[0].name, "Full-Group_1");
  EXPECT_EQ(contents->live[0].id, first);
  ASSERT_EQ(contents->archived.size(), 1u);
  EXPECT_EQ(contents->archived[0].name, "other");
  EXPECT_EQ(contents->next_id, first + 2);
  // Ids are never reused, even the archived group's.
  auto id3 = (*store)->AllocateId();
  ASSERT_TRUE(id3.ok());
  EXPECT_EQ(*id3, first + 2);
}

TEST(FileCatalogStoreTest, IgnoresAndRemovesLeftoversOfInterruptedWrites) {
  TempDir dir;
  {
    auto store = FileCatalogStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Load().ok());
    FeatureGroup g = FullGroup();
    g.id = 1;
    ASSERT_TRUE((*store)->PutGroup(g).ok());
  }
  // A crash mid-write leaves a tmp file: a half-written new group and a half-written update.
  std::string half = EncodeGroup(FullGroup()).substr(0, 40);
  WriteRaw(dir.path() + "/groups/2.json.tmp", half);
  WriteRaw(dir.path() + "/groups/1.json.tmp", half);
  WriteRaw(dir.path() + "/NEXT_ID.tmp", "9");
  WriteRaw(dir.path() + "/groups/README", "not a group");

  auto store = FileCatalogStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto contents = (*store)->Load();
  ASSERT_TRUE(contents.ok()) << contents.status().ToString();
  ASSERT_EQ(contents->live.size(), 1u);
  EXPECT_EQ(contents->live[0].id, 1u);
  EXPECT_EQ(contents->live[0].status, GroupStatus::kCreateFailed);  // the old version
  EXPECT_FALSE(fs::exists(dir.path() + "/groups/2.json.tmp"));
  EXPECT_FALSE(fs::exists(dir.path() + "/groups/1.json.tmp"));
  EXPECT_FALSE(fs::exists(dir.path() + "/NEXT_ID.tmp"));
  // The id counter follows the ids on disk even if NEXT_ID is missing.
  EXPECT_EQ(contents->next_id, 2u);
}

TEST(FileCatalogStoreTest, ReportsCorruptFilesInsteadOfDroppingThem) {
  TempDir dir;
  ASSERT_TRUE(FileCatalogStore::Open(dir.path()).ok());
  WriteRaw(dir.path() + "/groups/5.json", "{\"format_version\":1,");
  auto store = FileCatalogStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto contents = (*store)->Load();
  ASSERT_FALSE(contents.ok());
  EXPECT_EQ(contents.status().code(), StatusCode::kCorruption);
  EXPECT_NE(contents.status().message().find("5.json"), std::string::npos);

  // A file whose name disagrees with the id inside is corruption too.
  FeatureGroup g = FullGroup();
  g.id = 6;
  WriteRaw(dir.path() + "/groups/5.json", EncodeGroup(g));
  contents = (*store)->Load();
  ASSERT_FALSE(contents.ok());
  EXPECT_NE(contents.status().message().find("holds group id 6"), std::string::npos);
}

TEST(MemCatalogStoreTest, ArchivesOnDelete) {
  MemCatalogStore store;
  auto id = store.AllocateId();
  ASSERT_TRUE(id.ok());
  FeatureGroup g = CustomerGroup();
  g.id = *id;
  ASSERT_TRUE(store.PutGroup(g).ok());
  ASSERT_TRUE(store.DeleteGroup(*id).ok());
  auto c = store.Load();
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->live.empty());
  ASSERT_EQ(c->archived.size(), 1u);
  EXPECT_EQ(c->next_id, *id + 1);
}

}  // namespace
}  // namespace larder::catalog
