#pragma once

// The admission gate between the receivers and the pipeline: refuses new data (Unavailable, which
// the receivers answer with gRPC UNAVAILABLE + RetryInfo / HTTP 503 + Retry-After) while the store
// cannot write or the process is above its memory limiter's soft limit, so that no client gets a
// success for data that cannot be kept.

#include <atomic>
#include <cstdint>

#include "collector/memory_limiter.h"
#include "collector/span_sink.h"
#include "common/metrics.h"
#include "storage/trace_store.h"

namespace tailtrace::collector {

// Thread-safe. Per request: the store's WriteHealth (an atomic load when healthy) and the memory
// limiter's cached state, then the wrapped sink.
class AdmissionSink final : public SpanSink {
 public:
  // None owned; each must outlive the gate. `limiter` may be null (no memory limit); `metrics`
  // may be null, else tailtrace_admission_refused_spans_total{cause="store"|"memory"} counts there.
  AdmissionSink(SpanSink* next, const storage::TraceStore* store, MemoryLimiter* limiter,
                MetricsRegistry* metrics = nullptr);

  // Unavailable naming the cause (store or memory) without calling the wrapped sink, or what the
  // wrapped sink answers.
  absl::Status Consume(WireRequest&& request) override;

  // Spans refused because the store could not write / because of the memory limit.
  uint64_t refused_spans_store() const { return refused_store_.load(std::memory_order_relaxed); }
  uint64_t refused_spans_memory() const { return refused_memory_.load(std::memory_order_relaxed); }

 private:
  SpanSink* const next_;
  const storage::TraceStore* const store_;
  MemoryLimiter* const limiter_;
  std::atomic<uint64_t> refused_store_{0};
  std::atomic<uint64_t> refused_memory_{0};
  Counter* refused_store_counter_ = nullptr;
  Counter* refused_memory_counter_ = nullptr;
};

}  // namespace tailtrace::collector
