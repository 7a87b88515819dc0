// Tail-sampling policies (collector/policies.h): every policy type, the combinators, the
// evaluation of a policy list (drop, inverted votes, sample_on_first_match), sample rates,
// per-shard rates and the per-policy metric. Time is passed in; nothing sleeps.

#include "collector/policies.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "collector/policy_config.h"
#include "common/metrics.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using ::testing::HasSubstr;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;
constexpr uint64_t kEpochNs = 1'700'000'000'000'000'000ull;

// Builds the TraceBuffer of one trace, one ResourceSpans per added span.
class TraceBuilder {
 public:
  // Trace `n` gets a random-looking ID, as W3C trace IDs are (the probabilistic hash, like
  // OpenTelemetry's, assumes random IDs).
  explicit TraceBuilder(uint64_t n) {
    uint64_t state = n * 0x9e3779b97f4a7c15ull + 1;
    for (int half = 0; half < 2; ++half) {
      const uint64_t v = SplitMix64(&state);
      for (int b = 0; b < 8; ++b)
        buffer_.trace_id.bytes[8 * half + b] = static_cast<uint8_t>(v >> (8 * b));
    }
  }
  explicit TraceBuilder(const TraceId& id) { buffer_.trace_id = id; }

  // A span of `service` from start_ms to end_ms (relative to a fixed epoch); parent 0 = root.
  TraceBuilder& AddSpan(const std::string& service, uint64_t span, uint64_t parent,
                        int64_t start_ms = 0, int64_t end_ms = 1) {
    ResourceSpans* rs = buffer_.spans.add_resource_spans();
    auto* attr = rs->mutable_resource()->add_attributes();
    attr->set_key("service.name");
    attr->mutable_value()->set_string_value(service);
    last_ = rs->add_scope_spans()->add_spans();
    last_->set_trace_id(std::string(buffer_.trace_id.view()));
    last_->set_span_id(testing::TestSpanId(span));
    if (parent != 0) last_->set_parent_span_id(testing::TestSpanId(parent));
    last_->set_name("op");
    last_->set_start_time_unix_nano(kEpochNs + start_ms * kMs);
    last_->set_end_time_unix_nano(kEpochNs + end_ms * kMs);
    last_resource_ = rs;
    ++buffer_.span_count;
    buffer_.bytes += rs->ByteSizeLong();
    return *this;
  }
  TraceBuilder& Root(const std::string& service = "svc") { return AddSpan(service, 1, 0); }

  TraceBuilder& Str(const std::string& key, const std::string& value) {
    Attr(key)->set_string_value(value);
    return *this;
  }
  TraceBuilder& Int(const std::string& key, int64_t value) {
    Attr(key)->set_int_value(value);
    return *this;
  }
  TraceBuilder& Double(const std::string& key, double value) {
    Attr(key)->set_double_value(value);
    return *this;
  }
  TraceBuilder& Bool(const std::string& key, bool value) {
    Attr(key)->set_bool_value(value);
    return *this;
  }
  TraceBuilder& ResourceStr(const std::string& key, const std::string& value) {
    auto* a = last_resource_->mutable_resource()->add_attributes();
    a->set_key(key);
    a->mutable_value()->set_string_value(value);
    return *this;
  }
  TraceBuilder& StatusCode(Status::StatusCode code) {
    last_->mutable_status()->set_code(code);
    return *this;
  }
  TraceBuilder& TraceState(const std::string& state) {
    last_->set_trace_state(state);
    return *this;
  }
  TraceBuilder& Flags(uint32_t flags) {
    last_->set_flags(flags);
    return *this;
  }
  // Adds `n` more child spans of the root.
  TraceBuilder& Children(int n) {
    for (int i = 0; i < n; ++i) AddSpan("svc", 100 + i, 1);
    return *this;
  }

