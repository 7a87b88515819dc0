// The cluster's series on /metrics (cluster/status_metrics.h): read from Membership at scrape
// time, DNS counters, and the series of members that left removed.

#include "cluster/status_metrics.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "cluster/resolver.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kS = 1'000'000'000;

// Answers with whatever the test set last.
class FakeResolver : public PeerResolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& name, int port) override {
    std::lock_guard lock(mu_);
    return answer_;
  }
  void Answer(absl::StatusOr<std::vector<std::string>> answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }

 private:
  std::mutex mu_;
  absl::StatusOr<std::vector<std::string>> answer_ = std::vector<std::string>{};
};

std::vector<std::string> Names(const Membership& membership) {
  std::vector<std::string> names;
  for (const MemberStatus& m : membership.StatusSnapshot().members) names.push_back(m.name);
  return names;
}

TEST(StatusMetricsTest, FollowTheMembersStateAtScrapeTime) {
  FakeClock clock(1'764'943'200'000'000'000);
  ClusterOptions options;
  options.self = "10.0.0.1:4317";
  options.static_peers = {"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"};
  auto membership = Membership::Create(options, nullptr, &clock);
  ASSERT_TRUE(membership.ok()) << membership.status();
  MetricsRegistry metrics;
  PublishClusterMetrics(membership->get(), Names(**membership), &metrics);
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_members 3\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_live_members 3\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.1:4317\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.3:4317\"} 1\n"));
  // No DNS membership, no DNS counters.
  EXPECT_THAT(text, Not(HasSubstr("tailtrace_cluster_dns")));

  (*membership)->ReportFailure("10.0.0.3:4317", "connection refused");
  clock.Advance(6 * kS);
  (*membership)->Refresh();
  text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_live_members 2\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.3:4317\"} 0\n"));
}

// Pods replaced get new addresses: the series of members that left go, those that joined come.
TEST(StatusMetricsTest, DnsCountersAndMembersJoiningAndLeaving) {
  FakeClock clock(1'764'943'200'000'000'000);
  FakeResolver resolver;
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"});
  ClusterOptions options;
  options.self = "10.0.0.1:4317";
  options.dns.name = "tailtraced-headless";
  options.dns.port = 4317;
  auto created = Membership::Create(options, &resolver, &clock);
  ASSERT_TRUE(created.ok()) << created.status();
  Membership& membership = **created;
  MetricsRegistry metrics;
  PublishClusterMetrics(&membership, Names(membership), &metrics);
  // Before the first Refresh: self only, no resolution yet.
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE tailtrace_cluster_dns_resolutions_total counter\n"
                              "tailtrace_cluster_dns_resolutions_total 0\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_dns_failures_total 0\n"));

  MembershipChange change = membership.Refresh();
  ASSERT_EQ(change.joined, std::vector<std::string>{"10.0.0.2:4317"});
  PublishClusterMetrics(&membership, change.joined, &metrics);
  text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_members 2\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.2:4317\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_dns_resolutions_total 1\n"));

  // The pod 10.0.0.2 is replaced by 10.0.0.3; then DNS fails once.
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.3:4317"});
  clock.Advance(10 * kS);
  change = membership.Refresh();
  ASSERT_EQ(change.left, std::vector<std::string>{"10.0.0.2:4317"});
  ForgetClusterMembers(change.left, &metrics);
  PublishClusterMetrics(&membership, change.joined, &metrics);
  resolver.Answer(absl::UnavailableError("Temporary failure in name resolution"));
  clock.Advance(10 * kS);
  membership.Refresh();
  text = metrics.RenderPrometheus();
  EXPECT_THAT(text, Not(HasSubstr("10.0.0.2:4317")));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.3:4317\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_members 2\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_dns_resolutions_total 3\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_dns_failures_total 1\n"));
}

}  // namespace
}  // namespace tailtrace::cluster
