#pragma once

// Rate, errors and duration (RED) of every span, counted where spans enter this node's pipeline,
// before any sampling decision: with a 1% policy the metrics still count 100% of the spans. In a
// cluster every span enters exactly one member's pipeline (its trace's owner), so each member
// counts its share and the cluster's sum counts every span once.
//
// The series are those of the OpenTelemetry Collector's spanmetrics connector, under the names
// and labels its Prometheus exporter gives them, so that existing dashboards work:
//   traces_span_metrics_calls_total{service_name, span_name, span_kind, status_code}
//   traces_span_metrics_duration_milliseconds_bucket/_sum/_count{..., le}
// with label values as the connector's (span_kind="SPAN_KIND_SERVER",
// status_code="STATUS_CODE_ERROR"). Errors are the calls with status_code="STATUS_CODE_ERROR".
// Beyond max_series, new series count in one series labelled otel_metric_overflow="true" (a
// warning is logged once).

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "collector/span_sink.h"
#include "common/metrics.h"
#include "proto/otlp_wire.h"
#include "spanmetrics/options.h"
#include "storage/metric_points.h"

namespace tailtrace::spanmetrics {

inline constexpr char kCallsMetric[] = "traces_span_metrics_calls_total";
inline constexpr char kDurationMetric[] = "traces_span_metrics_duration_milliseconds";

// An OTLP span kind / status code number, or unspecified / unset for one the enum does not define.
int KnownSpanKind(int kind);
int KnownStatusCode(int code);
// The connector's label values for an OTLP span kind / status code number.
std::string_view SpanKindLabel(int kind);
std::string_view StatusCodeLabel(int code);

class SpanMetrics {
 public:
  struct Series;
  // One request's spans by series: counted before the request is handed on, added once it was
  // accepted (a refused request comes again and must not count twice).
  struct Tally {
    struct Entry {
      Series* series = nullptr;
      std::vector<double> durations_ms;
    };
    std::vector<Entry> entries;
  };

  // `metrics` must outlive this.
  SpanMetrics(SpanMetricsOptions options, MetricsRegistry* metrics);
  ~SpanMetrics();
  SpanMetrics(const SpanMetrics&) = delete;
  SpanMetrics& operator=(const SpanMetrics&) = delete;

  // Thread-safe.
  Tally Count(const WireRequest& request);
  void Add(const Tally& tally);

  // Series in use, the overflow series not included.
  uint64_t series() const;

  // What one series has counted since the process started. `id` identifies the series for as
  // long as this SpanMetrics lives.
  struct SeriesTotals {
    const void* id = nullptr;
    storage::MetricSeries labels;
    Histogram::Snapshot duration;  // counts, sum and count of every call so far
  };
  // Every series but the overflow one (it has no service to be looked up by). Thread-safe;
  // counting goes on meanwhile.
  std::vector<SeriesTotals> Totals() const;

 private:
  Series* Find(std::string_view service, std::string_view name, int kind, int status);

  const SpanMetricsOptions options_;
  MetricsRegistry* const metrics_;
  // A reader lock finds a series; creating one takes the writer lock. (std::shared_mutex, not
  // absl::Mutex: ThreadSanitizer sees it.)
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Series> overflow_ ABSL_GUARDED_BY(mu_);
};

// A SpanSink in front of another that counts the spans of every request `next` accepts.
class SpanMetricsSink : public collector::SpanSink {
 public:
  // Neither owned; both must outlive this.
  SpanMetricsSink(SpanMetrics* metrics, collector::SpanSink* next)
      : metrics_(metrics), next_(next) {}

  absl::Status Consume(WireRequest&& request) override;
  void ConsumeAsync(WireRequest&& request, const collector::ConsumeContext& context,
                    collector::ConsumeDone done) override;

 private:
  SpanMetrics* const metrics_;
  collector::SpanSink* const next_;
};

}  // namespace tailtrace::spanmetrics
