// Tail-sampling policies (collector/policies.h) that keep a share of the traffic:
// probabilistic, rate_limiting, bytes_limiting and dynamic; sample rates and per-shard rates.
// Time is passed in; nothing sleeps.

#include "collector/policies.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "collector/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector/policy_test_util.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::trace::v1::Status;
using testing::BuildError;
using testing::Errors;
using ::testing::HasSubstr;
using testing::kMs;
using testing::kNotSampled;
using testing::kSampled;
using testing::kSec;
using testing::Make;
using testing::Named;
using testing::Probabilistic;
using testing::RateLimit;
using testing::TraceBuilder;

// ------------------------------------------------------------------------------------------------
// Probabilistic

TEST(ProbabilisticPolicyTest, HashIsFnv1a64OfSaltThenTraceId) {
  const TraceId id = TraceId::FromBytes(testing::TestTraceId(1));
  // Computed independently from the FNV-1a definition.
  EXPECT_EQ(TraceIdHash(kDefaultHashSalt, id), 0xc00bf27a329fcfe5ull);
  EXPECT_EQ(TraceIdHash("abc", id), 0x5dc982b2447cede3ull);
}

TEST(ProbabilisticPolicyTest, KeepsTheConfiguredShareWithinBinomialBounds) {
  std::unique_ptr<Policy> p = Make(Probabilistic(10));
  std::mt19937_64 rng(12345);
  constexpr int kTraces = 100'000;
  int kept = 0;
  for (int i = 0; i < kTraces; ++i) {
    TraceId id;
    const uint64_t hi = rng();
    const uint64_t lo = rng();
    for (int b = 0; b < 8; ++b) {
      id.bytes[b] = static_cast<uint8_t>(hi >> (8 * b));
      id.bytes[8 + b] = static_cast<uint8_t>(lo >> (8 * b));
    }
    const PolicyResult r = p->Evaluate(TraceBuilder(id).Root(), 0);
    EXPECT_DOUBLE_EQ(r.sample_rate, 10.0);
    if (r.decision == kSampled) ++kept;
  }
  const double mean = kTraces * 0.1;
  const double sigma = std::sqrt(kTraces * 0.1 * 0.9);
  EXPECT_NEAR(kept, mean, 4 * sigma);
}

