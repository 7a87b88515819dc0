#pragma once

#include "absl/status/status.h"
#include "proto/otlp_wire.h"

namespace tailtrace::collector {

// Where receivers hand validated spans. Implemented by the Pipeline (router + sampler shards).
class SpanSink {
 public:
  virtual ~SpanSink() = default;

  // Takes every span listed in `request` (scanned by ScanExportRequest, so each has valid IDs
  // and parses). OK means the pipeline holds all of them; Unavailable means it is full and took
  // none of them (the client should retry later); FailedPrecondition means it is shutting down.
  // Thread-safe; never blocks on a full pipeline.
  [[nodiscard]] virtual absl::Status Consume(WireRequest&& request) = 0;
};

}  // namespace tailtrace::collector