  static uint64_t SplitMix64(uint64_t* state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  const TraceBuffer& buffer() const { return buffer_; }
  operator const TraceBuffer&() const { return buffer_; }

 private:
  opentelemetry::proto::common::v1::AnyValue* Attr(const std::string& key) {
    auto* a = last_->add_attributes();
    a->set_key(key);
    return a->mutable_value();
  }

  TraceBuffer buffer_;
  Span* last_ = nullptr;
  ResourceSpans* last_resource_ = nullptr;
};

PolicyConfig Named(const std::string& name, PolicyType type) {
  PolicyConfig c;
  c.name = name;
  c.type = type;
  return c;
}

PolicyConfig Errors(const std::string& name = "errors") {
  PolicyConfig c = Named(name, PolicyType::kStatusCode);
  c.status_code.status_codes = {"ERROR"};
  return c;
}

PolicyConfig Probabilistic(double percentage, const std::string& name = "prob",
                           const std::string& salt = "") {
  PolicyConfig c = Named(name, PolicyType::kProbabilistic);
  c.probabilistic.sampling_percentage = percentage;
  c.probabilistic.hash_salt = salt;
  return c;
}

PolicyConfig StringAttr(const std::string& key, std::vector<std::string> values, bool regex = false,
                        bool invert = false, const std::string& name = "attr") {
  PolicyConfig c = Named(name, PolicyType::kStringAttribute);
  c.string_attribute.key = key;
  c.string_attribute.values = std::move(values);
  c.string_attribute.enabled_regex_matching = regex;
  c.string_attribute.invert_match = invert;
  return c;
}

std::unique_ptr<Policy> Make(const PolicyConfig& config, uint32_t shard = 0, uint32_t shards = 1) {
  absl::StatusOr<std::unique_ptr<Policy>> p = CreatePolicy(config, "p", shard, shards);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

std::string BuildError(const PolicyConfig& config) {
  absl::StatusOr<std::unique_ptr<Policy>> p = CreatePolicy(config, "p", 0, 1);
  EXPECT_FALSE(p.ok());
  return p.ok() ? "" : std::string(p.status().message());
}

PolicyDecision Vote(const PolicyConfig& config, const TraceBuffer& trace) {
  return Make(config)->Evaluate(trace, 0).decision;
}

std::unique_ptr<Sampler> MakeSampler(const std::vector<PolicyConfig>& policies,
                                     bool first_match = false, MetricsRegistry* metrics = nullptr,
                                     uint32_t shard = 0, uint32_t shards = 1) {
  absl::StatusOr<std::unique_ptr<Sampler>> s =
      MakePolicySampler(policies, first_match, shard, shards, metrics);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

constexpr PolicyDecision kSampled = PolicyDecision::kSampled;
constexpr PolicyDecision kNotSampled = PolicyDecision::kNotSampled;

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

PolicyConfig RateLimit(int64_t spans_per_second, const std::string& name = "rate") {
  PolicyConfig c = Named(name, PolicyType::kRateLimiting);
  c.rate_limiting.spans_per_second = spans_per_second;
  return c;
}

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
// Combinators

PolicyConfig And(const std::string& name, std::vector<PolicyConfig> subs) {
  PolicyConfig c = Named(name, PolicyType::kAnd);
  c.sub_policies = std::move(subs);
  return c;
}

PolicyConfig Not(const std::string& name, PolicyConfig sub) {
  PolicyConfig c = Named(name, PolicyType::kNot);
  c.sub_policies = {std::move(sub)};
  return c;
}

PolicyConfig Drop(const std::string& name, std::vector<PolicyConfig> subs) {
  PolicyConfig c = Named(name, PolicyType::kDrop);
  c.sub_policies = std::move(subs);
  return c;
}

TEST(AndPolicyTest, AllSubPoliciesMustKeepAndRatesMultiply) {
  PolicyConfig c =
      And("checkout-10pct",
          {StringAttr("service.name", {"checkout"}, false, false, "svc"), Probabilistic(10)});
  std::unique_ptr<Policy> p = Make(c);
  int kept = 0;
  for (uint64_t n = 0; n < 1000; ++n) {
    const PolicyResult r = p->Evaluate(TraceBuilder(n).Root("checkout"), 0);
    if (r.decision == kSampled) {
      ++kept;
      EXPECT_DOUBLE_EQ(r.sample_rate, 10.0);
    }
    EXPECT_EQ(p->Evaluate(TraceBuilder(n).Root("cart"), 0).decision, kNotSampled);
  }
  EXPECT_GT(kept, 50);
  EXPECT_LT(kept, 150);
}

TEST(AndPolicyTest, InvertedVotesCountAsPlainOnes) {
  PolicyConfig c =
      And("not-health", {StringAttr("http.route", {"/health"}, false, /*invert=*/true, "route"),
                         Named("all", PolicyType::kAlwaysSample)});
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("http.route", "/api")), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Str("http.route", "/health")), kNotSampled);
}

