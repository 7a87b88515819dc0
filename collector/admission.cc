#include "collector/admission.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tailtrace::collector {

absl::Status AdmissionSink::Consume(WireRequest&& request) {
  if (absl::Status health = store_->WriteHealth(); !health.ok()) {
    refused_store_.fetch_add(request.spans.size(), std::memory_order_relaxed);
    return absl::UnavailableError(std::string(health.message()));
  }
  if (limiter_ != nullptr) {
    if (absl::Status memory = limiter_->Check(); !memory.ok()) {
      refused_memory_.fetch_add(request.spans.size(), std::memory_order_relaxed);
      return memory;
    }
  }
  return next_->Consume(std::move(request));
}

}  // namespace tailtrace::collector
