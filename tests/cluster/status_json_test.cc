// /api/cluster's body (cluster/status_json.h).

#include "cluster/status_json.h"

#include <memory>
#include <string>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace tailtrace::cluster {
namespace {

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

// A hand-made status: every field of the dns object, and strings that need escaping.
TEST(StatusJsonTest, RendersTheDnsStateAndEscapesStrings) {
  ClusterStatus status;
  status.self = "10.0.0.1:4317";
  status.members.push_back(MemberStatus{});
  status.members[0].name = "10.0.0.2:4317";
  status.members[0].state = PeerState::kDown;
  status.members[0].from_dns = true;
  status.members[0].last_failure_unix_ns = 1'764'943'200'123'456'789;  // 14:00:00.123456789
  status.members[0].last_error = "UNAVAILABLE: \"peer\"\nclosed";
  status.live_members = 1;
  status.dns_name = "tailtraced-headless.observability.svc.cluster.local";
  status.dns_last_success_unix_ns = 1'764'943'199'000'000'000;
  status.dns_last_error = "Temporary failure in name resolution";
  status.dns_resolutions_total = 12;
  status.dns_failures_total = 2;
  status.self_missing_from_dns = true;

  const std::string body = RenderClusterStatusJson(status);
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(body.c_str()).HasParseError()) << body;
  const auto& member = doc["members"][0];
  EXPECT_FALSE(member["self"].GetBool());
  EXPECT_FALSE(member["static"].GetBool());
  EXPECT_TRUE(member["dns"].GetBool());
  EXPECT_STREQ(member["state"].GetString(), "down");
  EXPECT_TRUE(member["lastSuccess"].IsNull());
  EXPECT_STREQ(member["lastFailure"].GetString(), "2025-12-05T14:00:00.123Z");  // truncated
  EXPECT_STREQ(member["lastError"].GetString(), "UNAVAILABLE: \"peer\"\nclosed");
  const auto& dns = doc["dns"];
  ASSERT_TRUE(dns.IsObject()) << body;
  EXPECT_STREQ(dns["name"].GetString(), "tailtraced-headless.observability.svc.cluster.local");
  EXPECT_STREQ(dns["lastSuccess"].GetString(), "2025-12-05T13:59:59.000Z");
  EXPECT_STREQ(dns["lastError"].GetString(), "Temporary failure in name resolution");
  EXPECT_EQ(dns["resolutions"].GetUint64(), 12u);
  EXPECT_EQ(dns["failures"].GetUint64(), 2u);
  EXPECT_TRUE(dns["selfMissing"].GetBool());
}

}  // namespace
}  // namespace tailtrace::cluster
