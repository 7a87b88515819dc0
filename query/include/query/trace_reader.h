#pragma once

// What the query API reads: the read half of TraceStore (and ArchiveTrace, its one write), plus
// the parts of a read that failed while the rest still answered. A single node reads its TraceStore
// (StoreTraceReader, never partial); a cluster node reads every live member and merges
// (cluster/cluster_reader.h), and a member that did not answer becomes a partial error instead of
// failing the whole request.
//
// Each method records the parts that failed in `partial_errors` (may be null: then they are
// dropped, and nothing is skipped) and still returns what the others answered. A returned error
// Status means nothing could be answered (or the request itself is wrong: InvalidArgument), as with
// TraceStore.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/otlp_ids.h"
#include "storage/trace_store.h"

namespace tailtrace::query {

// The parts of one request's reads that failed (for a cluster: the members that did not answer),
// each with a message such as "member 10.0.0.2:4317: UNAVAILABLE: ...". Use one per request: a
// reader skips a part that already failed in the same request, so that a slow member costs a
// request (e.g. a search that then reads 20 traces) one timeout, not one per read.
// Not thread-safe.
class PartialErrors {
 public:
  // Records that `part` failed; a part's later failures are not recorded again.
  void Add(std::string_view part, std::string message) {
    if (Failed(part)) return;
    parts_.emplace_back(part);
    messages_.push_back(std::move(message));
  }
  bool Failed(std::string_view part) const {
    return std::find(parts_.begin(), parts_.end(), part) != parts_.end();
  }
  // One message per failed part, in the order they failed.
  const std::vector<std::string>& messages() const { return messages_; }
  bool empty() const { return messages_.empty(); }

 private:
  std::vector<std::string> parts_;
  std::vector<std::string> messages_;
};

// Thread-safe: every method may be called concurrently. Semantics and units as TraceStore's.
class TraceReader {
 public:
  virtual ~TraceReader() = default;

  // As TraceStore::GetTraceUpTo: read no further than about `max_spans` spans (0: no bound).
  [[nodiscard]] virtual absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(
      const TraceId& id, uint64_t max_spans, PartialErrors* partial_errors) = 0;

  // As TraceStore::FindTraces: newest first, at most query.limit summaries.
  [[nodiscard]] virtual absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(
      const storage::TraceQuery& query, PartialErrors* partial_errors) = 0;

  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> GetServices(
      PartialErrors* partial_errors) = 0;

  // `span_kind` < 0: every kind.
  [[nodiscard]] virtual absl::StatusOr<std::vector<storage::Operation>> GetOperations(
      const std::string& service, int span_kind, PartialErrors* partial_errors) = 0;

  // As TraceStore::SuggestTags; a cluster answers the sorted union of the members' names, cut to
  // query.limit.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> SuggestTags(
      const storage::TagSuggestionQuery& query, PartialErrors* partial_errors) = 0;

  [[nodiscard]] virtual absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(
      int64_t end_ns, int64_t lookback_ns, PartialErrors* partial_errors) = 0;

  // As TraceStore::ReadMetricPoints; a cluster sums the members' points of the same series and
  // slot.
  [[nodiscard]] virtual absl::StatusOr<std::vector<storage::MetricPoint>> ReadMetricPoints(
      const storage::MetricPointQuery& query, PartialErrors* partial_errors) = 0;

  // As TraceStore::GetArchivedTrace, with `truncated` set when the archived copy has more than
  // `max_spans` spans (0: no bound). A cluster merges the archived copies of every member.
  [[nodiscard]] virtual absl::StatusOr<std::optional<storage::StoredTrace>> GetArchivedTrace(
      const TraceId& id, uint64_t max_spans, PartialErrors* partial_errors) = 0;

  // The one write of the query API: as TraceStore::ArchiveTrace, into the archive of this node's
  // own store (in a cluster too: the caller reads the trace through GetTrace, i.e. from every
  // member, and the node that got the request keeps the copy).
  [[nodiscard]] virtual absl::Status ArchiveTrace(const storage::StoredTrace& trace) = 0;
};

// Reads one TraceStore (not owned; must outlive the reader) and never reports partial errors.
class StoreTraceReader final : public TraceReader {
 public:
  explicit StoreTraceReader(storage::TraceStore* store) : store_(store) {}

  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId& id,
                                                               uint64_t max_spans,
                                                               PartialErrors*) override {
    return store_->GetTraceUpTo(id, max_spans);
  }
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(const storage::TraceQuery& query,
                                                                PartialErrors*) override {
    return store_->FindTraces(query);
  }
  absl::StatusOr<std::vector<std::string>> GetServices(PartialErrors*) override {
    return store_->GetServices();
  }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string& service,
                                                                int span_kind,
                                                                PartialErrors*) override {
    return store_->GetOperations(service, span_kind);
  }
  absl::StatusOr<std::vector<std::string>> SuggestTags(const storage::TagSuggestionQuery& query,
                                                       PartialErrors*) override {
    return store_->SuggestTags(query);
  }
  absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(int64_t end_ns,
                                                                       int64_t lookback_ns,
                                                                       PartialErrors*) override {
    return store_->GetDependencies(end_ns, lookback_ns);
  }
  absl::StatusOr<std::vector<storage::MetricPoint>> ReadMetricPoints(
      const storage::MetricPointQuery& query, PartialErrors*) override {
    return store_->ReadMetricPoints(query);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetArchivedTrace(const TraceId& id,
                                                                       uint64_t max_spans,
                                                                       PartialErrors*) override {
    absl::StatusOr<std::optional<storage::StoredTrace>> trace = store_->GetArchivedTrace(id);
    if (trace.ok() && trace->has_value() && max_spans > 0 &&
        storage::SpanCountOf((*trace)->data) > max_spans) {
      (*trace)->truncated = true;
    }
    return trace;
  }
  absl::Status ArchiveTrace(const storage::StoredTrace& trace) override {
    return store_->ArchiveTrace(trace);
  }

 private:
  storage::TraceStore* const store_;
};

}  // namespace tailtrace::query
