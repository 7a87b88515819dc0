// Membership: self + static peers + DNS merged, joins and leaves, DNS failures, peer health
// (down after peer_timeout, up on success), the live ring and the status snapshot.

#include "cluster/membership.h"

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "cluster/resolver.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::cluster {
namespace {

using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;

// Answers with whatever the test set last; counts the calls.
class FakeResolver : public PeerResolver {
 public:
  absl::StatusOr<std::vector<std::string>> Resolve(const std::string& name, int port) override {
    std::lock_guard lock(mu_);
    ++calls_;
    last_name_ = name;
    last_port_ = port;
    return answer_;
  }
  void Answer(absl::StatusOr<std::vector<std::string>> answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::string last_name() {
    std::lock_guard lock(mu_);
    return last_name_ + ":" + std::to_string(last_port_);
  }

 private:
  std::mutex mu_;
  absl::StatusOr<std::vector<std::string>> answer_ = std::vector<std::string>{};
  int calls_ = 0;
  std::string last_name_;
  int last_port_ = 0;
};

ClusterOptions StaticOptions() {
  ClusterOptions options;
  options.self = "10.0.0.1:4317";
  options.static_peers = {"10.0.0.3:4317", "10.0.0.1:4317", "10.0.0.2:4317"};
  return options;
}

ClusterOptions DnsOptions() {
  ClusterOptions options;
  options.self = "10.0.0.1:4317";
  options.dns.name = "tailtrace-headless";
  options.dns.port = 4317;
  return options;
}

std::unique_ptr<Membership> Make(const ClusterOptions& options, PeerResolver* resolver,
                                 Clock* clock) {
  absl::StatusOr<std::unique_ptr<Membership>> m = Membership::Create(options, resolver, clock);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

std::vector<std::string> LiveNames(const Membership& m) { return m.Live()->members(); }

const MemberStatus* Find(const ClusterStatus& status, const std::string& name) {
  for (const MemberStatus& m : status.members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

TEST(MembershipTest, StaticPeersIncludingSelfAreMembersOnce) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  ASSERT_NE(m, nullptr);
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"));
  const MembershipChange change = m->Refresh();  // nothing to resolve
  EXPECT_FALSE(change.resolved);
  EXPECT_FALSE(change.changed());
  EXPECT_EQ(m->self(), "10.0.0.1:4317");
}

// The router hands traces over from the live set before a change; that set must be the one in
// effect just before it, even when nobody read Live() in between (a peer went down and came
// back with no span routed meanwhile).
TEST(MembershipTest, LastChangeRecordsEveryChangeAsItHappens) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->LastChange().previous, nullptr);
  m->ReportFailure("10.0.0.3:4317", "connection refused");
  clock.Advance(6'000'000'000);
  m->Refresh();  // down
  clock.Advance(1'000'000'000);
  m->ReportSuccess("10.0.0.3:4317");  // up again
  const LiveChange change = m->LastChange();
  EXPECT_THAT(change.live->members(),
              ElementsAre("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"));
  ASSERT_NE(change.previous, nullptr);
  EXPECT_THAT(change.previous->members(), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317"));
  EXPECT_EQ(change.changed_ns, clock.MonotonicNanos());
}

TEST(MembershipTest, SelfAloneIsASingleNodeCluster) {
  FakeClock clock;
  ClusterOptions options;
  options.self = "node:4317";
  std::unique_ptr<Membership> m = Make(options, nullptr, &clock);
  EXPECT_THAT(LiveNames(*m), ElementsAre("node:4317"));
}

TEST(MembershipTest, FirstRefreshResolvesAndMergesWithStaticPeersAndSelf) {
  FakeClock clock;
  FakeResolver resolver;
  ClusterOptions options = DnsOptions();
  options.static_peers = {"static.example:4317", "10.0.0.2:4317"};
  resolver.Answer(std::vector<std::string>{"10.0.0.2:4317", "10.0.0.1:4317", "10.0.0.3:4317"});
  std::unique_ptr<Membership> m = Make(options, &resolver, &clock);
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317", "static.example:4317"));

  const MembershipChange change = m->Refresh();
  EXPECT_TRUE(change.resolved);
  EXPECT_TRUE(change.dns_status.ok());
  EXPECT_FALSE(change.self_missing_from_dns);
  EXPECT_EQ(resolver.last_name(), "tailtrace-headless:4317");
  EXPECT_THAT(change.joined, ElementsAre("10.0.0.3:4317"));  // the others were members already
  EXPECT_THAT(change.left, IsEmpty());
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317",
                                         "static.example:4317"));
}

TEST(MembershipTest, ResolvesAgainOnlyAfterTheInterval) {
  FakeClock clock;
  FakeResolver resolver;
  std::unique_ptr<Membership> m = Make(DnsOptions(), &resolver, &clock);
  m->Refresh();
  EXPECT_EQ(resolver.calls(), 1);
  clock.Advance(9 * kS);
  EXPECT_FALSE(m->Refresh().resolved);
  EXPECT_EQ(resolver.calls(), 1);
  clock.Advance(1 * kS);
  EXPECT_TRUE(m->Refresh().resolved);
  EXPECT_EQ(resolver.calls(), 2);
}

TEST(MembershipTest, ReportsWhoJoinedAndWhoLeft) {
  FakeClock clock;
  FakeResolver resolver;
  ClusterOptions options = DnsOptions();
  options.static_peers = {"10.0.0.9:4317"};
  std::unique_ptr<Membership> m = Make(options, &resolver, &clock);
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"});
  m->Refresh();

  resolver.Answer(
      std::vector<std::string>{"10.0.0.1:4317", "10.0.0.3:4317", "10.0.0.5:4317", "10.0.0.4:4317"});
  clock.Advance(10 * kS);
  const MembershipChange change = m->Refresh();
  EXPECT_THAT(change.joined, ElementsAre("10.0.0.4:4317", "10.0.0.5:4317"));
  EXPECT_THAT(change.left, ElementsAre("10.0.0.2:4317"));
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.3:4317", "10.0.0.4:4317",
                                         "10.0.0.5:4317", "10.0.0.9:4317"));

