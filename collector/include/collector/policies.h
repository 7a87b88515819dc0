#pragma once

// Tail-sampling policies: the OpenTelemetry Collector `tail_sampling` policy types (plus `not`,
// `trace_flags` and tailtrace's `dynamic`), and the Sampler that evaluates a list of them the way
// that processor does. docs/sampling.md is the user-facing reference.
//
// Evaluation of a list (PolicySampler):
//   1. `drop` policies first, in list order: one that matches drops the trace; nothing else runs.
//   2. Then every other policy in list order (with sample_on_first_match, only until the first
//      one that returns kSampled).
//   3. Any kInvertNotSampled drops the trace; otherwise any kSampled keeps it; otherwise a
//      kInvertSampled keeps it when no policy returned kNotSampled; otherwise it is dropped.
//   The decision names the keeping policy with the smallest sample rate (the earliest on a tie;
//   with sample_on_first_match, the matching one) and carries that rate.
//
// Rates (rate_limiting, bytes_limiting, composite, dynamic throughput) are per process: a shard's
// sampler gets rate / num_shards, since trace IDs spread evenly over the shards.
//
// Threading: a Policy and a PolicySampler belong to one shard thread (no locking). The factory
// returned by MakePolicySamplerFactory may be called from any thread; the samplers it makes share
// only the registry's (atomic) counters.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/policy_config.h"
#include "collector/sampler.h"
#include "collector/trace_buffer.h"
#include "common/metrics.h"

namespace tailtrace::collector {

// A policy's vote, as in OpenTelemetry. The inverted values come only from string_attribute,
// numeric_attribute and boolean_attribute with invert_match at the top level of the list; inside
// and/not/drop/composite they count as kSampled / kNotSampled.
enum class PolicyDecision {
  kNotSampled,
  kSampled,
  kInvertNotSampled,
  kInvertSampled,
  // From a `drop` policy whose sub-policies all matched.
  kDropped,
};

struct PolicyResult {
  PolicyDecision decision = PolicyDecision::kNotSampled;
  // 1 / probability with which this policy keeps traces like this one. Deterministic policies
  // give 1, probabilistic 100 / sampling_percentage, rate limits their current ratio of offered
  // to kept traces. Also set on kNotSampled (the rate the policy applies), which `not` uses.
  double sample_rate = 1.0;
};

// One configured policy of one shard. Not thread-safe.
class Policy {
 public:
  virtual ~Policy() = default;
  // `now_ns` is the shard's (monotonic) clock; rate policies measure time only through it.
  virtual PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) = 0;
  virtual const std::string& name() const = 0;
  // False when Evaluate reads only the trace's facts (trace ID, span count, bytes, arrival
  // times) and never `trace.spans`: a shard then does not parse the spans of the traces such
  // policies drop.
  virtual bool ReadsSpans() const { return true; }
};

// Checks `config` and builds its policy for shard `shard_index` of `num_shards`. `path` names the
// policy in error messages, e.g. "sampling.policies[2] (slow-traces)"; errors read
// "<path>.<type>.<field>: <what is wrong>".
[[nodiscard]] absl::StatusOr<std::unique_ptr<Policy>> CreatePolicy(const PolicyConfig& config,
                                                                   const std::string& path,
                                                                   uint32_t shard_index,
                                                                   uint32_t num_shards);

// Checks a whole policy list (every policy, and top-level names unique). Errors name the policy
// as "sampling.policies[<index>] (<name>)".
[[nodiscard]] absl::Status ValidatePolicies(const std::vector<PolicyConfig>& policies);

// The Sampler of one shard evaluating `policies` (see the top of this file). With no policies it
// keeps every trace. When `metrics` is not null, counts each top-level policy's votes in
// otelcol_processor_tail_sampling_count_traces_sampled{policy="<name>",sampled="true|false"}
// (true for kSampled and kInvertSampled).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Sampler>> MakePolicySampler(
    const std::vector<PolicyConfig>& policies, bool sample_on_first_match, uint32_t shard_index,
    uint32_t num_shards, MetricsRegistry* metrics);

// Validates `policies` once and returns the factory of per-shard samplers to give to
// Pipeline::Create (a KeepAllSampler factory when `policies` is empty). `metrics` may be null;
// otherwise it must outlive every sampler made.
[[nodiscard]] absl::StatusOr<SamplerFactory> MakePolicySamplerFactory(
    const std::vector<PolicyConfig>& policies, bool sample_on_first_match,
    MetricsRegistry* metrics);

// The probabilistic policy's hash: FNV-1a 64 over the salt's bytes followed by the trace ID's 16
// bytes (as OpenTelemetry's tail_sampling does). A trace is kept when the hash is at most
// (2^64 - 1) * sampling_percentage / 100.
[[nodiscard]] uint64_t TraceIdHash(std::string_view salt, const TraceId& trace_id);

// OpenTelemetry's default hash_salt, used when hash_salt is empty.
inline constexpr std::string_view kDefaultHashSalt = "default-hash-seed";

}  // namespace tailtrace::collector
