// Ring: rendezvous hashing of trace IDs over members — balance, minimal movement when a member
// joins or leaves, order independence, the fallback order, and the batch assignment.

#include "cluster/ownership.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/otlp_ids.h"
#include "proto/otlp_wire.h"

namespace tailtrace::cluster {
namespace {

using ::testing::ElementsAre;

constexpr size_t kTraces = 200'000;

// Reproducible random trace IDs (W3C: all 16 bytes random).
std::vector<TraceId> RandomTraces(size_t n, uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::vector<TraceId> traces(n);
  for (TraceId& t : traces) {
    for (size_t i = 0; i < kTraceIdBytes; i += 8) {
      const uint64_t r = rng();
      for (size_t j = 0; j < 8; ++j) t.bytes[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  }
  return traces;
}

// Names as a StatefulSet's pods or a subnet would give them: they differ in one or two bytes.
std::vector<std::string> Members(size_t n) {
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) names.push_back("10.0.0." + std::to_string(i + 1) + ":4317");
  return names;
}

// The owner's name of every trace.
std::vector<std::string> Owners(const Ring& ring, const std::vector<TraceId>& traces) {
  std::vector<std::string> owners;
  owners.reserve(traces.size());
  for (const TraceId& t : traces) owners.push_back(ring.member(ring.OwnerOf(t)));
  return owners;
}

// The largest |share - 1/N| * N over the members: the relative deviation from a fair share.
double MaxRelativeDeviation(const std::map<std::string, size_t>& counts, size_t members,
                            size_t total) {
  double worst = 0;
  for (const auto& [name, count] : counts) {
    const double share = static_cast<double>(count) / static_cast<double>(total);
    worst = std::max(worst, std::abs(share * static_cast<double>(members) - 1.0));
  }
  return worst;
}

void ExpectBalanced(const std::vector<TraceId>& traces, size_t n, const char* label) {
  const Ring ring(Members(n));
  std::map<std::string, size_t> counts;
  for (const std::string& owner : Owners(ring, traces)) ++counts[owner];
  ASSERT_EQ(counts.size(), n) << "a member owns nothing";
  const double deviation = MaxRelativeDeviation(counts, n, traces.size());
  std::printf("[ balance ] %s, %zu members: largest deviation from 1/N = %.2f%%\n", label, n,
              100 * deviation);
  EXPECT_LT(deviation, 0.05) << label << ", " << n << " members";
}

TEST(RingTest, BalancedOverThreeFiveAndTenMembers) {
  const std::vector<TraceId> traces = RandomTraces(kTraces);
  for (size_t n : {3, 5, 10}) ExpectBalanced(traces, n, "random IDs");
}

TEST(RingTest, BalancedWhenOnlyHalfOfTheIdIsRandom) {
  // 64-bit Jaeger IDs are padded with zeros; AWS X-Ray IDs start with a timestamp.
  std::vector<TraceId> low_only = RandomTraces(kTraces, 7);
  std::vector<TraceId> high_only = RandomTraces(kTraces, 8);
  for (TraceId& t : low_only) std::fill(t.bytes.begin(), t.bytes.begin() + 8, 0);
  for (TraceId& t : high_only) std::fill(t.bytes.begin() + 8, t.bytes.end(), 0x5a);
  for (size_t n : {3, 10}) {
    ExpectBalanced(low_only, n, "low 64 bits random");
    ExpectBalanced(high_only, n, "high 64 bits random");
  }
}

TEST(RingTest, AddingAMemberMovesAboutOneInNPlusOneOnlyOntoIt) {
  const std::vector<TraceId> traces = RandomTraces(kTraces);
  for (size_t n : {2, 3, 5, 9}) {
    const std::vector<std::string> before = Owners(Ring(Members(n)), traces);
    const Ring grown(Members(n + 1));
    const std::string added = Members(n + 1).back();
    const std::vector<std::string> after = Owners(grown, traces);
    size_t moved = 0;
    for (size_t i = 0; i < traces.size(); ++i) {
      if (after[i] == before[i]) continue;
      ++moved;
      ASSERT_EQ(after[i], added) << "trace " << traces[i].Hex() << " moved between old members";
    }
    const double fraction = static_cast<double>(moved) / static_cast<double>(traces.size());
    const double ideal = 1.0 / static_cast<double>(n + 1);
    std::printf(
        "[ movement ] %zu -> %zu members: %.2f%% moved (ideal %.2f%%), all to the new one\n", n,
        n + 1, 100 * fraction, 100 * ideal);
    EXPECT_NEAR(fraction, ideal, 0.05 * ideal);
  }
}

TEST(RingTest, RemovingAMemberMovesOnlyItsTracesSpreadOverTheRest) {
  // More traces: only the removed member's 1/N of them are counted, over N-1 members.
  const std::vector<TraceId> traces = RandomTraces(5 * kTraces);
  for (size_t n : {3, 5, 10}) {
    std::vector<std::string> names = Members(n);
    const std::vector<std::string> before = Owners(Ring(names), traces);
    const std::string removed = names[n / 2];
    names.erase(names.begin() + static_cast<std::ptrdiff_t>(n / 2));
    const std::vector<std::string> after = Owners(Ring(names), traces);
    std::map<std::string, size_t> inherited;
    size_t moved = 0;
    for (size_t i = 0; i < traces.size(); ++i) {
      if (before[i] == removed) {
        ++inherited[after[i]];
        ++moved;
      } else {
        ASSERT_EQ(after[i], before[i]) << "trace " << traces[i].Hex() << " of a member that stayed";
      }
    }
    ASSERT_EQ(inherited.size(), n - 1) << "a remaining member got none of the removed one's traces";
    const double deviation = MaxRelativeDeviation(inherited, n - 1, moved);
    std::printf(
        "[ movement ] %zu -> %zu members: %zu traces of the removed member, spread within "
        "%.2f%% of even\n",
        n, n - 1, moved, 100 * deviation);
    EXPECT_LT(deviation, 0.05);
  }
}

TEST(RingTest, SameOwnersWhateverTheOrderAndDuplicatesOfTheList) {
  const std::vector<TraceId> traces = RandomTraces(20'000);
  std::vector<std::string> names = Members(7);
  const Ring reference(names);
  std::mt19937_64 rng(1);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> shuffled = names;
    shuffled.push_back(names[static_cast<size_t>(round)]);  // listed twice
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const Ring ring(shuffled);
    ASSERT_EQ(ring.members(), reference.members());
    EXPECT_EQ(Owners(ring, traces), Owners(reference, traces));
  }
}

TEST(RingTest, FallbackOrderStartsWithTheOwnerAndIsWhatRemainsWhenItLeaves) {
  const std::vector<TraceId> traces = RandomTraces(5'000);
  const std::vector<std::string> names = Members(5);
  const Ring ring(names);
  for (const TraceId& t : traces) {
    const std::vector<size_t> order = ring.OwnersInOrder(t, 3);
    ASSERT_EQ(order.size(), 3u);
    ASSERT_EQ(order[0], ring.OwnerOf(t));
    ASSERT_NE(order[1], order[0]);
    ASSERT_NE(order[2], order[0]);
    ASSERT_NE(order[2], order[1]);
    // Without the owner, the fallback owns the trace; without both, the third.
    std::vector<std::string> rest = names;
    std::erase(rest, ring.member(order[0]));
    const Ring without_owner(rest);
    ASSERT_EQ(without_owner.member(without_owner.OwnerOf(t)), ring.member(order[1]));
    std::erase(rest, ring.member(order[1]));
    const Ring without_two(rest);
    ASSERT_EQ(without_two.member(without_two.OwnerOf(t)), ring.member(order[2]));
  }
}

TEST(RingTest, FallbackOrderOfEveryMemberIsAPermutation) {
  const Ring ring(Members(4));
  for (const TraceId& t : RandomTraces(100)) {
    std::vector<size_t> order = ring.OwnersInOrder(t, 10);  // more than there are
    ASSERT_EQ(order.size(), 4u);
    std::sort(order.begin(), order.end());
    EXPECT_THAT(order, ElementsAre(0, 1, 2, 3));
  }
  EXPECT_TRUE(ring.OwnersInOrder(RandomTraces(1)[0], 0).empty());
}

// The hash is a contract between nodes of different versions: these owners must never change.
TEST(RingTest, OwnersArePinned) {
  const Ring ring(
      {"tailtrace-0.tailtrace:4317", "tailtrace-1.tailtrace:4317", "tailtrace-2.tailtrace:4317"});
  std::vector<std::string> owners;
  for (const char* hex : {"4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c",
                          "00000000000000000000000000000001", "0000000000000000a3ce929d0e0e4736",
                          "ffffffffffffffffffffffffffffffff"}) {
    const TraceId t = TraceId::FromBytes(*HexDecode(hex, kTraceIdBytes));
    owners.push_back(ring.member(ring.OwnerOf(t)));
  }
  EXPECT_THAT(owners, ElementsAre("tailtrace-2.tailtrace:4317", "tailtrace-1.tailtrace:4317",
                                  "tailtrace-0.tailtrace:4317", "tailtrace-1.tailtrace:4317",
                                  "tailtrace-0.tailtrace:4317"));
}

TEST(RingTest, SingleAndEmptyRings) {
  const TraceId t = RandomTraces(1)[0];
  const Ring one({"self:4317"});
  EXPECT_EQ(one.OwnerOf(t), 0u);
  EXPECT_THAT(one.OwnersInOrder(t, 2), ElementsAre(0));
  const Ring none({});
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.OwnerOf(t), kNoOwner);
  EXPECT_TRUE(none.OwnersInOrder(t, 2).empty());
}

TEST(RingTest, IndexOf) {
  const Ring ring({"b:1", "a:1", "c:1"});
  EXPECT_THAT(ring.members(), ElementsAre("a:1", "b:1", "c:1"));
  EXPECT_EQ(ring.IndexOf("b:1"), 1u);
  EXPECT_EQ(ring.IndexOf("d:1"), std::nullopt);
  EXPECT_EQ(ring.IndexOf(""), std::nullopt);
}

// A request whose spans come in runs of one trace, interleaved, with more distinct traces than
// the cache has slots, some of them in the same slot.
WireRequest RequestOf(const std::vector<TraceId>& traces, size_t spans) {
  WireRequest request;
  std::mt19937_64 rng(3);
  while (request.spans.size() < spans) {
    const TraceId& t = traces[rng() % traces.size()];
    for (uint64_t run = 1 + rng() % 4; run > 0; --run) request.spans.push_back(WireSpan{t});
  }
  return request;
}

TEST(AssignOwnersTest, EverySpanGetsItsTracesOwner) {
  std::vector<TraceId> traces = RandomTraces(100);
  for (size_t i = 0; i < 10; ++i) traces[i].bytes[kTraceIdBytes - 1] = 7;  // one cache slot
  const WireRequest request = RequestOf(traces, 2'000);
  const Ring ring(Members(5));
  std::vector<size_t> owners = {99, 99, 99};  // reused: its old contents do not matter
  AssignOwners(ring, request, &owners);
  ASSERT_EQ(owners.size(), request.spans.size());
  for (size_t i = 0; i < owners.size(); ++i) {
    ASSERT_EQ(owners[i], ring.OwnerOf(request.spans[i].trace_id)) << "span " << i;
  }
  AssignOwners(ring, WireRequest{}, &owners);
  EXPECT_TRUE(owners.empty());
}

TEST(AssignOwnersTest, EmptyRingOwnsNothing) {
  const WireRequest request = RequestOf(RandomTraces(3), 10);
  std::vector<size_t> owners;
  AssignOwners(Ring({}), request, &owners);
  ASSERT_EQ(owners.size(), request.spans.size());
  for (size_t owner : owners) EXPECT_EQ(owner, kNoOwner);
}

}  // namespace
}  // namespace tailtrace::cluster
