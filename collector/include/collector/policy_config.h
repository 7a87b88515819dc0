#pragma once

// Plain descriptions of configured tail-sampling policies: what `sampling.policies` in the config
// file says, with no YAML. The field names and meanings are those of the OpenTelemetry Collector
// `tail_sampling` processor, plus tailtrace's `dynamic` policy. The config library fills these
// structs (config/policies.cc); collector/policies.h turns them into samplers and validates them
// again, so a struct built by hand is checked too. docs/sampling.md is the user reference.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tailtrace::collector {

enum class PolicyType {
  kAlwaysSample,
  kLatency,
  kStatusCode,
  kStringAttribute,
  kNumericAttribute,
  kBooleanAttribute,
  kProbabilistic,
  kRateLimiting,
  kBytesLimiting,
  kSpanCount,
  kTraceState,
  kTraceFlags,
  kAnd,
  kNot,
  kDrop,
  kComposite,
  kDynamic,
};

// The config `type` string of `type` ("always_sample", "string_attribute", ...).
inline const char* PolicyTypeName(PolicyType type) {
  switch (type) {
    case PolicyType::kAlwaysSample:
      return "always_sample";
    case PolicyType::kLatency:
      return "latency";
    case PolicyType::kStatusCode:
      return "status_code";
    case PolicyType::kStringAttribute:
      return "string_attribute";
    case PolicyType::kNumericAttribute:
      return "numeric_attribute";
    case PolicyType::kBooleanAttribute:
      return "boolean_attribute";
    case PolicyType::kProbabilistic:
      return "probabilistic";
    case PolicyType::kRateLimiting:
      return "rate_limiting";
    case PolicyType::kBytesLimiting:
      return "bytes_limiting";
    case PolicyType::kSpanCount:
      return "span_count";
    case PolicyType::kTraceState:
      return "trace_state";
    case PolicyType::kTraceFlags:
      return "trace_flags";
    case PolicyType::kAnd:
      return "and";
    case PolicyType::kNot:
      return "not";
    case PolicyType::kDrop:
      return "drop";
    case PolicyType::kComposite:
      return "composite";
    case PolicyType::kDynamic:
      return "dynamic";
  }
  return "unknown";
}

// Trace duration (latest span end - earliest span start) above a threshold.
struct LatencyPolicyConfig {
  // Keeps traces of at least this many milliseconds (more than this when upper_threshold_ms is
  // set).
  // Default: 0
  int64_t threshold_ms = 0;
  // When > 0, keeps only traces of at most this many milliseconds.
  // Default: 0 (no upper bound)
  int64_t upper_threshold_ms = 0;
};

struct StatusCodePolicyConfig {
  // Any of "OK", "ERROR", "UNSET"; a trace with a span of one of these statuses is kept.
  std::vector<std::string> status_codes;
};

struct StringAttributePolicyConfig {
  // Attribute key looked up on spans and resources.
  std::string key;
  // Exact values, or ECMAScript regular expressions (searched, not anchored) when
  // enabled_regex_matching.
  std::vector<std::string> values;
  // Default: false
  bool enabled_regex_matching = false;
  // Accepted for compatibility with OpenTelemetry configs; unused.
  // Default: 0
  int64_t cache_max_size = 0;
  // Keep traces where no span or resource matches (OpenTelemetry's "inverted" decision).
  // Default: false
  bool invert_match = false;
};

struct NumericAttributePolicyConfig {
  std::string key;
  // Inclusive bounds; at least one must be set.
  std::optional<int64_t> min_value;
  std::optional<int64_t> max_value;
  // Default: false
  bool invert_match = false;
};

struct BooleanAttributePolicyConfig {
  std::string key;
  // Default: false
  bool value = false;
  // Default: false
  bool invert_match = false;
};

struct ProbabilisticPolicyConfig {
  // Salt hashed with the trace ID; "" means OpenTelemetry's default salt, so that tailtrace and
  // OpenTelemetry collectors with the same percentage keep the same traces.
  // Default: ""
  std::string hash_salt;
  // 0 to 100.
  // Default: 0
  double sampling_percentage = 0;
};

struct RateLimitingPolicyConfig {
  // Across all shards of the process; each shard gets spans_per_second / num_shards. At least 1.
  int64_t spans_per_second = 0;
};

struct BytesLimitingPolicyConfig {
  // Across all shards; each shard gets its share. At least 1.
  int64_t bytes_per_second = 0;
  // Bucket size in bytes; 0 means 2 * bytes_per_second.
  // Default: 0
  int64_t burst_capacity = 0;
};

struct SpanCountPolicyConfig {
  // Default: 0
  int64_t min_spans = 0;
  // 0 means no upper bound.
  // Default: 0
  int64_t max_spans = 0;
};

struct TraceStatePolicyConfig {
  std::string key;
  std::vector<std::string> values;
};

struct RateAllocation {
  // Name of a composite sub-policy.
  std::string policy;
  // Share of max_total_spans_per_second, 0-100; 0 means an equal share (max / sub-policies).
  int64_t percent = 0;
};

struct CompositePolicyConfig {
  // Across all shards; each shard gets its share. At least 1.
  int64_t max_total_spans_per_second = 0;
  // Sub-policy names in evaluation order; sub-policies not listed follow in their list order.
  std::vector<std::string> policy_order;
  std::vector<RateAllocation> rate_allocation;
  // The sub-policies themselves are PolicyConfig::sub_policies.
};

struct DynamicPolicyConfig {
  // Span/resource attribute keys (of the root span, or of any span when there is no root) and
  // the special fields "status_code", "span.name" and "span.kind" that make a trace's key.
  std::vector<std::string> key_fields;
  // Exactly one of the two goals is > 0.
  // Keep about one trace in goal_sample_rate overall (at least 1).
  double goal_sample_rate = 0;
  // Keep about this many traces per second (across all shards).
  double goal_throughput_per_sec = 0;
  // How often per-key sample rates are recomputed.
  // Default: 15s
  int64_t adjustment_interval_ns = 15'000'000'000;
  // A key not seen for this long is forgotten; 0 means when its moving average decays.
  // Default: 0
  int64_t clear_frequency_ns = 0;
  // Keys tracked per shard; further keys share one overflow key.
  // Default: 10000
  int64_t max_keys = 10'000;
};

// One policy of `sampling.policies` (or a sub-policy of and/not/drop/composite). Only the
// settings struct of `type` is used.
struct PolicyConfig {
  // Unique among the top-level policies, and among the sub-policies of one composite.
  std::string name;
  PolicyType type = PolicyType::kAlwaysSample;

  LatencyPolicyConfig latency;
  StatusCodePolicyConfig status_code;
  StringAttributePolicyConfig string_attribute;
  NumericAttributePolicyConfig numeric_attribute;
  BooleanAttributePolicyConfig boolean_attribute;
  ProbabilisticPolicyConfig probabilistic;
  RateLimitingPolicyConfig rate_limiting;
  BytesLimitingPolicyConfig bytes_limiting;
  SpanCountPolicyConfig span_count;
  TraceStatePolicyConfig trace_state;
  CompositePolicyConfig composite;
  DynamicPolicyConfig dynamic;
  // and_sub_policy, not_sub_policy (exactly one), drop_sub_policy or composite_sub_policy.
  std::vector<PolicyConfig> sub_policies;
};

}  // namespace tailtrace::collector