  // Neither self nor a static peer leaves when DNS stops listing it.
  resolver.Answer(std::vector<std::string>{"10.0.0.3:4317", "10.0.0.9:4317"});
  clock.Advance(10 * kS);
  const MembershipChange shrunk = m->Refresh();
  EXPECT_THAT(shrunk.left, ElementsAre("10.0.0.4:4317", "10.0.0.5:4317"));
  EXPECT_TRUE(shrunk.self_missing_from_dns);
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.3:4317", "10.0.0.9:4317"));
}

TEST(MembershipTest, DnsFailureKeepsThePreviousAnswer) {
  FakeClock clock;
  FakeResolver resolver;
  std::unique_ptr<Membership> m = Make(DnsOptions(), &resolver, &clock);
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"});
  m->Refresh();

  resolver.Answer(absl::UnavailableError("cannot resolve: Temporary failure in name resolution"));
  clock.Advance(10 * kS);
  MembershipChange change = m->Refresh();
  EXPECT_TRUE(change.resolved);
  EXPECT_EQ(change.dns_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(change.changed());
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317"));
  ClusterStatus status = m->StatusSnapshot();
  EXPECT_THAT(status.dns_last_error, HasSubstr("Temporary failure"));
  EXPECT_EQ(status.dns_failures_total, 1u);
  EXPECT_EQ(status.dns_resolutions_total, 2u);

  // An empty answer is a failure too: one bad answer must not empty the cluster.
  resolver.Answer(std::vector<std::string>{});
  clock.Advance(10 * kS);
  change = m->Refresh();
  EXPECT_EQ(change.dns_status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317"));

  // The next good answer applies, and clears the error.
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317"});
  clock.Advance(10 * kS);
  change = m->Refresh();
  EXPECT_TRUE(change.dns_status.ok());
  EXPECT_THAT(change.left, ElementsAre("10.0.0.2:4317"));
  status = m->StatusSnapshot();
  EXPECT_EQ(status.dns_last_error, "");
  EXPECT_EQ(status.dns_failures_total, 2u);
}

TEST(MembershipTest, PeerIsDownAfterPeerTimeoutWithoutSuccessAndUpOnSuccess) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  const std::string peer = "10.0.0.2:4317";
  EXPECT_FALSE(m->ReportFailure(peer, "connection refused"));
  clock.Advance(4 * kS);
  EXPECT_FALSE(m->ReportFailure(peer, "connection refused"));
  EXPECT_THAT(LiveNames(*m), Contains(peer));
  clock.Advance(1 * kS);  // 5 s since the first failure
  EXPECT_TRUE(m->ReportFailure(peer, "deadline exceeded"));
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.3:4317"));
  EXPECT_FALSE(m->ReportFailure(peer, "deadline exceeded"));  // already down

  clock.Advance(60 * kS);
  EXPECT_TRUE(m->ReportSuccess(peer));
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"));
  EXPECT_FALSE(m->ReportSuccess(peer));  // already up
}

TEST(MembershipTest, ASuccessRestartsThePeerTimeout) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  const std::string peer = "10.0.0.3:4317";
  m->ReportFailure(peer, "unavailable");
  clock.Advance(3 * kS);
  m->ReportSuccess(peer);
  clock.Advance(1 * kS);
  EXPECT_FALSE(m->ReportFailure(peer, "unavailable"));  // t = 4 s: the timeout counts from here
  clock.Advance(4 * kS);
  EXPECT_FALSE(m->ReportFailure(peer, "unavailable"));  // t = 8 s: 4 s since, still up
  clock.Advance(1 * kS);
  EXPECT_TRUE(m->ReportFailure(peer, "unavailable"));  // t = 9 s: 5 s since
}

TEST(MembershipTest, RefreshMarksDownAPeerWhoseTimeoutRanOutWithoutAnotherReport) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  m->ReportFailure("10.0.0.2:4317", "connection reset");
  clock.Advance(5 * kS - 1);
  EXPECT_THAT(m->Refresh().down, IsEmpty());
  clock.Advance(1);
  const MembershipChange change = m->Refresh();
  EXPECT_THAT(change.down, ElementsAre("10.0.0.2:4317"));
  EXPECT_TRUE(change.changed());
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.3:4317"));
  EXPECT_THAT(m->Refresh().down, IsEmpty());  // reported once
}

