// /api/cluster's body and the cluster gauges on /metrics.

#include "cluster/status_json.h"

#include <memory>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace tailtrace::cluster {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kS = 1'000'000'000;

class StatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions options;
    options.self = "10.0.0.1:4317";
    options.static_peers = {"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"};
    auto membership = Membership::Create(options, nullptr, &clock_);
    ASSERT_TRUE(membership.ok()) << membership.status();
    membership_ = *std::move(membership);
  }

  FakeClock clock_{1'764'943'200'000'000'000};  // 2025-12-05T14:00:00Z
  std::unique_ptr<Membership> membership_;
};

TEST_F(StatusTest, RendersEveryMemberWithItsState) {
  membership_->ReportSuccess("10.0.0.2:4317");
  membership_->ReportFailure("10.0.0.3:4317", "connection refused");
  clock_.Advance(6 * kS);
  membership_->Refresh();  // 10.0.0.3 is down now
  rapidjson::Document doc;
  const std::string body = RenderClusterStatusJson(membership_->StatusSnapshot());
  ASSERT_FALSE(doc.Parse(body.c_str()).HasParseError()) << body;
  EXPECT_STREQ(doc["self"].GetString(), "10.0.0.1:4317");
  EXPECT_EQ(doc["liveMembers"].GetUint64(), 2u);
  ASSERT_EQ(doc["members"].Size(), 3u);
  const auto& self = doc["members"][0];
  EXPECT_STREQ(self["name"].GetString(), "10.0.0.1:4317");
  EXPECT_TRUE(self["self"].GetBool());
  EXPECT_TRUE(self["static"].GetBool());
  EXPECT_TRUE(self["lastSuccess"].IsNull());
  const auto& up = doc["members"][1];
  EXPECT_STREQ(up["state"].GetString(), "up");
  EXPECT_STREQ(up["lastSuccess"].GetString(), "2025-12-05T14:00:00.000Z");
  const auto& down = doc["members"][2];
  EXPECT_STREQ(down["state"].GetString(), "down");
  EXPECT_STREQ(down["lastError"].GetString(), "connection refused");
  EXPECT_TRUE(doc["dns"].IsNull());
}

TEST_F(StatusTest, MetricsFollowTheMembersStateAtScrapeTime) {
  MetricsRegistry metrics;
  std::vector<std::string> names;
  for (const MemberStatus& m : membership_->StatusSnapshot().members) names.push_back(m.name);
  PublishClusterMetrics(membership_.get(), names, &metrics);
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_members 3"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_live_members 3"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.3:4317\"} 1"));
  membership_->ReportFailure("10.0.0.3:4317", "connection refused");
  clock_.Advance(6 * kS);
  membership_->Refresh();
  text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_live_members 2"));
  EXPECT_THAT(text, HasSubstr("tailtrace_cluster_peer_up{peer=\"10.0.0.3:4317\"} 0"));
}

}  // namespace
}  // namespace tailtrace::cluster