TEST(ProbabilisticPolicyTest, SameTraceAndSaltGiveTheSameDecisionEverywhere) {
  // Two samplers (as on two shards or two nodes) agree on every trace.
  std::unique_ptr<Policy> a = Make(Probabilistic(30, "p", "salt"), 0, 4);
  std::unique_ptr<Policy> b = Make(Probabilistic(30, "p", "salt"), 3, 8);
  std::unique_ptr<Policy> other_salt = Make(Probabilistic(30, "p", "pepper"));
  int differ = 0;
  int kept = 0;
  for (uint64_t n = 0; n < 2000; ++n) {
    TraceBuilder t(n * 7919);
    t.Root();
    const PolicyDecision da = a->Evaluate(t, 0).decision;
    EXPECT_EQ(da, b->Evaluate(t, 123 * kSec).decision) << n;
    if (da != other_salt->Evaluate(t, 0).decision) ++differ;
    if (da == kSampled) ++kept;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(differ, 100) << "another salt picks other traces";
}

TEST(ProbabilisticPolicyTest, ZeroAndHundredPercentAndRange) {
  std::unique_ptr<Policy> none = Make(Probabilistic(0));
  std::unique_ptr<Policy> all = Make(Probabilistic(100));
  for (uint64_t n = 0; n < 200; ++n) {
    TraceBuilder t(n);
    t.Root();
    EXPECT_EQ(none->Evaluate(t, 0).decision, kNotSampled);
    const PolicyResult r = all->Evaluate(t, 0);
    EXPECT_EQ(r.decision, kSampled);
    EXPECT_EQ(r.sample_rate, 1.0);
  }
  EXPECT_EQ(BuildError(Probabilistic(100.5)),
            "p.probabilistic.sampling_percentage: must be from 0 to 100, got 100.5");
  EXPECT_THAT(BuildError(Probabilistic(-1)), HasSubstr("must be from 0 to 100"));
}

// ------------------------------------------------------------------------------------------------
// Rate policies

TEST(RateLimitingPolicyTest, SpansPerSecondWithInjectedTime) {
  std::unique_ptr<Policy> p = Make(RateLimit(10));
  TraceBuilder four(1);
  four.Root().Children(3);
  int64_t now = 5 * kSec;
  EXPECT_EQ(p->Evaluate(four, now).decision, kSampled);
  EXPECT_EQ(p->Evaluate(four, now).decision, kSampled);
  EXPECT_EQ(p->Evaluate(four, now).decision, kNotSampled) << "8 of 10 spans used, 4 more";
  EXPECT_EQ(p->Evaluate(TraceBuilder(2).Root().Children(1), now).decision, kSampled)
      << "a smaller trace still fits";
  now += 100 * kMs;  // +1 span of budget: 1 left
  EXPECT_EQ(p->Evaluate(four, now).decision, kNotSampled);
  now += kSec;  // refilled (to one second's worth)
  EXPECT_EQ(p->Evaluate(four, now).decision, kSampled);
  EXPECT_EQ(p->Evaluate(four, now).decision, kSampled);
  EXPECT_EQ(p->Evaluate(four, now).decision, kNotSampled);
}

TEST(RateLimitingPolicyTest, EachShardGetsItsShare) {
  // 10 spans/s over 2 shards: 5 per shard.
  std::unique_ptr<Policy> p = Make(RateLimit(10), 1, 2);
  TraceBuilder one(1);
  one.Root();
  int kept = 0;
  for (int i = 0; i < 20; ++i) kept += p->Evaluate(one, 0).decision == kSampled;
  EXPECT_EQ(kept, 5);
  // Over a long time the shard keeps its share on average.
  kept = 0;
  for (int64_t t = 1; t <= 1000; ++t) {
    kept += p->Evaluate(one, t * 10 * kMs).decision == kSampled;  // 100 traces/s offered
  }
  EXPECT_NEAR(kept, 50, 2);
}

TEST(RateLimitingPolicyTest, SharesBelowOneSpanPerSecondStillKeepAtTheAverageRate) {
  // 1 span/s over 4 shards: 0.25 per shard, i.e. one 1-span trace every 4 s.
  std::unique_ptr<Policy> p = Make(RateLimit(1), 0, 4);
  TraceBuilder one(1);
  one.Root();
  int kept = 0;
  for (int64_t t = 0; t < 400; ++t) kept += p->Evaluate(one, t * kSec).decision == kSampled;
  EXPECT_NEAR(kept, 100, 2);
}

TEST(RateLimitingPolicyTest, ReportsOfferedOverKeptAsTheSampleRate) {
  std::unique_ptr<Policy> p = Make(RateLimit(2));
  TraceBuilder one(1);
  one.Root();
  // Second 0: 4 offered, 2 kept. The rate for each is the window's ratio so far.
  EXPECT_EQ(p->Evaluate(one, 0).sample_rate, 1.0);
  EXPECT_EQ(p->Evaluate(one, 0).sample_rate, 1.0);
  EXPECT_EQ(p->Evaluate(one, 0).sample_rate, 1.5);
  EXPECT_EQ(p->Evaluate(one, 0).sample_rate, 2.0);
  // Second 1: the previous second's ratio (4 / 2).
  const PolicyResult r = p->Evaluate(one, kSec);
  EXPECT_EQ(r.decision, kSampled);
  EXPECT_EQ(r.sample_rate, 2.0);
  // After a gap, the current window's own ratio again.
  EXPECT_EQ(p->Evaluate(one, 10 * kSec).sample_rate, 1.0);
}

TEST(RateLimitingPolicyTest, RejectsNonPositiveRates) {
  EXPECT_EQ(BuildError(RateLimit(-5)),
            "p.rate_limiting.spans_per_second: must be at least 1, got -5");
  EXPECT_THAT(BuildError(RateLimit(0)), HasSubstr("must be at least 1"));
}

TEST(BytesLimitingPolicyTest, TokenBucketOfBytes) {
  TraceBuilder t(1);
  t.Root().Children(3);
  const uint64_t size = t.buffer().bytes;
  ASSERT_GT(size, 0u);
  PolicyConfig c = Named("bytes", PolicyType::kBytesLimiting);
  c.bytes_limiting.bytes_per_second = static_cast<int64_t>(size);
  c.bytes_limiting.burst_capacity = static_cast<int64_t>(size);
  std::unique_ptr<Policy> p = Make(c);
  EXPECT_EQ(p->Evaluate(t, 0).decision, kSampled);
  EXPECT_EQ(p->Evaluate(t, 0).decision, kNotSampled);
  EXPECT_EQ(p->Evaluate(t, kSec / 2).decision, kNotSampled) << "half refilled";
  EXPECT_EQ(p->Evaluate(t, kSec).decision, kSampled);
  // Default burst: two seconds' worth.
  c.bytes_limiting.burst_capacity = 0;
  std::unique_ptr<Policy> burst = Make(c);
  EXPECT_EQ(burst->Evaluate(t, 0).decision, kSampled);
  EXPECT_EQ(burst->Evaluate(t, 0).decision, kSampled);
  EXPECT_EQ(burst->Evaluate(t, 0).decision, kNotSampled);
}

// ------------------------------------------------------------------------------------------------
// Dynamic

PolicyConfig Dynamic(double goal_sample_rate) {
  PolicyConfig c = Named("dyn", PolicyType::kDynamic);
  c.dynamic.key_fields = {"service.name", "http.route"};
  c.dynamic.goal_sample_rate = goal_sample_rate;
  c.dynamic.adjustment_interval_ns = 15 * kSec;
  return c;
}

// Feeds `count` traces of (service, route) at time `now` and returns how many were kept.
int Feed(Policy& p, const std::string& service, const std::string& route, int count, int64_t now,
         uint64_t* next_id, double* last_rate = nullptr) {
  int kept = 0;
  for (int i = 0; i < count; ++i) {
    TraceBuilder t((*next_id)++);
    t.Root(service).Str("http.route", route);
    const PolicyResult r = p.Evaluate(t, now);
    kept += r.decision == kSampled;
    if (last_rate != nullptr) *last_rate = r.sample_rate;
  }
  return kept;
}

TEST(DynamicPolicyTest, ThinsFrequentKeysAndKeepsRareOnes) {
  std::unique_ptr<Policy> p = Make(Dynamic(10));
  uint64_t id = 1;
  // First interval: no rates yet, everything is kept.
  EXPECT_EQ(Feed(*p, "api", "/list", 1000, 1 * kSec, &id), 1000);
  EXPECT_EQ(Feed(*p, "api", "/admin", 5, 2 * kSec, &id), 5);
  // Second interval: rates from the first.
  double busy_rate = 0;
  double rare_rate = 0;
  const int busy_kept = Feed(*p, "api", "/list", 1000, 16 * kSec, &id, &busy_rate);
  const int rare_kept = Feed(*p, "api", "/admin", 5, 17 * kSec, &id, &rare_rate);
  EXPECT_EQ(rare_kept, 5);
  EXPECT_EQ(rare_rate, 1.0);
  EXPECT_GT(busy_rate, 9.0);
  EXPECT_LT(busy_rate, 11.0);
  // The goal is 1005 / 10 traces per interval; the busy key gets what the rare one leaves.
  EXPECT_NEAR(busy_kept, 1000 / busy_rate, 30);
  // A key never seen before is kept.
  double new_rate = 0;
  EXPECT_EQ(Feed(*p, "api", "/new", 3, 18 * kSec, &id, &new_rate), 3);
  EXPECT_EQ(new_rate, 1.0);
}

TEST(DynamicPolicyTest, RatesFollowTheTraffic) {
  std::unique_ptr<Policy> p = Make(Dynamic(10));
  uint64_t id = 1;
  Feed(*p, "api", "/list", 1000, 0, &id);
  double rate = 0;
  Feed(*p, "api", "/list", 1, 15 * kSec, &id, &rate);
  EXPECT_GT(rate, 5.0);
  // Two quiet intervals: the moving average decays and the key is kept again.
  Feed(*p, "other", "/x", 1, 30 * kSec, &id);
  for (int64_t t = 45; t <= 300; t += 15) Feed(*p, "other", "/x", 1, t * kSec, &id);
  Feed(*p, "api", "/list", 1, 301 * kSec, &id, &rate);
  EXPECT_EQ(rate, 1.0);
}

TEST(DynamicPolicyTest, GoalThroughputIsSharedByShards) {
  // 2 traces/s over 2 shards and 10 s intervals: 10 traces per interval per shard.
  PolicyConfig c = Dynamic(0);
  c.dynamic.goal_sample_rate = 0;
  c.dynamic.goal_throughput_per_sec = 2;
  c.dynamic.adjustment_interval_ns = 10 * kSec;
  std::unique_ptr<Policy> p = Make(c, 0, 2);
  uint64_t id = 1;
  Feed(*p, "api", "/list", 500, 0, &id);
  double rate = 0;
  const int kept = Feed(*p, "api", "/list", 500, 10 * kSec, &id, &rate);
  EXPECT_NEAR(rate, 50.0, 1e-9);
  EXPECT_NEAR(kept, 10, 8);
}

TEST(DynamicPolicyTest, KeyUsesRootSpanStatusAndOverflow) {
  PolicyConfig c = Dynamic(100);
  c.dynamic.key_fields = {"status_code"};
  std::unique_ptr<Policy> p = Make(c);
  uint64_t id = 1;
  for (int i = 0; i < 1000; ++i) p->Evaluate(TraceBuilder(id++).Root(), 0);
  p->Evaluate(TraceBuilder(id++).Root().StatusCode(Status::STATUS_CODE_ERROR), 0);
  // Errors are their own, rare key; UNSET ones are thinned.
  const PolicyResult error = p->Evaluate(
      TraceBuilder(id++).Root().AddSpan("db", 2, 1).StatusCode(Status::STATUS_CODE_ERROR),
      15 * kSec);
  EXPECT_EQ(error.decision, kSampled);
  EXPECT_EQ(error.sample_rate, 1.0);
  EXPECT_GT(p->Evaluate(TraceBuilder(id++).Root(), 15 * kSec).sample_rate, 50.0);

  // With max_keys 1, every other key shares the overflow key's rate.
  c.dynamic.key_fields = {"http.route"};
  c.dynamic.max_keys = 1;
  std::unique_ptr<Policy> q = Make(c);
  for (int i = 0; i < 1000; ++i) {
    q->Evaluate(TraceBuilder(id++).Root().Str("http.route", "/r" + std::to_string(i)), 0);
  }
  EXPECT_GT(
      q->Evaluate(TraceBuilder(id++).Root().Str("http.route", "/fresh"), 15 * kSec).sample_rate,
      10.0);
}

TEST(DynamicPolicyTest, DecisionIsAFunctionOfTheTraceIdForARate) {
  std::unique_ptr<Policy> a = Make(Dynamic(10));
  std::unique_ptr<Policy> b = Make(Dynamic(10));
  uint64_t id = 1;
  uint64_t id_b = 1;
  Feed(*a, "api", "/list", 1000, 0, &id);
  Feed(*b, "api", "/list", 1000, 0, &id_b);
  for (uint64_t n = 5000; n < 5200; ++n) {
    TraceBuilder t(n);
    t.Root("api").Str("http.route", "/list");
    EXPECT_EQ(a->Evaluate(t, 15 * kSec).decision, b->Evaluate(t, 15 * kSec).decision);
  }
}

TEST(DynamicPolicyTest, ValidatesGoals) {
  PolicyConfig c = Dynamic(10);
  c.dynamic.goal_throughput_per_sec = 5;
  EXPECT_EQ(BuildError(c),
            "p.dynamic: set exactly one of goal_sample_rate and goal_throughput_per_sec");
  c = Dynamic(0.5);
  EXPECT_EQ(BuildError(c), "p.dynamic.goal_sample_rate: must be at least 1, got 0.5");
  c = Dynamic(10);
  c.dynamic.key_fields.clear();
  EXPECT_EQ(BuildError(c), "p.dynamic.key_fields: must list at least one field");
}

}  // namespace
}  // namespace tailtrace::collector
