#pragma once

// The receivers' scan of an OTLP request with the OpenTelemetry SDK's span limits applied:
// spans over a limit are truncated and counted (the span's dropped_*_count fields and /metrics),
// never refused.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/metrics.h"
#include "proto/otlp_wire.h"

namespace tailtrace::collector {

// Thread-safe (const methods only; the counters are atomic).
class SpanLimiter {
 public:
  // `metrics` must outlive the limiter; `transport` labels its counters ("grpc", "http").
  SpanLimiter(const SpanLimits& limits, MetricsRegistry* metrics, std::string_view transport);

  // ScanExportRequest(bytes, limits, out), then ApplySpanLimits on the spans found over them.
  // The same errors as ScanExportRequest.
  [[nodiscard]] absl::Status Scan(std::string bytes, WireRequest* out) const;

 private:
  const SpanLimits limits_;
  Counter* limited_spans_;
  Counter* dropped_attributes_;
  Counter* dropped_events_;
  Counter* dropped_links_;
  Counter* truncated_values_;
};

}  // namespace tailtrace::collector
