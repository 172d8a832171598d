#include "server/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace larder::server {
namespace {

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(MetricsTest, CountsRequestsErrorsAndDurations) {
  Metrics m;
  m.Record("GetRecord", 200, "", 0.00007);
  m.Record("GetRecord", 200, "", 0.00003);
  m.Record("GetRecord", 404, "ResourceNotFound", 0.0002);
  m.Record("", 403, "AccessForbidden", 0.00001);
  std::string text = m.Serialize();
  EXPECT_TRUE(Contains(text, "# TYPE larder_requests_total counter")) << text;
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="GetRecord",status="200"} 2)"))
      << text;
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="GetRecord",status="404"} 1)"));
  EXPECT_TRUE(Contains(
      text, R"(larder_request_errors_total{code="ResourceNotFound",operation="GetRecord"} 1)"))
      << text;
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="unknown",status="403"} 1)"));
  EXPECT_TRUE(Contains(text, "# TYPE larder_request_duration_seconds histogram"));
  EXPECT_TRUE(Contains(
      text, R"(larder_request_duration_seconds_bucket{operation="GetRecord",le="5e-05"} 1)"))
      << text;
  EXPECT_TRUE(Contains(
      text, R"(larder_request_duration_seconds_bucket{operation="GetRecord",le="0.00025"} 3)"));
  EXPECT_TRUE(Contains(text, R"(larder_request_duration_seconds_count{operation="GetRecord"} 3)"));
  EXPECT_TRUE(Contains(text, R"(le="10")"));
}

TEST(MetricsTest, RejectionsCountWithoutDuration) {
  Metrics m;
  m.RecordRejection(413, "RequestEntityTooLarge");
  std::string text = m.Serialize();
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="unknown",status="413"} 1)"));
  EXPECT_TRUE(Contains(
      text, R"(larder_request_errors_total{code="RequestEntityTooLarge",operation="unknown"} 1)"));
  EXPECT_FALSE(Contains(text, R"(larder_request_duration_seconds_count{operation="unknown"})"));
}

TEST(MetricsTest, OperationLabelsAreCapped) {
  Metrics m;
  for (size_t i = 0; i < Metrics::kMaxOperations + 10; ++i) {
    m.Record("Op" + std::to_string(i), 400, "UnknownOperationException", 0.001);
  }
  std::string text = m.Serialize();
  EXPECT_TRUE(Contains(text, R"(operation="Op0")"));
  EXPECT_FALSE(Contains(text, "operation=\"Op" + std::to_string(Metrics::kMaxOperations) + "\""));
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="other",status="400"} 10)"))
      << text;
}

TEST(MetricsTest, ConcurrentRecordsAreAllCounted) {
  Metrics m;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kPerThread; ++i) {
        m.Record(i % 2 ? "GetRecord" : "PutRecord", 200, "", 0.0001);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = m.Serialize();
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="GetRecord",status="200"} 10000)"))
      << text;
  EXPECT_TRUE(Contains(text, R"(larder_requests_total{operation="PutRecord",status="200"} 10000)"));
}

TEST(MetricsTest, InstancesDoNotShareThreadCaches) {
  auto a = std::make_unique<Metrics>();
  a->Record("GetRecord", 200, "", 0.001);
  a.reset();
  Metrics b;  // may reuse a's address; must not reuse a's cached series
  b.Record("GetRecord", 200, "", 0.001);
  EXPECT_TRUE(
      Contains(b.Serialize(), R"(larder_requests_total{operation="GetRecord",status="200"} 1)"));
}

}  // namespace
}  // namespace larder::server
