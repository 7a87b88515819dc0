// PeerProber over real gRPC: a down peer is up again once it answers a probe, a peer that does
// not answer is reported failing, and only the peers that need it are probed when asked so.

#include "cluster/peer_prober.h"

#include <memory>
#include <string>

#include "cluster/membership.h"
#include "cluster/peer_channels.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/cluster/cluster_test_support.h"

namespace tailtrace::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::TestMember;

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

class PeerProberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    self_ = testing::MemberAt(testing::FreePort());
    peer_ = testing::MemberAt(testing::FreePort());
    ClusterOptions options;
    options.self = self_;
    options.static_peers = {peer_};
    options.peer_timeout_ns = 1 * kS;
    auto membership = Membership::Create(options, nullptr, &clock_);
    ASSERT_TRUE(membership.ok()) << membership.status();
    membership_ = *std::move(membership);
  }

  bool PeerLive() {
    const std::shared_ptr<const Ring> live = membership_->Live();
    return live->IndexOf(peer_).has_value();
  }

  // The peer failed and stayed silent past peer_timeout.
  void TakePeerDown() {
    membership_->ReportFailure(peer_, "connection refused");
    clock_.Advance(2 * kS);
    membership_->Refresh();
    ASSERT_FALSE(PeerLive());
  }

  FakeClock clock_;
  std::string self_;
  std::string peer_;
  std::unique_ptr<Membership> membership_;
  PeerChannels channels_{PeerChannelsOptions{"", "", {}}};
  storage::InMemoryTraceStore store_;
};

TEST_F(PeerProberTest, ADownPeerIsUpAgainOnceItAnswersAProbe) {
  TakePeerDown();
  PeerProber prober({300 * kMs}, membership_.get(), &channels_);

  // Nothing listens yet: the probe fails, and names the peer.
  ProbeReport report = prober.ProbeOnce();
  EXPECT_THAT(report.probed, ElementsAre(peer_));
  EXPECT_THAT(report.up_again, IsEmpty());
  ASSERT_THAT(report.failed, SizeIs(1));
  EXPECT_THAT(report.failed[0], HasSubstr("member " + peer_ + ": "));
  EXPECT_FALSE(PeerLive());

  TestMember member(peer_, &store_);
  clock_.Advance(kS);
  PeerProber patient({5 * kS}, membership_.get(), &channels_);
  report = patient.ProbeOnce();
  EXPECT_THAT(report.up_again, ElementsAre(peer_));
  EXPECT_THAT(report.failed, IsEmpty());
  EXPECT_TRUE(PeerLive());
}

TEST_F(PeerProberTest, APeerThatStopsAnsweringIsReportedFailing) {
  {
    TestMember member(peer_, &store_);
    PeerProber prober({5 * kS}, membership_.get(), &channels_);
    EXPECT_THAT(prober.ProbeOnce().failed, IsEmpty());
  }
  PeerProber prober({300 * kMs}, membership_.get(), &channels_);
  const ProbeReport report = prober.ProbeOnce();
  ASSERT_THAT(report.failed, SizeIs(1));
  const ClusterStatus status = membership_->StatusSnapshot();
  for (const MemberStatus& m : status.members) {
    if (m.name == peer_) {
      EXPECT_THAT(m.last_error, HasSubstr("probe: "));
    }
  }
  // Still within peer_timeout: failing, not yet down.
  EXPECT_TRUE(PeerLive());
}

TEST_F(PeerProberTest, AnotherNodeAtThePeersAddressIsNotThePeer) {
  TakePeerDown();
  QueryServerOptions options;
  options.self = "10.9.9.9:4317";
  TestMember impostor(peer_, &store_, options);
  PeerProber prober({5 * kS}, membership_.get(), &channels_);
  const ProbeReport report = prober.ProbeOnce();
  EXPECT_THAT(report.up_again, IsEmpty());
  ASSERT_THAT(report.failed, SizeIs(1));
  EXPECT_THAT(report.failed[0], HasSubstr("answered as member \"10.9.9.9:4317\""));
  EXPECT_FALSE(PeerLive());
}

TEST_F(PeerProberTest, OnlyFailingOrDownPeersWhenHealthyOnesAreSkipped) {
  TestMember member(peer_, &store_);
  PeerProberOptions options;
  options.timeout_ns = 5 * kS;
  options.probe_healthy_peers = false;
  PeerProber prober(options, membership_.get(), &channels_);
  EXPECT_THAT(prober.ProbeOnce().probed, IsEmpty());

  membership_->ReportFailure(peer_, "timeout");
  EXPECT_THAT(prober.ProbeOnce().probed, ElementsAre(peer_));
  clock_.Advance(kS);
  // It answered: healthy again, so no longer probed.
  EXPECT_THAT(prober.ProbeOnce().probed, IsEmpty());
}

}  // namespace
}  // namespace tailtrace::cluster
