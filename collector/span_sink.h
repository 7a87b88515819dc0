#pragma once

#include "absl/status/status.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tailtrace::collector {

// Where receivers hand validated spans. Implemented by the Pipeline (router + sampler shards).
class SpanSink {
 public:
  virtual ~SpanSink() = default;

  // Takes every span of `request` (already validated: trace IDs 16 non-zero bytes, span IDs 8).
  // OK means the pipeline holds all of them; Unavailable means it is full and took none of them
  // (the client should retry later); FailedPrecondition means it is shutting down.
  // Thread-safe; never blocks on a full pipeline.
  [[nodiscard]] virtual absl::Status Consume(
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest&& request) = 0;
};

}  // namespace tailtrace::collector
