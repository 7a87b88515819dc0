#pragma once

// Private to config/: the `metrics` section (span metrics counted from every span).

#include "config/yaml_reader_internal.h"
#include "spanmetrics/options.h"

namespace tailtrace::config::internal {

// Reads `metrics` (enabled, max_series, histogram.explicit.buckets) into *out.
void ParseMetrics(MapReader map, spanmetrics::SpanMetricsOptions* out);

}  // namespace tailtrace::config::internal
