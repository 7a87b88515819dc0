#pragma once

// A TraceStore in a map, for unit tests of code above the storage seam. Not for production: it
// holds everything in memory, forgets it at exit and never expires anything.
//
// Its FindTraces, SuggestTags and GetDependencies evaluate the definitions of trace_store.h
// directly over every stored trace (a brute-force scan): they are the reference that
// RocksTraceStore's indexes are tested against.

#include <map>
#include <mutex>
#include <set>

#include "absl/base/thread_annotations.h"
#include "storage/index/trace_analysis.h"
#include "storage/options.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

class InMemoryTraceStore final : public TraceStore {
 public:
  // `index_options` decides which tags are searchable, as in RocksTraceStore.
  explicit InMemoryTraceStore(IndexOptions index_options = {})
      : index_options_(std::move(index_options)) {}

  absl::Status Write(std::span<const TraceWrite> traces) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override;
  absl::StatusOr<std::vector<std::string>> GetServices() override;
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind) override;
  absl::StatusOr<std::vector<TraceSummary>> FindTraces(const TraceQuery& query) override;
  // Reads every stored trace: the reference for RocksTraceStore's index scan (no work bound).
  absl::StatusOr<std::vector<std::string>> SuggestTags(const TagSuggestionQuery& query) override;
  absl::StatusOr<std::vector<DependencyLink>> GetDependencies(int64_t end_ns,
                                                              int64_t lookback_ns) override;
  // Adds to what GetDependencies computes from the stored traces (this store always counts those).
  absl::Status WriteDependencyCalls(std::span<const DependencyCalls> calls) override;
  // Never expires points (no retention).
  absl::Status WriteMetricPoints(std::span<const MetricPoint> points) override;
  absl::StatusOr<std::vector<MetricPoint>> ReadMetricPoints(const MetricPointQuery& query) override;
  // The archive is a second map; FailWritesForTest fails ArchiveTrace too.
  absl::Status ArchiveTrace(const StoredTrace& trace) override;
  absl::StatusOr<std::optional<StoredTrace>> GetArchivedTrace(const TraceId& id) override;
  absl::Status Flush() override { return absl::OkStatus(); }
  StoreStats Stats() const override;
  // The status set by FailWritesForTest (OK by default).
  absl::Status WriteHealth() const override;

  // Makes every following Write fail with `status` (OK restores normal behaviour); WriteHealth
  // reports it too.
  void FailWritesForTest(absl::Status status);

 private:
  const IndexOptions index_options_;
  mutable std::mutex mu_;
  std::map<TraceId, StoredTrace> traces_ ABSL_GUARDED_BY(mu_);
  std::map<TraceId, StoredTrace> archive_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<Operation>> operations_ ABSL_GUARDED_BY(mu_);
  DependencyCounts added_calls_ ABSL_GUARDED_BY(mu_);
  // By service, then (time, series) — one service's points are read in time order.
  std::map<std::string, std::map<std::pair<int64_t, MetricSeries>, MetricPoint>> metric_points_
      ABSL_GUARDED_BY(mu_);
  StoreStats stats_ ABSL_GUARDED_BY(mu_);
  absl::Status write_failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::storage
