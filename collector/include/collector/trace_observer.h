#pragma once

// A hook that sees every trace once, when its shard decides it (kept or dropped), with its spans
// still in the shard's buffer: what counts from 100% of the traffic, whole traces at a time (the
// service graph, spanmetrics/service_graph.h), hooks in here. Spans that arrive after their trace
// was decided (late spans) are not shown.

#include <string_view>

#include "absl/functional/function_ref.h"
#include "collector/buffered_trace.h"

namespace tailtrace::collector {

// The spans of a trace being decided, each as its resource's bytes (ResourceSpans without
// scope_spans) and its SpanFacts. Valid during TraceObserver::Decided only.
class DecidedSpans {
 public:
  explicit DecidedSpans(const SpanBuffer& buffer) : buffer_(&buffer) {}
  // Calls fn(resource, facts) for each span; `resource` is valid during the call only. False if
  // the buffer was malformed (not expected; the spans before the fault were visited).
  bool ForEach(absl::FunctionRef<void(std::string_view, const SpanFacts&)> fn) const {
    return ForEachSpanFacts(*buffer_, fn);
  }

 private:
  const SpanBuffer* buffer_;
};

class TraceObserver {
 public:
  virtual ~TraceObserver() = default;
  // Called on the deciding shard's thread: by several shards at once, so it must be thread-safe.
  virtual void Decided(const DecidedSpans& spans) = 0;
};

}  // namespace tailtrace::collector
