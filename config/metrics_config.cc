// The `metrics` section: span metrics' switch, series limit, histogram buckets (the OpenTelemetry
// spanmetrics connector's `histogram.explicit.buckets` syntax) and the history's resolution and
// retention (kept by the store).

#include "metrics_config_internal.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "policies_internal.h"
#include "units_internal.h"

namespace tailtrace::config::internal {
namespace {

constexpr int64_t kMaxSeries = 1'000'000;
constexpr size_t kMaxBuckets = 100;

// histogram.explicit.buckets: ascending durations, at least one.
void ParseBuckets(ParseContext& ctx, const Field& field, std::vector<double>* out) {
  std::optional<std::vector<Field>> elements = ReadList(ctx, field, "durations");
  if (!elements) return;
  if (elements->empty() || elements->size() > kMaxBuckets) {
    ReportValueError(
        ctx, field,
        absl::StrCat("needs 1 to ", kMaxBuckets, " bucket bounds, got ", elements->size()));
    return;
  }
  std::vector<double> buckets;
  for (const Field& element : *elements) {
    std::optional<int64_t> ns = ReadDuration(ctx, element, 1);
    if (!ns) return;
    const double ms = static_cast<double>(*ns) / 1e6;
    if (!buckets.empty() && ms <= buckets.back()) {
      ReportValueError(ctx, element, "bucket bounds must be in ascending order");
      return;
    }
    buckets.push_back(ms);
  }
  *out = std::move(buckets);
}

}  // namespace

void ParseMetrics(MapReader map, spanmetrics::SpanMetricsOptions* out,
                  int64_t* history_retention_ns) {
  map.Bool("enabled", &out->enabled);
  map.Int("max_series", 1, kMaxSeries, &out->max_series);
  map.Duration("resolution", kNanosPerSecond, &out->resolution_ns);
  map.Duration("retention", kNanosPerMinute, history_retention_ns);
  MapReader histogram = map.Map("histogram");
  MapReader explicit_buckets = histogram.Map("explicit");
  if (std::optional<Field> f = explicit_buckets.Take("buckets")) {
    ParseBuckets(map.context(), *f, &out->buckets_ms);
  }
  explicit_buckets.ReportUnknownKeys();
  histogram.ReportUnknownKeys();
  map.ReportUnknownKeys();
}

}  // namespace tailtrace::config::internal
