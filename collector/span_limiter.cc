#include "span_limiter.h"

#include <utility>

namespace tailtrace::collector {

SpanLimiter::SpanLimiter(const SpanLimits& limits, MetricsRegistry* metrics,
                         std::string_view transport)
    : limits_(limits) {
  const Labels labels = {{"transport", std::string(transport)}};
  limited_spans_ =
      metrics->GetCounter("tailtrace_receiver_limited_spans_total",
                          "Spans truncated to the span limits (limits.*) on arrival.", labels);
  dropped_attributes_ = metrics->GetCounter(
      "tailtrace_receiver_dropped_attributes_total",
      "Span, event and link attributes dropped by limits.max_attributes_per_*.", labels);
  dropped_events_ =
      metrics->GetCounter("tailtrace_receiver_dropped_events_total",
                          "Span events dropped by limits.max_events_per_span.", labels);
  dropped_links_ = metrics->GetCounter("tailtrace_receiver_dropped_links_total",
                                       "Span links dropped by limits.max_links_per_span.", labels);
  truncated_values_ = metrics->GetCounter(
      "tailtrace_receiver_truncated_attribute_values_total",
      "String attribute values cut to limits.max_attribute_value_length.", labels);
}

absl::Status SpanLimiter::Scan(std::string bytes, WireRequest* out) const {
  if (absl::Status scanned = ScanExportRequest(std::move(bytes), limits_, out); !scanned.ok()) {
    return scanned;
  }
  if (out->spans_over_limits.empty()) return absl::OkStatus();
  const SpanLimitsApplied applied = ApplySpanLimits(limits_, out);
  limited_spans_->Increment(static_cast<uint64_t>(applied.spans));
  dropped_attributes_->Increment(static_cast<uint64_t>(applied.dropped_attributes));
  dropped_events_->Increment(static_cast<uint64_t>(applied.dropped_events));
  dropped_links_->Increment(static_cast<uint64_t>(applied.dropped_links));
  truncated_values_->Increment(static_cast<uint64_t>(applied.truncated_values));
  return absl::OkStatus();
}

}  // namespace tailtrace::collector
