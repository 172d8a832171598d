#include "cli/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <regex>

namespace larder::cli {
namespace {

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/larder-datadir-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DataDirTest, LockIsExclusiveAndReleasedOnDestruction) {
  std::filesystem::path data = dir_ / "nested" / "data";
  {
    auto first = DataDirLock::Acquire(data);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_TRUE(std::filesystem::is_directory(data));
    auto second = DataDirLock::Acquire(data);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(second.status().message().find(data.string()), std::string::npos);
    EXPECT_NE(second.status().message().find("(pid " + std::to_string(getpid()) + ")"),
              std::string::npos)
        << second.status().message();
  }
  EXPECT_TRUE(DataDirLock::Acquire(data).ok());
}

TEST_F(DataDirTest, GeneratedCredentialsLookLikeAwsKeys) {
  auto a = GenerateCredentials();
  auto b = GenerateCredentials();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(std::regex_match(a->access_key_id, std::regex("AKIA[A-Z0-9]{16}")))
      << a->access_key_id;
  EXPECT_TRUE(std::regex_match(a->secret_access_key, std::regex("[A-Za-z0-9]{40}")));
  EXPECT_NE(a->access_key_id, b->access_key_id);
  EXPECT_NE(a->secret_access_key, b->secret_access_key);
}

TEST_F(DataDirTest, CredentialsFileIsCreatedPrivateThenReused) {
  std::filesystem::path file = dir_ / "credentials";
  bool created = false;
  auto first = LoadOrCreateCredentials(file, &created);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(created);
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto again = LoadOrCreateCredentials(file, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->access_key_id, first->access_key_id);
  EXPECT_EQ(again->secret_access_key, first->secret_access_key);
}

TEST_F(DataDirTest, HandWrittenCredentialsFileIsRead) {
  std::filesystem::path file = dir_ / "credentials";
  std::ofstream(file)
      << "# mine\n[other]\naws_access_key_id = NOPE\n"
         "[default]\r\naws_access_key_id=AKIAMINE\naws_secret_access_key =  s3cr3t \n";
  auto c = LoadOrCreateCredentials(file, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAMINE");
  EXPECT_EQ(c->secret_access_key, "s3cr3t");
}

TEST_F(DataDirTest, IncompleteCredentialsFileIsAnError) {
  std::filesystem::path file = dir_ / "credentials";
  std::ofstream(file) << "[default]\naws_access_key_id = AKIAMINE\n";
  auto c = LoadOrCreateCredentials(file, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(file.string()), std::string::npos);
  EXPECT_NE(c.status().message().find("aws_secret_access_key"), std::string::npos);
}

}  // namespace
}  // namespace larder::cli
