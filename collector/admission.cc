#include "collector/admission.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tailtrace::collector {

AdmissionSink::AdmissionSink(SpanSink* next, const storage::TraceStore* store,
                             MemoryLimiter* limiter, MetricsRegistry* metrics)
    : next_(next), store_(store), limiter_(limiter) {
  if (metrics == nullptr) return;
  const std::string help =
      "Spans refused (UNAVAILABLE / 503) before the pipeline, by cause: the store cannot write, "
      "or the process is above the memory limiter's soft limit.";
  refused_store_counter_ =
      metrics->GetCounter("tailtrace_admission_refused_spans_total", help, {{"cause", "store"}});
  refused_memory_counter_ =
      metrics->GetCounter("tailtrace_admission_refused_spans_total", help, {{"cause", "memory"}});
}

absl::Status AdmissionSink::Consume(WireRequest&& request) {
  if (absl::Status health = store_->WriteHealth(); !health.ok()) {
    refused_store_.fetch_add(request.spans.size(), std::memory_order_relaxed);
    if (refused_store_counter_ != nullptr) refused_store_counter_->Increment(request.spans.size());
    return absl::UnavailableError(std::string(health.message()));
  }
  if (limiter_ != nullptr) {
    if (absl::Status memory = limiter_->Check(); !memory.ok()) {
      refused_memory_.fetch_add(request.spans.size(), std::memory_order_relaxed);
      if (refused_memory_counter_ != nullptr) {
        refused_memory_counter_->Increment(request.spans.size());
      }
      return memory;
    }
  }
  return next_->Consume(std::move(request));
}

}  // namespace tailtrace::collector