TEST(MembershipTest, SelfIsNeverDownAndStrangersAreIgnored) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  EXPECT_FALSE(m->ReportFailure("10.0.0.1:4317", "?"));
  EXPECT_FALSE(m->ReportFailure("10.9.9.9:4317", "not a member"));
  clock.Advance(60 * kS);
  EXPECT_FALSE(m->ReportFailure("10.0.0.1:4317", "?"));
  EXPECT_FALSE(m->ReportFailure("10.9.9.9:4317", "not a member"));
  EXPECT_FALSE(m->ReportSuccess("10.9.9.9:4317"));
  m->Refresh();
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"));
  EXPECT_EQ(Find(m->StatusSnapshot(), "10.9.9.9:4317"), nullptr);
  EXPECT_EQ(Find(m->StatusSnapshot(), "10.0.0.1:4317")->last_error, "");
}

TEST(MembershipTest, AMemberThatLeavesAndComesBackStartsUp) {
  FakeClock clock;
  FakeResolver resolver;
  std::unique_ptr<Membership> m = Make(DnsOptions(), &resolver, &clock);
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"});
  m->Refresh();
  m->ReportFailure("10.0.0.2:4317", "refused");
  clock.Advance(5 * kS);
  EXPECT_TRUE(m->ReportFailure("10.0.0.2:4317", "refused"));

  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317"});
  clock.Advance(5 * kS);
  EXPECT_THAT(m->Refresh().left, ElementsAre("10.0.0.2:4317"));
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"});
  clock.Advance(10 * kS);
  EXPECT_THAT(m->Refresh().joined, ElementsAre("10.0.0.2:4317"));
  EXPECT_THAT(LiveNames(*m), ElementsAre("10.0.0.1:4317", "10.0.0.2:4317"));
}

