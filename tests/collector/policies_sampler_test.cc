// Evaluation of a tail-sampling policy list (collector/policies.h): drop, inverted votes,
// sample_on_first_match, the per-policy metric and the sampler factory.

#include "collector/policies.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector/policy_config.h"
#include "common/metrics.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector/policy_test_util.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::trace::v1::Status;
using testing::Drop;
using testing::Errors;
using ::testing::HasSubstr;
using testing::MakeSampler;
using testing::Named;
using testing::Probabilistic;
using testing::RateLimit;
using testing::StringAttr;
using testing::TraceBuilder;

// ------------------------------------------------------------------------------------------------
// Evaluation of a policy list

TEST(PolicySamplerTest, NoPoliciesKeepsEverything) {
  std::unique_ptr<Sampler> s = MakeSampler({});
  const SamplingDecision d = s->Decide(TraceBuilder(1).Root(), 0);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(d.policy, "");
}

TEST(PolicySamplerTest, AnySamplingPolicyKeepsAndNoneDrops) {
  PolicyConfig slow = Named("slow", PolicyType::kLatency);
  slow.latency.threshold_ms = 2000;
  std::unique_ptr<Sampler> s = MakeSampler({Errors(), slow});
  TraceBuilder slow_trace(1);
  slow_trace.AddSpan("a", 1, 0, 0, 3000);
  SamplingDecision d = s->Decide(slow_trace, 0);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(d.policy, "slow");
  EXPECT_EQ(d.sample_rate, 1.0);
  d = s->Decide(TraceBuilder(2).Root(), 0);
  EXPECT_FALSE(d.keep);
}

TEST(PolicySamplerTest, DropVetoesEvenWhenListedLast) {
  std::unique_ptr<Sampler> s =
      MakeSampler({Errors(), Drop("no-health", {StringAttr("http.route", {"/health"})})}, true);
  TraceBuilder t(1);
  t.Root().Str("http.route", "/health").StatusCode(Status::STATUS_CODE_ERROR);
  SamplingDecision d = s->Decide(t, 0);
  EXPECT_FALSE(d.keep);
  EXPECT_EQ(d.policy, "no-health");
  TraceBuilder api(2);
  api.Root().Str("http.route", "/api").StatusCode(Status::STATUS_CODE_ERROR);
  EXPECT_TRUE(s->Decide(api, 0).keep);
}

TEST(PolicySamplerTest, InvertedVotesFollowOpenTelemetry) {
  const PolicyConfig not_health = StringAttr("http.route", {"/health"}, false, true, "not-health");
  std::unique_ptr<Sampler> s = MakeSampler({Errors(), not_health});
  const auto decide = [&](const std::string& route, bool error) {
    TraceBuilder t(route.size() + error);
    t.Root().Str("http.route", route);
    if (error) t.StatusCode(Status::STATUS_CODE_ERROR);
    return s->Decide(t, 0);
  };
  // An inverted "not sampled" vetoes, even an error.
  EXPECT_FALSE(decide("/health", true).keep);
  EXPECT_FALSE(decide("/health", false).keep);
  // An inverted "sampled" keeps only when no policy voted "not sampled" (errors did).
  EXPECT_FALSE(decide("/api", false).keep);
  const SamplingDecision error = decide("/api", true);
  EXPECT_TRUE(error.keep);
  EXPECT_EQ(error.policy, "errors");
  // Alone, the inverted policy keeps what does not match.
  std::unique_ptr<Sampler> alone = MakeSampler({not_health});
  TraceBuilder api(9);
  api.Root().Str("http.route", "/api");
  const SamplingDecision d = alone->Decide(api, 0);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(d.policy, "not-health");
}

