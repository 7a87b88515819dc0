#pragma once

// A TraceStore decorator that also exports every trace it writes, so that the pipeline (which
// only knows TraceStore) forwards kept traces without a change: Write goes to the wrapped store
// first and, once that succeeded, hands each trace to the exporter's queue. A failed store write
// exports nothing (the pipeline retries the same traces later, and they are exported then), so
// a trace is queued for export exactly once per successful write. Everything else passes through.
//
// With `storage.enabled: false` the wrapped store is a NullTraceStore: writes only export.

#include "exporter/trace_exporter.h"
#include "storage/trace_store.h"

namespace tailtrace::exporter {

// Thread-safe as the wrapped store is. Neither pointer is owned; both must outlive this.
class ExportingTraceStore final : public storage::TraceStore {
 public:
  ExportingTraceStore(storage::TraceStore* store, TraceExporter* exporter)
      : store_(store), exporter_(exporter) {}

  absl::Status Write(std::span<const storage::TraceWrite> traces) override {
    absl::Status s = store_->Write(traces);
    if (!s.ok()) return s;
    // Enqueue never blocks: a full export queue drops (and counts), it does not slow the shard.
    for (const storage::TraceWrite& trace : traces) exporter_->Enqueue(trace);
    return s;
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId& id) override {
    return store_->GetTrace(id);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTraceUpTo(const TraceId& id,
                                                                   uint64_t max_spans) override {
    return store_->GetTraceUpTo(id, max_spans);
  }
  absl::StatusOr<std::vector<std::string>> GetServices() override { return store_->GetServices(); }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string& service,
                                                                int span_kind) override {
    return store_->GetOperations(service, span_kind);
  }
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(
      const storage::TraceQuery& query) override {
    return store_->FindTraces(query);
  }
  absl::StatusOr<std::vector<std::string>> SuggestTags(
      const storage::TagSuggestionQuery& query) override {
    return store_->SuggestTags(query);
  }
  absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(
      int64_t end_ns, int64_t lookback_ns) override {
    return store_->GetDependencies(end_ns, lookback_ns);
  }
  absl::Status WriteDependencyCalls(std::span<const storage::DependencyCalls> calls) override {
    return store_->WriteDependencyCalls(calls);
  }
  absl::Status WriteMetricPoints(std::span<const storage::MetricPoint> points) override {
    return store_->WriteMetricPoints(points);
  }
  absl::StatusOr<std::vector<storage::MetricPoint>> ReadMetricPoints(
      const storage::MetricPointQuery& query) override {
    return store_->ReadMetricPoints(query);
  }
  // Archiving keeps a copy of a trace already stored (and exported): nothing is exported.
  absl::Status ArchiveTrace(const storage::StoredTrace& trace) override {
    return store_->ArchiveTrace(trace);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetArchivedTrace(const TraceId& id) override {
    return store_->GetArchivedTrace(id);
  }
  absl::Status Flush() override { return store_->Flush(); }
  storage::StoreStats Stats() const override { return store_->Stats(); }
  absl::Status WriteHealth() const override { return store_->WriteHealth(); }

 private:
  storage::TraceStore* const store_;
  TraceExporter* const exporter_;
};

}  // namespace tailtrace::exporter
