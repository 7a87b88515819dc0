#pragma once

// The single-threaded heart of a sampler shard: buffers the spans of the traces it owns, decides
// each trace when its time comes, and routes late spans by the remembered decision. No locks, no
// threads, no clock of its own: the caller passes the time, so tests drive it step by step.

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "collector/buffered_trace.h"
#include "collector/decision_cache.h"
#include "collector/intern_pool.h"
#include "collector/lsn_holds.h"
#include "collector/sampler.h"
#include "collector/trace_buffer.h"
#include "collector/trace_index.h"
#include "collector/trace_observer.h"
#include "common/metrics.h"
#include "google/protobuf/arena.h"
#include "proto/otlp_wire.h"

namespace tailtrace::collector {

struct ShardOptions {
  // Default: 10s
  int64_t decision_wait_ns = 10'000'000'000;
  // Default: 2s
  int64_t decision_wait_after_root_received_ns = 2'000'000'000;
  // Buffered bytes (heap held by buffered spans, see ShardCore) above which the oldest traces
  // are decided early.
  // Default: 512 MiB
  uint64_t max_buffer_bytes = 512ull << 20;
  // Buffered traces above which the oldest traces are decided early.
  // Default: 50000
  uint64_t max_traces = 50'000;
  // A trace whose buffered bytes (its own heap, see BufferedTrace::bytes) exceed this is decided
  // at once.
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
  // Sees every trace at its decision (trace_observer.h); may be null.
  TraceObserver* observer = nullptr;
};

// A decided trace (or a batch of late spans of a kept trace) ready to be written.
//
// The objects of a kept trace's `spans` live on `arena` (parsed there from the buffered bytes:
// one free per trace instead of one per field), so `spans` is valid only while its DecidedTrace
// lives: read or copy it, but do not move or swap it into a message that outlives the
// DecidedTrace. Moving DecidedTraces (e.g. in a std::vector) is safe. Late-span batches have
// no arena.
struct DecidedTrace {
  DecidedTrace() = default;
  DecidedTrace(DecidedTrace&& other) noexcept { Swap(other); }
  DecidedTrace& operator=(DecidedTrace&& other) noexcept {
    Swap(other);  // `other` takes the old contents, with their arena
    return *this;
  }
  void Swap(DecidedTrace& other) noexcept;

  TraceId trace_id;
  // Owns the memory of `spans` when set. Declared first: destroyed after `spans`.
  std::unique_ptr<google::protobuf::Arena> arena;
  opentelemetry::proto::trace::v1::TracesData spans;
  // Whether `spans` holds the spans. A trace kept by a Sampler that did not read its spans is
  // not parsed: only `spans_bytes` holds them.
  bool spans_parsed = true;
  // The wire bytes of the spans (a TracesData); empty for late-span batches.
  std::string spans_bytes;
  std::string policy;
  double sample_rate = 1.0;
  uint32_t span_count = 0;
  // The oldest write-ahead log record its spans came from (0: none): held until
  // ShardCore::Written.
  uint64_t lsn = 0;
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

// Buffers spans as serialized bytes (collector/buffered_trace.h): Add copies the wire encoding of
// each span from the scanned request and keeps a reference to its interned resource and scope; a
// trace's spans become protobuf objects only when it is decided, just before the Sampler sees them.
//
// Byte accounting: buffered_bytes() is the heap the buffer really holds (every trace's span
// blocks and bookkeeping, plus each interned resource and scope once), so max_buffer_bytes bounds
// the memory of the buffered spans. Not counted: scratch state of bounded size that the shard
// reuses between calls (per-span routing tables sized for the largest group seen, up to 1 MiB
// of free span blocks and a parse buffer of up to 1 MiB). A decided trace is parsed onto
// an arena of its own, which a kept trace's DecidedTrace takes along.
class ShardCore {
 public:
  ShardCore(const ShardOptions& options, std::unique_ptr<Sampler> sampler);
  ~ShardCore();

  // Takes the spans of `request` at indices `spans` (ascending; all of traces this shard owns)
  // at time `now_ns`. Spans of traces decided earlier follow that decision: kept ones are
  // appended to `out` at once, dropped ones are counted and discarded. A trace that grows past
  // maximum_trace_size_bytes is decided at once. The bytes of undecided traces' spans are
  // copied: `request` may be freed when Add returns.
  //
  // `lsn` names the write-ahead log record the spans came from (0: none). The shard holds the
  // record (see oldest_held_lsn) while any of its spans is buffered or decided kept and not yet
  // Written.
  void Add(const WireRequest& request, std::span<const uint32_t> spans, int64_t now_ns,
           std::vector<DecidedTrace>* out, uint64_t lsn = 0);

  // The trace was kept before (its spans are in the store, e.g. before a restart): its spans
  // that arrive from now on are late spans of a kept trace. No effect on a buffered trace or one
  // already decided.
  void AssumeKept(const TraceId& id, const std::string& policy, double sample_rate);

