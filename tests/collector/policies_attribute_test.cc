// Tail-sampling policies (collector/policies.h) that match on a trace: always_sample, latency,
// status_code, span_count, trace_flags and the attribute policies (string, numeric, boolean,
// trace_state).

#include "collector/policies.h"

#include <cstdint>
#include <memory>
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
using testing::kNotSampled;
using testing::kSampled;
using testing::Make;
using testing::Named;
using testing::StringAttr;
using testing::TraceBuilder;
using testing::Vote;

// ------------------------------------------------------------------------------------------------
// Trace policies

TEST(AlwaysSamplePolicyTest, KeepsEveryTraceAtRateOne) {
  std::unique_ptr<Policy> p = Make(Named("all", PolicyType::kAlwaysSample));
  const PolicyResult r = p->Evaluate(TraceBuilder(1).Root(), 0);
  EXPECT_EQ(r.decision, kSampled);
  EXPECT_EQ(r.sample_rate, 1.0);
  EXPECT_EQ(p->name(), "all");
}

TEST(LatencyPolicyTest, DurationSpansTheWholeTrace) {
  PolicyConfig c = Named("slow", PolicyType::kLatency);
  c.latency.threshold_ms = 2000;
  // Each span is short, but the trace runs from 0 to 2500 ms.
  TraceBuilder spread(1);
  spread.AddSpan("a", 1, 0, 0, 100).AddSpan("b", 2, 1, 2400, 2500);
  EXPECT_EQ(Vote(c, spread), kSampled);
  TraceBuilder fast(2);
  fast.AddSpan("a", 1, 0, 0, 1999);
  EXPECT_EQ(Vote(c, fast), kNotSampled);
  TraceBuilder exact(3);
  exact.AddSpan("a", 1, 0, 0, 2000);
  EXPECT_EQ(Vote(c, exact), kSampled) << "threshold_ms alone is inclusive";
}

TEST(LatencyPolicyTest, UpperThresholdBoundsTheRange) {
  PolicyConfig c = Named("mid", PolicyType::kLatency);
  c.latency.threshold_ms = 100;
  c.latency.upper_threshold_ms = 200;
  const auto trace = [](uint64_t n, int64_t ms) {
    TraceBuilder t(n);
    t.AddSpan("a", 1, 0, 0, ms);
    return t;
  };
  EXPECT_EQ(Vote(c, trace(1, 100)), kNotSampled) << "the lower bound is exclusive with an upper";
  EXPECT_EQ(Vote(c, trace(2, 101)), kSampled);
  EXPECT_EQ(Vote(c, trace(3, 200)), kSampled);
  EXPECT_EQ(Vote(c, trace(4, 201)), kNotSampled);
}

TEST(LatencyPolicyTest, RejectsAnUpperBoundBelowTheThreshold) {
  PolicyConfig c = Named("bad", PolicyType::kLatency);
  c.latency.threshold_ms = 500;
  c.latency.upper_threshold_ms = 100;
  EXPECT_EQ(BuildError(c),
            "p.latency.upper_threshold_ms: must be greater than threshold_ms (500), got 100");
}

TEST(StatusCodePolicyTest, MatchesAnySpanWithAListedStatus) {
  PolicyConfig c = Errors();
  TraceBuilder failed(1);
  failed.Root().AddSpan("db", 2, 1).StatusCode(Status::STATUS_CODE_ERROR);
  EXPECT_EQ(Vote(c, failed), kSampled);
  TraceBuilder ok(2);
  ok.Root().StatusCode(Status::STATUS_CODE_OK);
  EXPECT_EQ(Vote(c, ok), kNotSampled);

  c.status_code.status_codes = {"OK", "UNSET"};
  EXPECT_EQ(Vote(c, ok), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root()), kSampled) << "no status is UNSET";
}

TEST(StatusCodePolicyTest, RejectsUnknownCodes) {
  PolicyConfig c = Errors();
  c.status_code.status_codes = {"ERROR", "FAILED"};
  EXPECT_EQ(BuildError(c),
            "p.status_code.status_codes[1]: expected one of OK, ERROR, UNSET, got \"FAILED\"");
  c.status_code.status_codes.clear();
  EXPECT_THAT(BuildError(c), HasSubstr("p.status_code.status_codes: must list"));
}

TEST(SpanCountPolicyTest, CountsAreInclusiveAndMaxZeroIsUnbounded) {
  PolicyConfig c = Named("count", PolicyType::kSpanCount);
  c.span_count.min_spans = 2;
  c.span_count.max_spans = 3;
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root()), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Children(1)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Children(2)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(4).Root().Children(3)), kNotSampled);
  c.span_count.max_spans = 0;
  EXPECT_EQ(Vote(c, TraceBuilder(5).Root().Children(50)), kSampled);
  c.span_count.max_spans = 1;
  EXPECT_THAT(BuildError(c), HasSubstr("p.span_count.max_spans: must be at least min_spans"));
}

