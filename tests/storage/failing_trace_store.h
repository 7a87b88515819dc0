#pragma once

// A TraceStore test double whose every call fails with one status (and whose search and
// dependencies answer TraceStore's default Unimplemented).

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/trace_store.h"

namespace tailtrace::storage::testing {

class FailingTraceStore final : public TraceStore {
 public:
  explicit FailingTraceStore(absl::Status status) : status_(std::move(status)) {}
  absl::Status Write(std::span<const TraceWrite>) override { return status_; }
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId&) override { return status_; }
  absl::StatusOr<std::vector<std::string>> GetServices() override { return status_; }
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string&, int) override {
    return status_;
  }
  absl::StatusOr<std::vector<std::string>> SuggestTags(const TagSuggestionQuery&) override {
    return status_;
  }
  absl::Status WriteDependencyCalls(std::span<const DependencyCalls>) override { return status_; }
  absl::Status WriteMetricPoints(std::span<const MetricPoint>) override { return status_; }
  absl::StatusOr<std::vector<MetricPoint>> ReadMetricPoints(const MetricPointQuery&) override {
    return status_;
  }
  absl::Status ArchiveTrace(const StoredTrace&) override { return status_; }
  absl::StatusOr<std::optional<StoredTrace>> GetArchivedTrace(const TraceId&) override {
    return status_;
  }
  absl::Status Flush() override { return status_; }
  StoreStats Stats() const override { return {}; }

 private:
  absl::Status status_;
};

}  // namespace tailtrace::storage::testing