TEST(NotPolicyTest, InvertsItsSubPolicyAndItsRate) {
  PolicyConfig c = Not("no-errors", Errors("err"));
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root()), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().StatusCode(Status::STATUS_CODE_ERROR)), kNotSampled);
  // not(25%) keeps 75%: rate 4/3.
  std::unique_ptr<Policy> p = Make(Not("most", Probabilistic(25)));
  int kept = 0;
  for (uint64_t n = 0; n < 4000; ++n) {
    const PolicyResult r = p->Evaluate(TraceBuilder(n).Root(), 0);
    EXPECT_NEAR(r.sample_rate, 4.0 / 3.0, 1e-9);
    kept += r.decision == kSampled;
  }
  EXPECT_NEAR(kept, 3000, 150);
}

TEST(NotPolicyTest, NeedsExactlyOneSubPolicy) {
  PolicyConfig c = Not("n", Errors());
  c.sub_policies.push_back(Errors("e2"));
  EXPECT_EQ(BuildError(c), "p.not.not_sub_policy: must be exactly one policy, got 2");
}

TEST(DropPolicyTest, DropsWhenAllSubPoliciesMatch) {
  PolicyConfig c =
      Drop("drop-health", {StringAttr("http.route", {"/health"}), Not("ok", Errors("err"))});
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("http.route", "/health")), PolicyDecision::kDropped);
  EXPECT_EQ(Vote(c, TraceBuilder(2)
                        .Root()
                        .Str("http.route", "/health")
                        .StatusCode(Status::STATUS_CODE_ERROR)),
            kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Str("http.route", "/api")), kNotSampled);
}

TEST(CombinatorTest, DropAndCompositeOnlyAtTheTopLevel) {
  PolicyConfig c = And("a", {Drop("d", {Errors()})});
  EXPECT_EQ(BuildError(c),
            "p.and.and_sub_policy[0] (d).type: a drop policy can only be at the top level of "
            "sampling.policies, not inside another policy");
}

TEST(CombinatorTest, SubPolicyErrorsNameTheirPath) {
  PolicyConfig bad = Probabilistic(200, "half");
  EXPECT_EQ(BuildError(And("a", {Errors(), Not("n", bad)})),
            "p.and.and_sub_policy[1] (n).not.not_sub_policy (half).probabilistic."
            "sampling_percentage: must be from 0 to 100, got 200");
  PolicyConfig unnamed = Errors("");
  EXPECT_EQ(BuildError(And("a", {unnamed})),
            "p.and.and_sub_policy[0].name: missing (every policy needs a name)");
  EXPECT_THAT(BuildError(And("a", {})), HasSubstr("p.and.and_sub_policy: must list"));
}

PolicyConfig Composite(int64_t max_total, std::vector<PolicyConfig> subs,
                       std::vector<RateAllocation> allocation,
                       std::vector<std::string> order = {}) {
  PolicyConfig c = Named("composite", PolicyType::kComposite);
  c.composite.max_total_spans_per_second = max_total;
  c.composite.rate_allocation = std::move(allocation);
  c.composite.policy_order = std::move(order);
  c.sub_policies = std::move(subs);
  return c;
}