TEST(MembershipTest, LiveIsTheSameSnapshotUntilTheLiveSetChanges) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  const std::shared_ptr<const Ring> first = m->Live();
  m->Refresh();
  m->ReportFailure("10.0.0.2:4317", "refused");  // failing, not yet down
  m->ReportSuccess("10.0.0.3:4317");
  EXPECT_EQ(m->Live(), first);
  clock.Advance(5 * kS);
  m->ReportFailure("10.0.0.2:4317", "refused");
  const std::shared_ptr<const Ring> second = m->Live();
  EXPECT_NE(second, first);
  // A reader holding the old snapshot still sees it whole.
  EXPECT_EQ(first->size(), 3u);
  EXPECT_EQ(second->size(), 2u);
  EXPECT_EQ(second->IndexOf("10.0.0.2:4317"), std::nullopt);
}

TEST(MembershipTest, ReadersSeeWholeSnapshotsWhileHealthChanges) {
  FakeClock clock;
  std::unique_ptr<Membership> m = Make(StaticOptions(), nullptr, &clock);
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<int64_t> reads{0};
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      TraceId trace;
      while (!stop.load()) {
        const std::shared_ptr<const Ring> live = m->Live();
        ASSERT_TRUE(live->size() == 2 || live->size() == 3);
        trace.bytes[0]++;
        ASSERT_LT(live->OwnerOf(trace), live->size());
        reads.fetch_add(1);
      }
    });
  }
  // Until the readers have read a good many snapshots (they may start late).
  for (int flip = 0; flip < 200 || reads.load() < 1000; ++flip) {
    m->ReportFailure("10.0.0.2:4317", "refused");
    clock.Advance(5 * kS);
    m->ReportFailure("10.0.0.2:4317", "refused");
    m->ReportSuccess("10.0.0.2:4317");
    m->StatusSnapshot();
  }
  stop.store(true);
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(m->Live()->size(), 3u);
}

TEST(MembershipTest, StatusSnapshotShowsEveryMembersSourceStateAndLastReports) {
  FakeClock clock;
  FakeResolver resolver;
  ClusterOptions options = DnsOptions();
  options.static_peers = {"10.0.0.1:4317", "10.0.0.7:4317"};
  std::unique_ptr<Membership> m = Make(options, &resolver, &clock);
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"});
  m->Refresh();
  const int64_t t0 = clock.UnixNanos();
  m->ReportFailure("10.0.0.2:4317", "connection refused");
  clock.Advance(5 * kS);
  m->ReportFailure("10.0.0.2:4317", "deadline exceeded");
  const int64_t t1 = clock.UnixNanos();
  clock.Advance(250 * kMs);
  m->ReportSuccess("10.0.0.7:4317");
  const int64_t t2 = clock.UnixNanos();

  const ClusterStatus status = m->StatusSnapshot();
  EXPECT_EQ(status.self, "10.0.0.1:4317");
  EXPECT_EQ(status.dns_name, "tailtrace-headless");
  EXPECT_EQ(status.dns_last_success_unix_ns, t0);
  EXPECT_FALSE(status.self_missing_from_dns);
  EXPECT_EQ(status.live_members, 2u);
  ASSERT_EQ(status.members.size(), 3u);

  const MemberStatus& self = status.members[0];
  EXPECT_EQ(self.name, "10.0.0.1:4317");
  EXPECT_TRUE(self.self);
  EXPECT_TRUE(self.is_static);
  EXPECT_TRUE(self.from_dns);
  EXPECT_EQ(self.state, PeerState::kUp);

  const MemberStatus& down = status.members[1];
  EXPECT_EQ(down.name, "10.0.0.2:4317");
  EXPECT_FALSE(down.self);
  EXPECT_FALSE(down.is_static);
  EXPECT_TRUE(down.from_dns);
  EXPECT_EQ(down.state, PeerState::kDown);
  EXPECT_EQ(down.last_success_unix_ns, 0);
  EXPECT_EQ(down.last_failure_unix_ns, t1);
  EXPECT_EQ(down.last_error, "deadline exceeded");

  const MemberStatus& up = status.members[2];
  EXPECT_EQ(up.name, "10.0.0.7:4317");
  EXPECT_TRUE(up.is_static);
  EXPECT_FALSE(up.from_dns);
  EXPECT_EQ(up.state, PeerState::kUp);
  EXPECT_EQ(up.last_success_unix_ns, t2);
  EXPECT_EQ(up.last_failure_unix_ns, 0);
}

