#pragma once

// The sampling seam. A sampler shard asks its Sampler, once per trace, whether to keep the whole
// trace. The tail-sampling policies (the OpenTelemetry tail_sampling syntax) implement Sampler;
// until policies are configured every trace is kept.

#include <functional>
#include <memory>
#include <string>

#include "collector/trace_buffer.h"

namespace tailtrace::collector {

struct SamplingDecision {
  bool keep = true;
  // The policy that decided ("" when no policy is configured).
  std::string policy;
  // 1 / probability with which traces like this one are kept (1 keeps all of them).
  double sample_rate = 1.0;
};

// Owned by one shard and called only from its thread: needs no locking.
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual SamplingDecision Decide(const TraceBuffer& trace, int64_t now_ns) = 0;
  // False when Decide never reads `trace.spans`: the shard then leaves them empty and parses the
  // buffered spans only of the traces kept.
  virtual bool NeedsSpans() const { return true; }
};

// Keeps every trace: the behaviour with no policies configured.
class KeepAllSampler final : public Sampler {
 public:
  SamplingDecision Decide(const TraceBuffer&, int64_t) override { return {}; }
  bool NeedsSpans() const override { return false; }
};

// Makes the Sampler of shard `shard_index` of `num_shards` (a rate-limiting sampler takes its
// share of the rate).
using SamplerFactory =
    std::function<std::unique_ptr<Sampler>(uint32_t shard_index, uint32_t num_shards)>;

}  // namespace tailtrace::collector
