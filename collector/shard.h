#pragma once

// The single-threaded heart of a sampler shard: buffers the spans of the traces it owns, decides
// each trace when its time comes, and routes late spans by the remembered decision. No locks, no
// threads, no clock of its own: the caller passes the time, so tests drive it step by step.

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "collector/decision_cache.h"
#include "collector/sampler.h"
#include "collector/trace_buffer.h"
#include "common/metrics.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tailtrace::collector {

struct ShardOptions {
  // Default: 10s
  int64_t decision_wait_ns = 10'000'000'000;
  // Default: 2s
  int64_t decision_wait_after_root_received_ns = 2'000'000'000;
  // Buffered bytes above which the oldest traces are decided early.
  // Default: 512 MiB
  uint64_t max_buffer_bytes = 512ull << 20;
  // Buffered traces above which the oldest traces are decided early.
  // Default: 50000
  uint64_t max_traces = 50'000;
  // A trace whose buffered bytes exceed this is decided at once.
  // Default: 32 MiB
  uint64_t maximum_trace_size_bytes = 32ull << 20;
  // Kept decisions remembered for late spans (exact trace IDs).
  // Default: 100000
  uint64_t sampled_cache_size = 100'000;
  // Dropped decisions remembered for late spans (4-byte fingerprints).
  // Default: 1000000
  uint64_t non_sampled_cache_size = 1'000'000;
  // Observes seconds from a trace's first span to its decision; may be null.
  Histogram* decision_latency = nullptr;
};

// A decided trace (or a batch of late spans of a kept trace) ready to be written.
struct DecidedTrace {
  TraceId trace_id;
  opentelemetry::proto::trace::v1::TracesData spans;
  std::string policy;
  double sample_rate = 1.0;
  uint32_t span_count = 0;
};

struct ShardStats {
  uint64_t traces_kept = 0;
  uint64_t traces_dropped = 0;
  uint64_t spans_kept = 0;
  uint64_t spans_dropped = 0;
  uint64_t late_spans_kept = 0;
  uint64_t late_spans_dropped = 0;
  // Traces decided before their time, by cause.
  uint64_t early_decisions_memory = 0;
  uint64_t early_decisions_trace_count = 0;
  uint64_t early_decisions_trace_size = 0;
  // Spans whose trace was found in the decision cache (late spans).
  uint64_t decision_cache_hits_kept = 0;
  uint64_t decision_cache_hits_dropped = 0;
};

class ShardCore {
 public:
  ShardCore(const ShardOptions& options, std::unique_ptr<Sampler> sampler);

  // Takes the spans of `request` (all of traces this shard owns) at time `now_ns`. Spans of
  // traces decided earlier follow that decision: kept ones are appended to `out` at once,
  // dropped ones are counted and discarded. A trace that grows past maximum_trace_size_bytes is
  // decided at once.
  void Add(opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest&& request,
           int64_t now_ns, std::vector<DecidedTrace>* out);

  // Decides every trace whose deadline is <= now_ns, then the oldest traces while the buffer is
  // over its byte or trace-count budget. Kept traces are appended to `out`.
  void DecideDue(int64_t now_ns, std::vector<DecidedTrace>* out);

  // Decides every buffered trace (shutdown).
  void DecideAll(int64_t now_ns, std::vector<DecidedTrace>* out);

  size_t buffered_traces() const { return traces_.size(); }
  uint64_t buffered_bytes() const { return buffered_bytes_; }
  const ShardStats& stats() const { return stats_; }

 private:
  struct Route {
    // Null when the trace was dropped earlier: its spans are discarded.
    opentelemetry::proto::trace::v1::ScopeSpans* dest = nullptr;
    // Set while the trace is buffered; otherwise the spans are late ones of a kept trace.
    TraceBuffer* buffer = nullptr;
    size_t late_index = 0;  // index in `out` of that trace's late-span batch
  };
  Route NewRoute(const TraceId& id, const opentelemetry::proto::trace::v1::ResourceSpans& rs,
                 const opentelemetry::proto::trace::v1::ScopeSpans& ss, int64_t now_ns,
                 absl::flat_hash_map<TraceId, size_t>* late_index, std::vector<DecidedTrace>* out);
  // Removes the trace from the buffer and decides it.
  void DecideNow(const TraceId& id, int64_t now_ns, std::vector<DecidedTrace>* out);
  void Decide(TraceBuffer&& trace, int64_t now_ns, std::vector<DecidedTrace>* out);

  ShardOptions options_;
  std::unique_ptr<Sampler> sampler_;
  // node_hash_map: Route keeps pointers to buffers while others are inserted.
  absl::node_hash_map<TraceId, TraceBuffer> traces_;
  // (deadline, trace) of every buffered trace, earliest first.
  std::set<std::pair<int64_t, TraceId>> deadlines_;
  // (first arrival, trace) in arrival order; entries of decided traces are skipped lazily.
  std::deque<std::pair<int64_t, TraceId>> arrivals_;
  uint64_t buffered_bytes_ = 0;
  DecisionCache decisions_;
  ShardStats stats_;
};

}  // namespace tailtrace::collector
