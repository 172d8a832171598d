#include "cli/serve.h"

#include <gtest/gtest.h>

namespace larder::cli {
namespace {

TEST(ParseListenTest, AcceptsHostPortForms) {
  std::string host;
  uint16_t port = 1;
  ASSERT_TRUE(ParseListen("127.0.0.1:8080", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(ParseListen("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListen("localhost:65535", &host, &port).ok());
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 65535);
}

TEST(ParseListenTest, RejectionsNameTheValue) {
  std::string host;
  uint16_t port = 0;
  for (const char* bad : {"8080", ":8080", "host:", "host:http", "host:65536", "host:1234567"}) {
    Status s = ParseListen(bad, &host, &port);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(std::string("'") + bad + "'"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace larder::cli