TEST(CompositePolicyTest, RateAllocationCapsEachSubPolicyAndTheTotal) {
  // 10 spans/s: vip gets 50% (5/s); everything else is limited by the total only.
  PolicyConfig c = Composite(
      10,
      {StringAttr("tier", {"vip"}, false, false, "vip"), Named("rest", PolicyType::kAlwaysSample)},
      {{"vip", 50}});
  std::unique_ptr<Policy> p = Make(c);
  TraceBuilder vip(1);
  vip.Root().Str("tier", "vip");
  TraceBuilder plain(2);
  plain.Root();
  int vip_kept = 0;
  for (int i = 0; i < 8; ++i) vip_kept += p->Evaluate(vip, 0).decision == kSampled;
  EXPECT_EQ(vip_kept, 5) << "vip is capped at its 50%";
  int plain_kept = 0;
  for (int i = 0; i < 8; ++i) plain_kept += p->Evaluate(plain, 0).decision == kSampled;
  EXPECT_EQ(plain_kept, 5) << "the rest fills the remaining total";
  // Next second: both budgets are back.
  EXPECT_EQ(p->Evaluate(vip, kSec).decision, kSampled);
  EXPECT_EQ(p->Evaluate(plain, kSec).decision, kSampled);
}

TEST(CompositePolicyTest, PolicyOrderDecidesWhichSubPolicyAsks) {
  // "all" (1 span/s) first would deny the vip trace once its budget is spent; with vip first,
  // vip's own budget applies.
  const auto make = [](std::vector<std::string> order) {
    return Composite(
        100,
        {Named("all", PolicyType::kAlwaysSample), StringAttr("tier", {"vip"}, false, false, "vip")},
        {{"all", 1}, {"vip", 50}}, std::move(order));
  };
  TraceBuilder vip(1);
  vip.Root().Str("tier", "vip");
  std::unique_ptr<Policy> all_first = Make(make({}));
  std::unique_ptr<Policy> vip_first = Make(make({"vip", "all"}));
  int kept_all_first = 0;
  int kept_vip_first = 0;
  for (int i = 0; i < 10; ++i) {
    kept_all_first += all_first->Evaluate(vip, 0).decision == kSampled;
    kept_vip_first += vip_first->Evaluate(vip, 0).decision == kSampled;
  }
  EXPECT_EQ(kept_all_first, 1);
  EXPECT_EQ(kept_vip_first, 10);
}

TEST(CompositePolicyTest, SampleRateIncludesTheSubPolicyRate) {
  PolicyConfig c = Composite(1000, {Probabilistic(50, "half")}, {});
  std::unique_ptr<Policy> p = Make(c);
  for (uint64_t n = 0; n < 100; ++n) {
    const PolicyResult r = p->Evaluate(TraceBuilder(n).Root(), 0);
    if (r.decision == kSampled) {
      EXPECT_DOUBLE_EQ(r.sample_rate, 2.0);
    }
  }
}

TEST(CompositePolicyTest, ValidatesNamesAndPercents) {
  std::vector<PolicyConfig> subs = {Errors("a"), Named("b", PolicyType::kAlwaysSample)};
  EXPECT_EQ(BuildError(Composite(10, subs, {{"c", 10}})),
            "p.composite.rate_allocation[0].policy: \"c\" is not the name of a "
            "composite_sub_policy");
  EXPECT_EQ(BuildError(Composite(10, subs, {{"a", 60}, {"b", 50}})),
            "p.composite.rate_allocation: the percents add up to 110, more than 100");
  EXPECT_EQ(BuildError(Composite(10, subs, {}, {"b", "x"})),
            "p.composite.policy_order[1]: \"x\" is not the name of a composite_sub_policy");
  EXPECT_THAT(BuildError(Composite(10, {Errors("a"), Errors("a")}, {})),
              HasSubstr("duplicate sub-policy name \"a\""));
  EXPECT_EQ(BuildError(Composite(0, subs, {})),
            "p.composite.max_total_spans_per_second: must be at least 1, got 0");
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
