#include "spanmetrics/span_metrics.h"

#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_wire_fields.h"
#include "spdlog/spdlog.h"

namespace tailtrace::spanmetrics {

struct SpanMetrics::Series {
  Counter* calls = nullptr;
  Histogram* duration = nullptr;
  storage::MetricSeries labels;  // empty for the overflow series
};

namespace {

constexpr char kCallsHelp[] =
    "Spans received, by service, span name, span kind and status code (every span, before "
    "sampling).";
constexpr char kDurationHelp[] = "Span durations in milliseconds (every span, before sampling).";

double DurationMs(const WireSpan& span) {
  return span.end_ns > span.start_ns ? static_cast<double>(span.end_ns - span.start_ns) / 1e6 : 0.0;
}

}  // namespace

// A number the OTLP enum does not define counts as unspecified / unset.
int KnownSpanKind(int kind) {
  using opentelemetry::proto::trace::v1::Span;
  return Span::SpanKind_IsValid(kind) ? kind : Span::SPAN_KIND_UNSPECIFIED;
}

int KnownStatusCode(int code) {
  using opentelemetry::proto::trace::v1::Status;
  return Status::StatusCode_IsValid(code) ? code : Status::STATUS_CODE_UNSET;
}

// The OTLP enums' own names are the connector's label values ("SPAN_KIND_SERVER",
// "STATUS_CODE_ERROR").
std::string_view SpanKindLabel(int kind) {
  using opentelemetry::proto::trace::v1::Span;
  return Span::SpanKind_Name(static_cast<Span::SpanKind>(KnownSpanKind(kind)));
}

std::string_view StatusCodeLabel(int code) {
  using opentelemetry::proto::trace::v1::Status;
  return Status::StatusCode_Name(static_cast<Status::StatusCode>(KnownStatusCode(code)));
}

SpanMetrics::SpanMetrics(SpanMetricsOptions options, MetricsRegistry* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

SpanMetrics::~SpanMetrics() = default;

uint64_t SpanMetrics::series() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

std::vector<SpanMetrics::SeriesTotals> SpanMetrics::Totals() const {
  std::vector<SeriesTotals> out;
  std::shared_lock lock(mu_);
  out.reserve(series_.size());
  for (const auto& [key, series] : series_) {
    out.push_back(SeriesTotals{series.get(), series->labels, series->duration->Snap()});
  }
  return out;
}

SpanMetrics::Series* SpanMetrics::Find(std::string_view service, std::string_view name, int kind,
                                       int status) {
  const std::string_view kind_label = SpanKindLabel(kind);
  const std::string_view status_label = StatusCodeLabel(status);
  // Lengths first: names may hold any character.
  std::string key = std::to_string(service.size());
  key.append(":").append(service).append(name).append("|").append(kind_label);
  key.append("|").append(status_label);
  {
    std::shared_lock lock(mu_);
    if (auto it = series_.find(key); it != series_.end()) return it->second.get();
  }
  std::unique_lock lock(mu_);
  if (auto it = series_.find(key); it != series_.end()) return it->second.get();
  if (series_.size() >= options_.max_series) {
    if (overflow_ == nullptr) {
      spdlog::warn(
          "span metrics: {} series reached (metrics.max_series); spans of new series count in "
          "the series labelled otel_metric_overflow=\"true\" from now on (the first one left "
          "out: service \"{}\", span \"{}\")",
          options_.max_series, service, name);
      const Labels labels = {{"otel_metric_overflow", "true"}};
      overflow_ = std::make_unique<Series>();
      overflow_->calls = metrics_->GetCounter(kCallsMetric, kCallsHelp, labels);
      overflow_->duration =
          metrics_->GetHistogram(kDurationMetric, kDurationHelp, options_.buckets_ms, labels);
    }
    return overflow_.get();
  }
  const Labels labels = {{"service_name", std::string(service)},
                         {"span_name", std::string(name)},
                         {"span_kind", std::string(kind_label)},
                         {"status_code", std::string(status_label)}};
  auto series = std::make_unique<Series>();
  series->labels = {std::string(service), std::string(name), KnownSpanKind(kind),
                    KnownStatusCode(status)};
  series->calls = metrics_->GetCounter(kCallsMetric, kCallsHelp, labels);
  series->duration =
      metrics_->GetHistogram(kDurationMetric, kDurationHelp, options_.buckets_ms, labels);
  return series_.emplace(key, std::move(series)).first->second.get();
}

SpanMetrics::Tally SpanMetrics::Count(const WireRequest& request) {
  Tally tally;
  std::vector<std::string_view> services;
  services.reserve(request.resources.size());
  for (const std::string& resource : request.resources) {
    services.push_back(WireServiceName(resource));
  }
  // The request's series, each looked up in the shared map once.
  using Key = std::tuple<std::string_view, std::string_view, int, int>;
  absl::flat_hash_map<Key, size_t> entries;
  const std::string_view bytes = request.bytes;
  for (const WireSpan& span : request.spans) {
    const std::string_view service = services[request.groups[span.group].resource];
    const std::string_view name = span.Name(bytes);
    const auto [it, inserted] =
        entries.try_emplace(Key{service, name, span.kind, span.status_code}, tally.entries.size());
    if (inserted) {
      tally.entries.push_back(Tally::Entry{Find(service, name, span.kind, span.status_code), {}});
    }
    tally.entries[it->second].durations_ms.push_back(DurationMs(span));
  }
  return tally;
}

void SpanMetrics::Add(const Tally& tally) {
  for (const Tally::Entry& entry : tally.entries) {
    entry.series->calls->Increment(entry.durations_ms.size());
    for (double ms : entry.durations_ms) entry.series->duration->Observe(ms);
  }
}

absl::Status SpanMetricsSink::Consume(WireRequest&& request) {
  const SpanMetrics::Tally tally = metrics_->Count(request);
  absl::Status status = next_->Consume(std::move(request));
  if (status.ok()) metrics_->Add(tally);
  return status;
}

void SpanMetricsSink::ConsumeAsync(WireRequest&& request, const collector::ConsumeContext& context,
                                   collector::ConsumeDone done) {
  SpanMetrics::Tally tally = metrics_->Count(request);
  next_->ConsumeAsync(
      std::move(request), context,
      [this, tally = std::move(tally), done = std::move(done)](absl::Status status) mutable {
        if (status.ok()) metrics_->Add(tally);
        std::move(done)(std::move(status));
      });
}

}  // namespace tailtrace::spanmetrics