TEST(TraceFlagsPolicyTest, MatchesTheSampledFlag) {
  PolicyConfig c = Named("flags", PolicyType::kTraceFlags);
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Flags(0x01)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Flags(0x100)), kNotSampled);
}

// ------------------------------------------------------------------------------------------------
// Attribute policies

TEST(StringAttributePolicyTest, ExactValuesOnSpansAndResources) {
  PolicyConfig c = StringAttr("http.route", {"/checkout", "/cart"});
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().AddSpan("b", 2, 1).Str("http.route", "/cart")),
            kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Str("http.route", "/cartx")), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Int("http.route", 5)), kNotSampled);
  // A resource attribute counts too.
  c = StringAttr("service.name", {"checkout"});
  EXPECT_EQ(Vote(c, TraceBuilder(4).Root("frontend").AddSpan("checkout", 2, 1)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(5).Root("frontend")), kNotSampled);
  c = StringAttr("deployment.environment", {"prod"});
  EXPECT_EQ(Vote(c, TraceBuilder(6).Root().ResourceStr("deployment.environment", "prod")),
            kSampled);
}

TEST(StringAttributePolicyTest, RegexesSearchTheValue) {
  // As Go's regexp.MatchString in OpenTelemetry: not anchored.
  PolicyConfig c = StringAttr("http.route", {"val"}, /*regex=*/true);
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("http.route", "/interval")), kSampled);
  c = StringAttr("http.route", {"^/v1/name/.+$", "^/health$"}, /*regex=*/true);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Str("http.route", "/v1/name/42")), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Str("http.route", "/health")), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(4).Root().Str("http.route", "/v1/name/")), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(5).Root().Str("http.route", "/healthz")), kNotSampled);
}

TEST(StringAttributePolicyTest, RegexResultsAreCachedConsistently) {
  PolicyConfig c = StringAttr("k", {"^a+$"}, /*regex=*/true);
  c.string_attribute.cache_max_size = 2;
  std::unique_ptr<Policy> p = Make(c);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) {
      const std::string value = i % 2 == 0 ? std::string(i + 1, 'a') : "b" + std::to_string(i);
      EXPECT_EQ(p->Evaluate(TraceBuilder(i).Root().Str("k", value), 0).decision,
                i % 2 == 0 ? kSampled : kNotSampled)
          << value;
    }
  }
}

TEST(StringAttributePolicyTest, HugeValuesDoNotBreakRegexMatching) {
  PolicyConfig c = StringAttr("k", {"(a|b)*c"}, /*regex=*/true);
  std::unique_ptr<Policy> p = Make(c);
  EXPECT_EQ(p->Evaluate(TraceBuilder(1).Root().Str("k", std::string(1 << 20, 'a')), 0).decision,
            kNotSampled);
  EXPECT_EQ(p->Evaluate(TraceBuilder(2).Root().Str("k", "abac"), 0).decision, kSampled);
}

TEST(StringAttributePolicyTest, RegexesSearchTheWholeValue) {
  // RE2 is linear in the input, so nothing is cut off: a match at the end of a long value counts.
  PolicyConfig c = StringAttr("k", {"needle$"}, /*regex=*/true);
  std::unique_ptr<Policy> p = Make(c);
  EXPECT_EQ(p->Evaluate(TraceBuilder(1).Root().Str("k", std::string(100'000, 'x') + "needle"), 0)
                .decision,
            kSampled);
  // A pattern that makes a backtracking engine take exponential time is answered all the same.
  c = StringAttr("k", {"^(a+)+$"}, /*regex=*/true);
  p = Make(c);
  EXPECT_EQ(p->Evaluate(TraceBuilder(2).Root().Str("k", std::string(64, 'a') + "b"), 0).decision,
            kNotSampled);
  EXPECT_EQ(p->Evaluate(TraceBuilder(3).Root().Str("k", std::string(64, 'a')), 0).decision,
            kSampled);
}

TEST(StringAttributePolicyTest, RegexesUseGoSyntax) {
  // The syntax of Go's regexp (RE2), in which OpenTelemetry Collector configs are written.
  PolicyConfig c = StringAttr("k", {"(?i)^checkout-\\pL+$"}, /*regex=*/true);
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("k", "CHECKOUT-été")), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Str("k", "checkout-42")), kNotSampled);
  // Backreferences are not RE2: refused at start-up, not matched some other way.
  c = StringAttr("k", {"(a)\\1"}, /*regex=*/true);
  EXPECT_THAT(BuildError(c),
              HasSubstr("p.string_attribute.values[0]: invalid regular expression \"(a)\\1\""));
}

