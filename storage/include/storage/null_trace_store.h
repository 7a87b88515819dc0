#pragma once

// The TraceStore of `storage.enabled: false`: it keeps nothing. Writes succeed at once (the
// ExportingTraceStore around it exports them), and reads answer as an empty store would: no
// trace, no service. The daemon does not serve the query API from it (it answers 503 instead),
// but the write-ahead log's replay asks it whether a trace is stored: never, so after a crash
// undecided traces are decided again and kept ones may be exported twice (at least once). It keeps
// no archive (ArchiveTrace and GetArchivedTrace answer TraceStore's default Unimplemented).

#include "storage/trace_store.h"

namespace tailtrace::storage {

// Thread-safe (stateless).
class NullTraceStore final : public TraceStore {
 public:
  absl::Status Write(std::span<const TraceWrite> traces) override { return absl::OkStatus(); }
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override {
    return std::nullopt;
  }
  absl::StatusOr<std::vector<std::string>> GetServices() override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind) override {
    return std::vector<Operation>{};
  }
  absl::StatusOr<std::vector<TraceSummary>> FindTraces(const TraceQuery& query) override {
    return std::vector<TraceSummary>{};
  }
  absl::StatusOr<std::vector<std::string>> SuggestTags(const TagSuggestionQuery& query) override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::vector<DependencyLink>> GetDependencies(int64_t end_ns,
                                                              int64_t lookback_ns) override {
    return std::vector<DependencyLink>{};
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  StoreStats Stats() const override { return StoreStats{}; }
};

}  // namespace tailtrace::storage
