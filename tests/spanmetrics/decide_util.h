#pragma once

// Deciding traces in a real shard with a TraceObserver, for the service graph's tests.

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "collector/shard.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::spanmetrics::testing {

// Keeps or drops every trace; the graph must count both alike.
class FixedSampler final : public collector::Sampler {
 public:
  explicit FixedSampler(bool keep) : keep_(keep) {}
  collector::SamplingDecision Decide(const collector::TraceBuffer&, int64_t) override {
    return {keep_, "fixed", 1.0};
  }
  bool NeedsSpans() const override { return false; }

 private:
  bool keep_;
};

// Decides `request`'s traces in a shard with `observer`, keeping them or not.
inline void Decide(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    collector::TraceObserver* observer, bool keep) {
  collector::ShardOptions options;
  options.observer = observer;
  collector::ShardCore core(options, std::make_unique<FixedSampler>(keep));
  std::vector<collector::DecidedTrace> out;
  collector::testing::AddRequest(core, request, 0, &out);
  ASSERT_FALSE(core.DecideAll(100'000'000'000, &out));
}

}  // namespace tailtrace::spanmetrics::testing
