#pragma once

#include <cstdint>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"

namespace tailtrace::collector {

// The spans of one undecided trace held by its shard, grouped by resource and scope as they
// arrived (one ResourceSpans per trace per request). Owned by the shard's thread.
struct TraceBuffer {
  TraceId trace_id;
  // Monotonic clock readings.
  int64_t first_arrival_ns = 0;
  int64_t last_arrival_ns = 0;
  // When a span without parent (the root) arrived; -1 if none yet.
  int64_t root_arrival_ns = -1;
  // When the trace is to be decided (min of the decision_wait rules).
  int64_t deadline_ns = 0;
  uint32_t span_count = 0;
  // Serialized size of the buffered spans (resource and scope included once per group).
  uint64_t bytes = 0;
  opentelemetry::proto::trace::v1::TracesData spans;
};

}  // namespace tailtrace::collector
