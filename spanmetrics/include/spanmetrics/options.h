#pragma once

// The options of span metrics (the `metrics:` config section). A plain header with no
// dependencies, so that config/config.h can hold it without pulling in the library.

#include <cstdint>
#include <vector>

namespace tailtrace::spanmetrics {

struct SpanMetricsOptions {
  // Span metrics are counted (and served). Off: nothing is counted.
  // Default: true
  bool enabled = true;
  // Series (service, span name, span kind, status code) at most; spans of further series count
  // in one overflow series labelled otel_metric_overflow="true".
  // Default: 10,000
  uint64_t max_series = 10'000;
  // The width of the time slots of the metrics history kept in the store (spanmetrics/history.h):
  // the finest step the history can answer.
  // Default: 60 s
  int64_t resolution_ns = 60'000'000'000;
  // The duration histogram's bucket upper bounds in milliseconds, ascending (the OpenTelemetry
  // spanmetrics connector's defaults).
  std::vector<double> buckets_ms = {2,   4,   6,    8,    10,   50,   100,   200,
                                    400, 800, 1000, 1400, 2000, 5000, 10000, 15000};
};

}  // namespace tailtrace::spanmetrics
