#pragma once

// The history of the span metrics (spanmetrics/span_metrics.h) as a store keeps it: one point per
// series and time slot, holding what the slot added to the series — calls, and the duration
// histogram's bucket counts and sum. Writing a point for a (series, slot) that is already stored
// adds to it (RocksDB: a merge operator), so points may be written in any number of parts, from any
// number of processes over time (a restart starts counting from zero and keeps adding).
//
// A slot's width is the writer's resolution (metrics.resolution); readers take each point's slot
// start as its time and never assume a width. A point written with other histogram bounds than
// the stored point of the same (series, slot) (the bucket config changed within one slot) adds its
// calls, and its histogram replaces the stored one.
//
// Retention: points whose slot started more than StoreOptions::metrics_retention_ns before the
// store clock's now are removed when retention runs.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tailtrace::storage {

struct MetricSeries {
  std::string service;    // service.name ("unknown_service" when missing)
  std::string operation;  // span name
  int span_kind = 0;      // OTLP SpanKind number
  int status_code = 0;    // OTLP StatusCode number
  friend bool operator==(const MetricSeries&, const MetricSeries&) = default;
  friend auto operator<=>(const MetricSeries&, const MetricSeries&) = default;
};

struct MetricPoint {
  MetricSeries series;
  // Start of the slot, Unix nanoseconds (not negative).
  int64_t time_ns = 0;
  uint64_t calls = 0;
  // Duration histogram: upper bounds in milliseconds, ascending; counts per bucket (not
  // cumulative), one more than bounds (the last: above every bound); the sum of the durations.
  std::vector<double> bounds_ms;
  std::vector<uint64_t> counts;
  double sum_ms = 0;
  friend bool operator==(const MetricPoint&, const MetricPoint&) = default;
};

// The points of `services` whose slot starts in [start_ns, end_ns].
struct MetricPointQuery {
  std::vector<std::string> services;  // at least one
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

// Adds `add` to `into` (the same series and slot): calls add up; the histograms add up when their
// bounds are equal, else `add`'s histogram replaces `into`'s. The one rule every store and the
// cluster merge apply.
void AddMetricPoint(MetricPoint& into, const MetricPoint& add);

// OK, or InvalidArgument naming what is wrong: a negative time, counts not one more than bounds,
// bounds not ascending.
[[nodiscard]] absl::Status ValidateMetricPoint(const MetricPoint& point);

// OK, or InvalidArgument: no service, or start_ns > end_ns.
[[nodiscard]] absl::Status ValidateMetricPointQuery(const MetricPointQuery& query);

}  // namespace tailtrace::storage