  // `trace` (appended to `out` by this core) is in the store: releases its hold on its record.
  void Written(const DecidedTrace& trace);

  // The oldest write-ahead log record held, or kNothingHeld when none is.
  uint64_t oldest_held_lsn() const { return holds_.oldest(); }

  // Decides every trace whose deadline is <= now_ns, then the oldest traces while the buffer is
  // over its byte or trace-count budget. Kept traces are appended to `out`. Stops early, once
  // the kept traces in `out` hold `max_out_spans` spans or more, so that the caller writes them
  // before more are decided (a decided trace costs at least its bytes again, several times them
  // when parsed): returns true when it stopped with due traces left.
  bool DecideDue(int64_t now_ns, std::vector<DecidedTrace>* out,
                 uint64_t max_out_spans = UINT64_MAX);

  // Decides every buffered trace (shutdown); stops early like DecideDue.
  bool DecideAll(int64_t now_ns, std::vector<DecidedTrace>* out,
                 uint64_t max_out_spans = UINT64_MAX);

  size_t buffered_traces() const { return traces_.size(); }
  // Heap bytes held by the buffered spans (see the class comment).
  uint64_t buffered_bytes() const { return trace_bytes_ + interned_.heap_bytes(); }
  // Distinct resources and scopes held for the buffered traces.
  size_t interned_count() const { return interned_.size(); }
  // Span blocks kept for reuse (BlockPool::kHeapBytes each; not in buffered_bytes()).
  size_t free_span_blocks() const { return blocks_.free_blocks(); }
  const ShardStats& stats() const { return stats_; }

 private:
  // Where the spans of one trace in the current ScopeSpans go.
  struct Route {
    enum class Kind : uint8_t { kDropped, kLateKept, kBuffered };
    Kind kind = Kind::kDropped;
    bool has_root = false;
    uint32_t spans = 0;
    // kLateKept: the group in out[late_index] receiving the spans.
    opentelemetry::proto::trace::v1::ScopeSpans* late_dest = nullptr;
    size_t late_index = 0;
    // kBuffered: the trace and the entry bytes of its spans here.
    BufferedTrace* trace = nullptr;
    uint64_t bytes = 0;
  };
  // Adds the spans at indices `spans` of `request`, all of group `group`.
  void AddGroup(const WireRequest& request, uint32_t group, std::span<const uint32_t> spans,
                int64_t now_ns, absl::flat_hash_map<TraceId, size_t>* late_index,
                std::vector<DecidedTrace>* out);
  Route NewRoute(const TraceId& id, const WireRequest& request, const WireGroup& group,
                 int64_t now_ns, absl::flat_hash_map<TraceId, size_t>* late_index,
                 std::vector<DecidedTrace>* out);
  // Removes the trace from the buffer and decides it.
  void DecideNow(const TraceId& id, int64_t now_ns, std::vector<DecidedTrace>* out);
  void Decide(BufferedTrace&& trace, int64_t now_ns, std::vector<DecidedTrace>* out);
  // The trace's buffered spans parsed onto a new arena (set in `arena`, which owns the result).
  opentelemetry::proto::trace::v1::TracesData* ParseBuffered(
      const BufferedTrace& trace, std::unique_ptr<google::protobuf::Arena>* arena);
  // Returns the trace's blocks and interned references; its spans are gone after this.
  void ReleaseBuffered(BufferedTrace* trace);

  ShardOptions options_;
  std::unique_ptr<Sampler> sampler_;
  // Declared before traces_: outlive the traces that refer to their entries and blocks.
  InternPool interned_;
  BlockPool blocks_;
  // node_hash_map: Route keeps pointers to buffered traces while others are inserted.
  absl::node_hash_map<TraceId, BufferedTrace> traces_;
  // (deadline, trace) of every buffered trace, earliest first.
  std::set<std::pair<int64_t, TraceId>> deadlines_;
  // (first arrival, trace) in arrival order; entries of decided traces are skipped lazily.
  std::deque<std::pair<int64_t, TraceId>> arrivals_;
  // Sum of BufferedTrace::bytes.
  uint64_t trace_bytes_ = 0;
  DecisionCache decisions_;
  ShardStats stats_;
  // The write-ahead log records of the buffered traces and of unwritten decided traces.
  LsnHolds holds_;

  // Scratch state reused between calls (owned by the shard's thread).
  TraceIndex trace_index_;
  std::vector<Route> routes_;
  // Per span of the current group: the index of its route.
  std::vector<uint32_t> span_routes_;
  std::vector<TraceId> oversized_;
  // Per resource of the current request: its interned entry once a buffered span needed it.
  std::vector<const InternPool::Entry*> group_resources_;
  // The record of the request being added (Add's `lsn`).
  uint64_t add_lsn_ = 0;
  std::string materialize_buffer_;
  // What the Sampler sees of the trace being decided (its spans are lent from the trace's arena).
  TraceBuffer decide_view_;
};

}  // namespace tailtrace::collector