TEST(StringAttributePolicyTest, InvalidRegexIsAnErrorNamingTheValue) {
  PolicyConfig c = StringAttr("k", {"ok", "([a-z"}, /*regex=*/true);
  EXPECT_THAT(BuildError(c),
              HasSubstr("p.string_attribute.values[1]: invalid regular expression \"([a-z\""));
  // Without regex matching the same text is a plain value.
  c.string_attribute.enabled_regex_matching = false;
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("k", "([a-z")), kSampled);
}

TEST(StringAttributePolicyTest, InvertMatchVotesInverted) {
  PolicyConfig c = StringAttr("http.route", {"/health"}, false, /*invert=*/true);
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("http.route", "/health")),
            PolicyDecision::kInvertNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Str("http.route", "/api")),
            PolicyDecision::kInvertSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root()), PolicyDecision::kInvertSampled)
      << "no span has the key: sampled, as in OpenTelemetry";
  // Any matching span or resource makes it "not sampled".
  EXPECT_EQ(Vote(c, TraceBuilder(4)
                        .Root()
                        .Str("http.route", "/api")
                        .AddSpan("b", 2, 1)
                        .Str("http.route", "/health")),
            PolicyDecision::kInvertNotSampled);
}

TEST(NumericAttributePolicyTest, RangesBoundsAndTypes) {
  PolicyConfig c = Named("num", PolicyType::kNumericAttribute);
  c.numeric_attribute.key = "http.status_code";
  c.numeric_attribute.min_value = 500;
  c.numeric_attribute.max_value = 599;
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Int("http.status_code", 500)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Int("http.status_code", 599)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Int("http.status_code", 404)), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(4).Root().Double("http.status_code", 503.5)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(5).Root().Str("http.status_code", "503")), kNotSampled);
  c.numeric_attribute.max_value.reset();
  EXPECT_EQ(Vote(c, TraceBuilder(6).Root().Int("http.status_code", 1'000'000)), kSampled);
  c.numeric_attribute.min_value.reset();
  c.numeric_attribute.max_value = 10;
  EXPECT_EQ(Vote(c, TraceBuilder(7).Root().Int("http.status_code", -5)), kSampled);
  c.numeric_attribute.invert_match = true;
  EXPECT_EQ(Vote(c, TraceBuilder(8).Root().Int("http.status_code", 5)),
            PolicyDecision::kInvertNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(9).Root().Int("http.status_code", 50)),
            PolicyDecision::kInvertSampled);
}

TEST(NumericAttributePolicyTest, RequiresABoundInOrder) {
  PolicyConfig c = Named("num", PolicyType::kNumericAttribute);
  c.numeric_attribute.key = "k";
  EXPECT_EQ(BuildError(c), "p.numeric_attribute: set min_value, max_value or both");
  c.numeric_attribute.min_value = 10;
  c.numeric_attribute.max_value = 5;
  EXPECT_EQ(BuildError(c), "p.numeric_attribute.max_value: must be at least min_value (10), got 5");
}

TEST(BooleanAttributePolicyTest, MatchesBooleansOnly) {
  PolicyConfig c = Named("force", PolicyType::kBooleanAttribute);
  c.boolean_attribute.key = "app.force_sample";
  c.boolean_attribute.value = true;
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Bool("app.force_sample", true)), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Bool("app.force_sample", false)), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Str("app.force_sample", "true")), kNotSampled);
  c.boolean_attribute.invert_match = true;
  EXPECT_EQ(Vote(c, TraceBuilder(4).Root().Bool("app.force_sample", true)),
            PolicyDecision::kInvertNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(5).Root()), PolicyDecision::kInvertSampled);
  c.boolean_attribute.key.clear();
  EXPECT_EQ(BuildError(c), "p.boolean_attribute.key: must not be empty");
}

TEST(TraceStatePolicyTest, LooksUpTheKeyInTheW3cTraceState) {
  PolicyConfig c = Named("ts", PolicyType::kTraceState);
  c.trace_state.key = "key3";
  c.trace_state.values = {"value1", "value2"};
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().TraceState("a=1, key3=value2 ,b=2")), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().TraceState("key3=value3")), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().TraceState("xkey3=value1")), kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(4).Root()), kNotSampled);
}

}  // namespace
}  // namespace tailtrace::collector
