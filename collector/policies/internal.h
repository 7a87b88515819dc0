#pragma once

// Shared by the policy implementation files (collector/policies/*.cc); not a public header.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/policies.h"
#include "collector/policy_config.h"
#include "collector/trace_buffer.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace::collector::policy_internal {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::Span;

// Where a policy is built: its place in the config (for errors), its shard, and how deep it is
// nested under and/not/drop/composite (0 at the top of the list).
struct BuildContext {
  std::string path;
  uint32_t shard_index = 0;
  uint32_t num_shards = 1;
  int depth = 0;
};

// Deepest nesting accepted (and inside not inside and ...).
inline constexpr int kMaxDepth = 8;

// "<path>.<type>.<field>: <what>" as InvalidArgument; an empty field gives "<path>.<type>: <what>".
[[nodiscard]] absl::Status FieldError(const BuildContext& ctx, PolicyType type,
                                      std::string_view field, std::string_view what);

// CreatePolicy for a policy at `ctx` (recursion of the combinators).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> Build(const PolicyConfig& config,
                                                            const BuildContext& ctx);

// Per-file builders, each for the types it implements.
// always_sample, latency, status_code, span_count, trace_flags (trace_policies.cc)
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> BuildTracePolicy(const PolicyConfig& config,
                                                                       const BuildContext& ctx);
// string_attribute, numeric_attribute, boolean_attribute, trace_state (attribute_policies.cc)
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> BuildAttributePolicy(
    const PolicyConfig& config, const BuildContext& ctx);
// probabilistic, rate_limiting, bytes_limiting (rate_policies.cc)
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> BuildRatePolicy(const PolicyConfig& config,
                                                                      const BuildContext& ctx);
// and, not, drop, composite (combinators.cc)
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> BuildCombinator(const PolicyConfig& config,
                                                                      const BuildContext& ctx);
// dynamic (dynamic_policy.cc)
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> BuildDynamicPolicy(const PolicyConfig& config,
                                                                         const BuildContext& ctx);

inline bool IsSampled(PolicyDecision d) {
  return d == PolicyDecision::kSampled || d == PolicyDecision::kInvertSampled;
}

// Base class holding the name.
class NamedPolicy : public Policy {
 public:
  explicit NamedPolicy(std::string name) : name_(std::move(name)) {}
  const std::string& name() const final { return name_; }

 private:
  std::string name_;
};

// The value of attribute `key` in `attributes`, or null.
const AnyValue* FindAttribute(const google::protobuf::RepeatedPtrField<KeyValue>& attributes,
                              std::string_view key);

// Calls f(resource, span) for every span of the trace until f returns true; returns whether it
// did.
template <typename F>
bool AnySpan(const TraceBuffer& trace, F&& f) {
  for (const auto& rs : trace.spans.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        if (f(rs.resource(), span)) return true;
      }
    }
  }
  return false;
}

// Whether any resource or span of the trace has attribute `key` with a value for which
// `matches(value)` is true (OpenTelemetry's "resource or span" attribute policies).
template <typename F>
bool AnyResourceOrSpanAttribute(const TraceBuffer& trace, std::string_view key, F&& matches) {
  for (const auto& rs : trace.spans.resource_spans()) {
    if (const AnyValue* v = FindAttribute(rs.resource().attributes(), key)) {
      if (matches(*v)) return true;
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        if (const AnyValue* v = FindAttribute(span.attributes(), key)) {
          if (matches(*v)) return true;
        }
      }
    }
  }
  return false;
}

// Keeps a trace with probability 1 / sample_rate, deterministically from `hash` (uniform over
// 64 bits): kept when hash <= (2^64 - 1) / sample_rate.
[[nodiscard]] bool KeepByHash(uint64_t hash, double sample_rate);

// The rate 1 / (1 - 1/r) of the complement of a policy that keeps with rate r (used by `not`):
// 1 when r is 1 or infinite.
[[nodiscard]] double ComplementRate(double r);

// A token bucket on the shard's clock. Starts full. A cost that fits the current tokens is
// taken; a cost larger than the whole capacity is taken when the bucket is full, leaving it
// negative (so large traces and shares below one unit per second still get through, at the
// configured average rate). Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double capacity)
      : rate_per_ns_(rate_per_second / 1e9), capacity_(capacity), tokens_(capacity) {}

  // Whether `cost` could be taken at `now_ns` (refills first).
  bool CanTake(double cost, int64_t now_ns);
  void Take(double cost) { tokens_ -= cost; }
  double tokens() const { return tokens_; }

 private:
  void Refill(int64_t now_ns);

  double rate_per_ns_;
  double capacity_;
  double tokens_;
  int64_t last_ns_ = 0;
  bool started_ = false;
};

// Counts traces offered to and kept by a rate limit over one-second windows of the shard's clock,
// to report the effective sample rate: offered / kept of the previous window when that window is
// the one just before and kept something, otherwise of the current window so far. At least 1.
class KeepRatio {
 public:
  // Records one offered trace and whether it was kept; returns the rate for it.
  double Record(bool kept, int64_t now_ns);

 private:
  int64_t window_ = INT64_MIN;
  uint64_t offered_ = 0;
  uint64_t kept_ = 0;
  int64_t previous_window_ = INT64_MIN;
  uint64_t previous_offered_ = 0;
  uint64_t previous_kept_ = 0;
};

}  // namespace tailtrace::collector::policy_internal
