#pragma once

// Jaeger's Service Performance Monitoring (SPM) API, what the Jaeger UI's Monitor tab reads,
// answered from the span metrics history (storage/metric_points.h). Pure functions,
// thread-safe. QueryService routes GET /api/metrics/{calls,errors,latencies,minstep} here.
//
// Parameters (milliseconds, as Jaeger's):
//   service           required, repeatable: the services to report (empty values are ignored)
//   groupByOperation  Go boolean (1 t T TRUE true True / 0 f F FALSE false False); default false
//   spanKind          repeatable: unspecified, internal, server, client, producer, consumer
//                     (any case); default server
//   endTs             end of the range, ms since the epoch; default now
//   lookback          ms before endTs; default 1 h
//   step              ms between points; default 5 s
//   ratePer           ms, the window each point is computed over; default 10 min
//   quantile          latencies only, required: in [0, 1]
// A bad value is InvalidArgument naming the parameter (HTTP 400). Refused: step, lookback or
// ratePer <= 0 or over 100 years; endTs < 0; lookback / step > 11000 (Prometheus's limit of
// points per series, which Jaeger's Prometheus reader runs into). An answer of more than
// kSpmMaxPoints points (series x times) is refused too (ComputeSpm; HTTP 422).
//
// Semantics (Jaeger computes these in PromQL over Prometheus; tailtrace over stored points):
// - Times: as a Prometheus range query with start = endTs - lookback: t = start + k * step for
//   k = 0, 1, ... while t <= endTs, oldest first. When step divides lookback, the last is endTs.
// - Window of t: the points whose slot starts in [t - ratePer, t). Only points of the chosen span
//   kinds count. A slot's calls all count at its start: rates move in steps of the slot width.
// - Series: one per service (per service and operation with groupByOperation) that has a point
//   of a chosen span kind whose slot starts in [start - ratePer, last t); sorted by service, then
//   operation. A service without such a point is not listed.
// - Before the series' first slot (no slot of it starts before t) every metric is NaN: the series
//   did not exist yet, where Prometheus would have no sample (the UI leaves NaN out of averages).
// - calls:     calls in the window / ratePer in seconds; 0 when there are none.
// - errors:    calls with status ERROR (2) in the window / all calls in the window, a fraction in
//              [0, 1]; NaN when the window has no call (Prometheus gives NaN for 0/0; the Jaeger UI
//              draws NaN as a gap and leaves it out of averages), 0 when there are calls but no
//              error.
// - latencies: HistogramQuantile(quantile) (spanmetrics/quantile.h, Prometheus'
//              histogram_quantile) of the window's bucket counts summed, in milliseconds; NaN when
//              the window has no observation. Only points whose histogram bounds equal those of
//              the series' most recent point are summed (the bucket config changed: older points
//              with other bounds are left out of latencies, not out of calls).
// Jaeger's Prometheus reader differs in ways that are artefacts of PromQL: rate() extrapolates and
// needs two samples, ratePer is cut to its first unit ("1m30s" becomes "1m"), and the quantile is
// rounded to 2 decimals. tailtrace counts exactly.
//
// Answer: Jaeger's MetricFamily protobuf as JSON (gogo jsonpb), without the data envelope:
//   {"name":"service_call_rate","type":"GAUGE","help":"calls/sec, grouped by service",
//    "metrics":[{"labels":[{"name":"service_name","value":"checkout"}
//                          (,{"name":"operation","value":"pay"} with groupByOperation)],
//                "metricPoints":[{"gaugeValue":{"doubleValue":0.5},
//                                 "timestamp":"2024-05-01T10:00:00Z"},...]},...]}
// service_name is the first label (the UI reads labels[0] as the service). NaN is the string
// "NaN", as jsonpb writes it (the UI then shows no value). Timestamps are RFC 3339 in UTC with
// 0, 3, 6 or 9 fraction digits. Unlike jsonpb, an empty "metrics" is written as [] rather than
// left out (the UI indexes it).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "storage/metric_points.h"

namespace tailtrace::query {

enum class SpmMetric { kCalls, kErrors, kLatencies };

inline constexpr int64_t kSpmDefaultLookbackMs = 3'600'000;
inline constexpr int64_t kSpmDefaultStepMs = 5'000;
inline constexpr int64_t kSpmDefaultRatePerMs = 600'000;
// Points per series at most (lookback / step), as Prometheus' query_range.
inline constexpr int64_t kSpmMaxSteps = 11'000;
// Points in one answer at most (series x times, about 60 bytes of JSON each): the Monitor tab's
// longest range (48 h a minute apart) fits for about 700 operations.
inline constexpr int64_t kSpmMaxPoints = 2'000'000;
// What /api/metrics/minstep answers, in ms: any step of 1 ms or more is answered, as Jaeger's
// Prometheus reader said (values still change only at slot boundaries).
inline constexpr int64_t kSpmMinStepMs = 1;

// The metric of an /api/metrics/ path's last segment ("calls", "errors", "latencies").
std::optional<SpmMetric> SpmMetricOfName(std::string_view name);

struct SpmQuery {
  SpmMetric metric = SpmMetric::kCalls;
  std::vector<std::string> services;  // deduplicated, in request order
  bool group_by_operation = false;
  std::vector<int> span_kinds;  // OTLP SpanKind numbers, deduplicated
  int64_t end_ns = 0;
  int64_t lookback_ns = 0;
  int64_t step_ns = 0;
  int64_t rate_per_ns = 0;
  double quantile = 0;  // latencies only
};

absl::StatusOr<SpmQuery> ParseSpmQuery(SpmMetric metric, const http::Request& request,
                                       int64_t now_ns);

// The evaluation times, oldest first (never empty).
std::vector<int64_t> SpmTimes(const SpmQuery& query);

// The points to read: every slot start that falls in some window.
storage::MetricPointQuery SpmReadRange(const SpmQuery& query);

struct SpmSeries {
  std::string service;
  std::string operation;       // "" without group_by_operation
  std::vector<double> values;  // one per time of SpmTimes
};

// The series of `query` from `points` (any order; points outside the read range or of other span
// kinds or services are ignored), sorted by service then operation. ResourceExhausted naming the
// parameters to change when there would be more than kSpmMaxPoints points.
absl::StatusOr<std::vector<SpmSeries>> ComputeSpm(const SpmQuery& query,
                                                  std::span<const storage::MetricPoint> points);

// "service_call_rate", ... ("service_operation_..." with group_by_operation).
std::string SpmFamilyName(const SpmQuery& query);
// "calls/sec, grouped by service", ... (" & operation" appended with group_by_operation).
std::string SpmFamilyHelp(const SpmQuery& query);

// The MetricFamily JSON of `series` (computed for `query`).
std::string RenderSpm(const SpmQuery& query, const std::vector<SpmSeries>& series);

// `unix_ns` as protobuf JSON writes a Timestamp: "2024-05-01T10:00:00.250Z".
std::string SpmTimestamp(int64_t unix_ns);

}  // namespace tailtrace::query
