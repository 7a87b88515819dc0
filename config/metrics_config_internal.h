#pragma once

// Private to config/: the `metrics` section (span metrics counted from every span).

#include <cstdint>

#include "spanmetrics/options.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads `metrics` (enabled, max_series, resolution, histogram.explicit.buckets) into *out, and
// metrics.retention into *history_retention_ns (the store keeps the history: StoreOptions).
void ParseMetrics(MapReader map, spanmetrics::SpanMetricsOptions* out,
                  int64_t* history_retention_ns);

}  // namespace tailtrace::config::internal