TEST(PolicySamplerTest, NamesTheKeepingPolicyWithTheSmallestRate) {
  // An error that also passes the 50% policy is kept by "errors" at rate 1.
  std::unique_ptr<Sampler> all = MakeSampler({Probabilistic(50, "half"), Errors()});
  std::unique_ptr<Sampler> first = MakeSampler({Probabilistic(50, "half"), Errors()}, true);
  int checked = 0;
  for (uint64_t n = 0; n < 200; ++n) {
    TraceBuilder t(n);
    t.Root().StatusCode(Status::STATUS_CODE_ERROR);
    const SamplingDecision d = all->Decide(t, 0);
    EXPECT_TRUE(d.keep);
    EXPECT_EQ(d.policy, "errors");
    EXPECT_EQ(d.sample_rate, 1.0);
    const SamplingDecision f = first->Decide(t, 0);
    EXPECT_TRUE(f.keep);
    if (f.policy == "half") {
      EXPECT_EQ(f.sample_rate, 2.0) << "sample_on_first_match stops at the first match";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
  // A trace kept only by the probabilistic policy carries its rate.
  for (uint64_t n = 0; n < 50; ++n) {
    const SamplingDecision d = all->Decide(TraceBuilder(n).Root(), 0);
    if (d.keep) {
      EXPECT_EQ(d.policy, "half");
      EXPECT_EQ(d.sample_rate, 2.0);
    }
  }
}

TEST(PolicySamplerTest, SampleOnFirstMatchSkipsLaterPolicies) {
  MetricsRegistry metrics;
  std::unique_ptr<Sampler> s =
      MakeSampler({Errors(), RateLimit(1000, "budget")}, /*first_match=*/true, &metrics);
  s->Decide(TraceBuilder(1).Root().StatusCode(Status::STATUS_CODE_ERROR), 0);
  s->Decide(TraceBuilder(2).Root(), 0);
  const auto value = [&](const std::string& policy, const std::string& sampled) {
    return metrics
        .GetCounter("otelcol_processor_tail_sampling_count_traces_sampled", "",
                    {{"policy", policy}, {"sampled", sampled}})
        ->Value();
  };
  EXPECT_EQ(value("errors", "true"), 1u);
  EXPECT_EQ(value("errors", "false"), 1u);
  EXPECT_EQ(value("budget", "true"), 1u) << "asked only for the trace errors did not keep";
  EXPECT_EQ(value("budget", "false"), 0u);
}

TEST(PolicySamplerTest, CountsVotesPerPolicyAcrossShards) {
  MetricsRegistry metrics;
  absl::StatusOr<SamplerFactory> factory =
      MakePolicySamplerFactory({Errors(), Probabilistic(100, "all")}, false, &metrics);
  ASSERT_TRUE(factory.ok()) << factory.status();
  std::unique_ptr<Sampler> a = (*factory)(0, 2);
  std::unique_ptr<Sampler> b = (*factory)(1, 2);
  a->Decide(TraceBuilder(1).Root().StatusCode(Status::STATUS_CODE_ERROR), 0);
  b->Decide(TraceBuilder(2).Root(), 0);
  b->Decide(TraceBuilder(3).Root(), 0);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("otelcol_processor_tail_sampling_count_traces_sampled{policy="
                              "\"errors\",sampled=\"true\"} 1"));
  EXPECT_THAT(text, HasSubstr("otelcol_processor_tail_sampling_count_traces_sampled{policy="
                              "\"errors\",sampled=\"false\"} 2"));
  EXPECT_THAT(text, HasSubstr("otelcol_processor_tail_sampling_count_traces_sampled{policy="
                              "\"all\",sampled=\"true\"} 3"));
}

TEST(PolicySamplerTest, NeedsSpansOnlyWhenAPolicyReadsThem) {
  EXPECT_FALSE(KeepAllSampler().NeedsSpans());
  EXPECT_FALSE(MakeSampler({})->NeedsSpans());
  PolicyConfig count = Named("count", PolicyType::kSpanCount);
  count.span_count.min_spans = 2;
  PolicyConfig both = Named("both", PolicyType::kAnd);
  both.sub_policies = {Probabilistic(10), count};
  // Trace ID, span count and rate only: decided without the spans.
  EXPECT_FALSE(MakeSampler({Probabilistic(10), RateLimit(100), both,
                            Named("all", PolicyType::kAlwaysSample)})
                   ->NeedsSpans());
  EXPECT_TRUE(MakeSampler({Probabilistic(10), Errors()})->NeedsSpans());
  PolicyConfig not_health = Named("not-health", PolicyType::kNot);
  not_health.sub_policies = {StringAttr("http.route", {"/health"})};
  EXPECT_TRUE(MakeSampler({not_health})->NeedsSpans());
  EXPECT_TRUE(
      MakeSampler({Drop("no-health", {StringAttr("http.route", {"/health"})}), Probabilistic(10)})
          ->NeedsSpans());
}

TEST(PolicySamplerFactoryTest, ValidatesOnceAndSplitsRatesByShard) {
  absl::StatusOr<SamplerFactory> empty = MakePolicySamplerFactory({}, false, nullptr);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE((*empty)(0, 1)->Decide(TraceBuilder(1).Root(), 0).keep);

  absl::StatusOr<SamplerFactory> bad =
      MakePolicySamplerFactory({Errors(), Probabilistic(120, "too-much")}, false, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "sampling.policies[1] (too-much).probabilistic.sampling_percentage: must be from 0 "
            "to 100, got 120");

  absl::StatusOr<SamplerFactory> dup =
      MakePolicySamplerFactory({Errors(), Errors()}, false, nullptr);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(
      dup.status().message(),
      "sampling.policies[1] (errors).name: duplicate policy name (also sampling.policies[0])");

  // 8 spans/s over 4 shards: 2 per shard.
  absl::StatusOr<SamplerFactory> rate = MakePolicySamplerFactory({RateLimit(8)}, false, nullptr);
  ASSERT_TRUE(rate.ok());
  std::unique_ptr<Sampler> shard = (*rate)(2, 4);
  int kept = 0;
  for (uint64_t n = 0; n < 10; ++n) kept += shard->Decide(TraceBuilder(n).Root(), 0).keep;
  EXPECT_EQ(kept, 2);
}

// The worked example of docs/sampling.md: every error, every trace over 2 s, 10% of the rest.
TEST(PolicySamplerTest, WorkedExampleErrorsSlowAndTenPercent) {
  PolicyConfig slow = Named("slow-traces", PolicyType::kLatency);
  slow.latency.threshold_ms = 2000;
  std::unique_ptr<Sampler> s =
      MakeSampler({Errors("errors"), slow, Probabilistic(10, "ten-percent")});
  int errors_kept = 0;
  int slow_kept = 0;
  int ordinary_kept = 0;
  constexpr int kEach = 3000;
  for (int i = 0; i < kEach; ++i) {
    TraceBuilder error(3 * i);
    error.Root().AddSpan("db", 2, 1).StatusCode(Status::STATUS_CODE_ERROR);
    SamplingDecision d = s->Decide(error, 0);
    errors_kept += d.keep && d.policy == "errors" && d.sample_rate == 1.0;

    TraceBuilder slow_trace(3 * i + 1);
    slow_trace.AddSpan("a", 1, 0, 0, 2500);
    d = s->Decide(slow_trace, 0);
    slow_kept += d.keep && d.policy == "slow-traces" && d.sample_rate == 1.0;

    TraceBuilder ordinary(3 * i + 2);
    ordinary.AddSpan("a", 1, 0, 0, 300);
    d = s->Decide(ordinary, 0);
    if (d.keep) {
      ++ordinary_kept;
      EXPECT_EQ(d.policy, "ten-percent");
      EXPECT_EQ(d.sample_rate, 10.0);
    }
  }
  EXPECT_EQ(errors_kept, kEach);
  EXPECT_EQ(slow_kept, kEach);
  EXPECT_NEAR(ordinary_kept, kEach * 0.1, 4 * std::sqrt(kEach * 0.1 * 0.9));
}

// What the config parser accepts, the sampler factory builds (the two check the same rules).
TEST(PolicySamplerFactoryTest, BuildsWhatTheConfigParserAccepts) {
  absl::StatusOr<config::DaemonConfig> parsed = config::ParseConfig(R"(
sampling:
  sample_on_first_match: true
  policies:
    - {name: drop-health, type: drop, drop: {drop_sub_policy: [
        {name: health, type: string_attribute,
         string_attribute: {key: http.route, values: ["^/health$"], enabled_regex_matching: true}}]}}
    - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
    - {name: slow-traces, type: latency, latency: {threshold_ms: 2000}}
    - {name: vip, type: and, and: {and_sub_policy: [
        {name: tier, type: string_attribute, string_attribute: {key: tier, values: [vip]}},
        {name: not-bot, type: not, not: {not_sub_policy:
          {name: bot, type: boolean_attribute, boolean_attribute: {key: bot, value: true}}}}]}}
    - {name: budget, type: composite, composite: {max_total_spans_per_second: 100,
        composite_sub_policy: [{name: big, type: span_count, span_count: {min_spans: 10}},
                               {name: rest, type: always_sample}],
        rate_allocation: [{policy: big, percent: 20}]}}
    - {name: dyn, type: dynamic, dynamic: {key_fields: [service.name], goal_sample_rate: 5}}
    - {name: ten-percent, type: probabilistic, probabilistic: {sampling_percentage: 10}}
)",
                                                                    "test.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<SamplerFactory> factory =
      MakePolicySamplerFactory(parsed->policies, parsed->sample_on_first_match, nullptr);
  ASSERT_TRUE(factory.ok()) << factory.status();
  std::unique_ptr<Sampler> sampler = (*factory)(0, 4);
  TraceBuilder health(1);
  health.Root().Str("http.route", "/health").StatusCode(Status::STATUS_CODE_ERROR);
  EXPECT_FALSE(sampler->Decide(health, 0).keep);
  TraceBuilder error(2);
  error.Root().StatusCode(Status::STATUS_CODE_ERROR);
  const SamplingDecision d = sampler->Decide(error, 0);
  EXPECT_TRUE(d.keep);
  EXPECT_EQ(d.policy, "errors");
}

}  // namespace
}  // namespace tailtrace::collector
