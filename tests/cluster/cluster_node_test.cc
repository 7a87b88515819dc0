// ClusterNode as the daemon starts it: membership from a real DNS name through the system
// resolver, and spans routed through its sink.

#include "cluster/cluster_node.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "collector/receivers.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::cluster {
namespace {

using ::testing::Contains;

class CountingSink : public collector::SpanSink {
 public:
  absl::Status Consume(WireRequest&& request) override {
    spans_ += request.spans.size();
    return absl::OkStatus();
  }
  size_t spans() const { return spans_; }

 private:
  std::atomic<size_t> spans_{0};
};

TEST(ClusterNodeTest, LearnsItsMembersFromARealDnsName) {
  CountingSink local;
  storage::InMemoryTraceStore store;
  MetricsRegistry metrics;
  ClusterNodeOptions options;
  options.cluster.self = "127.0.0.1:4317";
  options.cluster.dns =
      DnsPeersOptions{.name = "localhost", .port = 4317, .interval_ns = 1'000'000'000};
  auto node =
      ClusterNode::Start(options, &local, &store, /*resolver=*/nullptr, Clock::Real(), &metrics);
  ASSERT_TRUE(node.ok()) << node.status();
  const ClusterStatus status = (*node)->membership()->StatusSnapshot();
  EXPECT_EQ(status.dns_resolutions_total, 1u);
  EXPECT_EQ(status.dns_last_error, "");
  EXPECT_FALSE(status.self_missing_from_dns) << "localhost resolves to 127.0.0.1";
  std::vector<std::string> names;
  for (const MemberStatus& m : status.members) names.push_back(m.name);
  EXPECT_THAT(names, Contains("127.0.0.1:4317"));
  (*node)->Shutdown(0);
}

TEST(ClusterNodeTest, ASingleMemberTakesEverySpanItself) {
  CountingSink local;
  storage::InMemoryTraceStore store;
  MetricsRegistry metrics;
  ClusterNodeOptions options;
  options.cluster.self = "127.0.0.1:4317";
  auto node = ClusterNode::Start(options, &local, &store, nullptr, Clock::Real(), &metrics);
  ASSERT_TRUE(node.ok()) << node.status();
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  for (uint64_t t = 0; t < 20; ++t) collector::testing::AddSpan(&request, "a", t, t + 1, 0);
  ASSERT_TRUE((*node)->sink()->Consume(collector::testing::Scanned(request)).ok());
  EXPECT_EQ(local.spans(), 20u);
}

TEST(ClusterNodeTest, AnUnreadablePeerTlsFileIsAnErrorNamingIt) {
  CountingSink local;
  storage::InMemoryTraceStore store;
  MetricsRegistry metrics;
  ClusterNodeOptions options;
  options.cluster.self = "127.0.0.1:4317";
  options.cluster.tls.enabled = true;
  options.cluster.tls.ca_file = "/nonexistent/ca.pem";
  auto node = ClusterNode::Start(options, &local, &store, nullptr, Clock::Real(), &metrics);
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(std::string(node.status().message()),
              ::testing::HasSubstr("cluster.tls.ca_file \"/nonexistent/ca.pem\""));
}

}  // namespace
}  // namespace tailtrace::cluster
