#pragma once

#include <cstdint>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"

namespace tailtrace::collector {

// What a shard knows of an undecided trace besides its spans.
struct TraceFacts {
  TraceId trace_id;
  // Monotonic clock readings.
  int64_t first_arrival_ns = 0;
  int64_t last_arrival_ns = 0;
  // When a span without parent (the root) arrived; -1 if none yet.
  int64_t root_arrival_ns = -1;
  // When the trace is to be decided (min of the decision_wait rules).
  int64_t deadline_ns = 0;
  uint32_t span_count = 0;
  // Heap bytes the trace holds in the shard's buffer: about its spans' wire size, plus block and
  // bookkeeping overhead (see BufferedTrace; shared resources and scopes not included).
  uint64_t bytes = 0;
};

// What a Sampler sees of one trace when it is decided. A shard buffers an undecided trace as
// serialized bytes (collector/buffered_trace.h) and fills a TraceBuffer, spans included, only
// just before asking its Sampler: `spans` holds one ResourceSpans (with one ScopeSpans) per
// (request, resource, scope) the trace's spans arrived in, in arrival order; it is empty when
// the Sampler says it does not need spans (Sampler::NeedsSpans). The TraceBuffer
// and its spans are valid only during Sampler::Decide (the shard reuses them). Owned by the
// shard's thread.
struct TraceBuffer : TraceFacts {
  opentelemetry::proto::trace::v1::TracesData spans;
};

}  // namespace tailtrace::collector