TEST(MembershipTest, CreateRefusesOptionsThatCannotWork) {
  FakeClock clock;
  FakeResolver resolver;
  const auto error = [&](const ClusterOptions& options, PeerResolver* r) {
    absl::StatusOr<std::unique_ptr<Membership>> m = Membership::Create(options, r, &clock);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(m.status().message());
  };
  EXPECT_THAT(error(ClusterOptions{}, nullptr), HasSubstr("cluster.self"));
  ClusterOptions options = DnsOptions();
  EXPECT_THAT(error(options, nullptr), HasSubstr("resolver"));
  options.dns.port = 0;
  EXPECT_THAT(error(options, &resolver), HasSubstr("cluster.peers.dns.port"));
  options = DnsOptions();
  options.dns.interval_ns = 0;
  EXPECT_THAT(error(options, &resolver), HasSubstr("cluster.peers.dns.interval"));
  options = StaticOptions();
  options.peer_timeout_ns = 0;
  EXPECT_THAT(error(options, nullptr), HasSubstr("cluster.peer_timeout"));
}

TEST(MembershipRefresherTest, RefreshesAtOnceAndReportsTheChange) {
  FakeClock clock;
  FakeResolver resolver;
  resolver.Answer(std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"});
  std::unique_ptr<Membership> m = Make(DnsOptions(), &resolver, &clock);
  std::promise<MembershipChange> first;
  std::once_flag once;
  MembershipRefresher refresher(m.get(), 3600 * kS, [&](const MembershipChange& change) {
    std::call_once(once, [&] { first.set_value(change); });
  });
  std::future<MembershipChange> done = first.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_THAT(done.get().joined, ElementsAre("10.0.0.2:4317"));
  refresher.Stop();  // does not wait for the hour
  refresher.Stop();
  EXPECT_EQ(resolver.calls(), 1);
}

// The real resolver on a name every system has (/etc/hosts): no network needed.
TEST(SystemResolverTest, ResolvesLocalhost) {
  SystemResolver resolver;
  absl::StatusOr<std::vector<std::string>> members = resolver.Resolve("localhost", 4317);
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_THAT(*members, AnyOf(Contains("127.0.0.1:4317"), Contains("[::1]:4317")));
  EXPECT_TRUE(std::is_sorted(members->begin(), members->end()));
  for (const std::string& member : *members) EXPECT_THAT(member, ::testing::EndsWith(":4317"));
}

TEST(SystemResolverTest, NumericAddressesResolveToThemselves) {
  SystemResolver resolver;
  absl::StatusOr<std::vector<std::string>> v4 = resolver.Resolve("127.0.0.2", 80);
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_THAT(*v4, ElementsAre("127.0.0.2:80"));
  absl::StatusOr<std::vector<std::string>> v6 = resolver.Resolve("::1", 4317);
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_THAT(*v6, ElementsAre("[::1]:4317"));
}

}  // namespace
}  // namespace tailtrace::cluster
