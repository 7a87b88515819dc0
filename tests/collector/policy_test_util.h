#pragma once

// Shared builders of the tail-sampling policy tests (policies_*_test.cc): a TraceBuilder of one
// trace's TraceBuffer, PolicyConfig builders, and helpers that build and evaluate policies and
// samplers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector/policies.h"
#include "collector/policy_config.h"
#include "common/metrics.h"
#include "gtest/gtest.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::collector::testing {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

inline constexpr int64_t kMs = 1'000'000;
inline constexpr int64_t kSec = 1'000'000'000;
inline constexpr uint64_t kEpochNs = 1'700'000'000'000'000'000ull;

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

inline PolicyConfig Named(const std::string& name, PolicyType type) {
  PolicyConfig c;
  c.name = name;
  c.type = type;
  return c;
}

inline PolicyConfig Errors(const std::string& name = "errors") {
  PolicyConfig c = Named(name, PolicyType::kStatusCode);
  c.status_code.status_codes = {"ERROR"};
  return c;
}

inline PolicyConfig Probabilistic(double percentage, const std::string& name = "prob",
                                  const std::string& salt = "") {
  PolicyConfig c = Named(name, PolicyType::kProbabilistic);
  c.probabilistic.sampling_percentage = percentage;
  c.probabilistic.hash_salt = salt;
  return c;
}

inline PolicyConfig StringAttr(const std::string& key, std::vector<std::string> values,
                               bool regex = false, bool invert = false,
                               const std::string& name = "attr") {
  PolicyConfig c = Named(name, PolicyType::kStringAttribute);
  c.string_attribute.key = key;
  c.string_attribute.values = std::move(values);
  c.string_attribute.enabled_regex_matching = regex;
  c.string_attribute.invert_match = invert;
  return c;
}

inline std::unique_ptr<Policy> Make(const PolicyConfig& config, uint32_t shard = 0,
                                    uint32_t shards = 1) {
  absl::StatusOr<std::unique_ptr<Policy>> p = CreatePolicy(config, "p", shard, shards);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

inline std::string BuildError(const PolicyConfig& config) {
  absl::StatusOr<std::unique_ptr<Policy>> p = CreatePolicy(config, "p", 0, 1);
  EXPECT_FALSE(p.ok());
  return p.ok() ? "" : std::string(p.status().message());
}

inline PolicyDecision Vote(const PolicyConfig& config, const TraceBuffer& trace) {
  return Make(config)->Evaluate(trace, 0).decision;
}

inline std::unique_ptr<Sampler> MakeSampler(const std::vector<PolicyConfig>& policies,
                                            bool first_match = false,
                                            MetricsRegistry* metrics = nullptr, uint32_t shard = 0,
                                            uint32_t shards = 1) {
  absl::StatusOr<std::unique_ptr<Sampler>> s =
      MakePolicySampler(policies, first_match, shard, shards, metrics);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

inline constexpr PolicyDecision kSampled = PolicyDecision::kSampled;
inline constexpr PolicyDecision kNotSampled = PolicyDecision::kNotSampled;

inline PolicyConfig RateLimit(int64_t spans_per_second, const std::string& name = "rate") {
  PolicyConfig c = Named(name, PolicyType::kRateLimiting);
  c.rate_limiting.spans_per_second = spans_per_second;
  return c;
}

inline PolicyConfig Drop(const std::string& name, std::vector<PolicyConfig> subs) {
  PolicyConfig c = Named(name, PolicyType::kDrop);
  c.sub_policies = std::move(subs);
  return c;
}

}  // namespace tailtrace::collector::testing
