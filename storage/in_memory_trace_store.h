#pragma once

// A TraceStore in a map, for unit tests of code above the storage seam. Not for production: it
// holds everything in memory and forgets it at exit.

#include <map>
#include <mutex>
#include <set>

#include "absl/base/thread_annotations.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

class InMemoryTraceStore final : public TraceStore {
 public:
  absl::Status Write(std::span<const TraceWrite> traces) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override;
  absl::StatusOr<std::vector<std::string>> GetServices() override;
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind) override;
  absl::Status Flush() override { return absl::OkStatus(); }
  StoreStats Stats() const override;

  // Makes every following Write fail with `status` (OK restores normal behaviour).
  void FailWritesForTest(absl::Status status);

 private:
  mutable std::mutex mu_;
  std::map<TraceId, StoredTrace> traces_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<Operation>> operations_ ABSL_GUARDED_BY(mu_);
  StoreStats stats_ ABSL_GUARDED_BY(mu_);
  absl::Status write_failure_ ABSL_GUARDED_BY(mu_);
};

// The service.name resource attribute, or "unknown_service" (the SDKs' default) when absent.
std::string ServiceNameOf(const opentelemetry::proto::trace::v1::ResourceSpans& rs);

}  // namespace tailtrace::storage
