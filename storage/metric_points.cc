#include "storage/metric_points.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tailtrace::storage {

void AddMetricPoint(MetricPoint& into, const MetricPoint& add) {
  into.calls += add.calls;
  if (into.bounds_ms == add.bounds_ms && into.counts.size() == add.counts.size()) {
    for (size_t i = 0; i < add.counts.size(); ++i) into.counts[i] += add.counts[i];
    into.sum_ms += add.sum_ms;
    return;
  }
  into.bounds_ms = add.bounds_ms;
  into.counts = add.counts;
  into.sum_ms = add.sum_ms;
}

absl::Status ValidateMetricPoint(const MetricPoint& point) {
  if (point.time_ns < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric point time must not be negative, got ", point.time_ns));
  }
  if (point.counts.size() != point.bounds_ms.size() + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric point of service \"", point.series.service, "\" has ",
                     point.counts.size(), " bucket counts for ", point.bounds_ms.size(),
                     " bounds; expected one more count than bounds"));
  }
  if (!std::is_sorted(point.bounds_ms.begin(), point.bounds_ms.end())) {
    return absl::InvalidArgumentError(absl::StrCat("metric point of service \"",
                                                   point.series.service,
                                                   "\" has histogram bounds not in order"));
  }
  return absl::OkStatus();
}

absl::Status ValidateMetricPointQuery(const MetricPointQuery& query) {
  if (query.services.empty()) {
    return absl::InvalidArgumentError("a metrics query needs at least one service");
  }
  if (query.start_ns > query.end_ns) {
    return absl::InvalidArgumentError(absl::StrCat("a metrics query's start (", query.start_ns,
                                                   " ns) is after its end (", query.end_ns,
                                                   " ns)"));
  }
  return absl::OkStatus();
}

}  // namespace tailtrace::storage
