#pragma once

// Incremental index terms of one trace, so that a late chunk of a trace costs the work of its own
// spans instead of a re-read and re-analysis of the whole trace (which would make a trace written
// in n chunks cost O(n^2), e.g. a huge trace decided early whose spans keep arriving).
//
// After any sequence of successful Add calls, summary(), Streams() and calls() are exactly what
// ComputeIndexTerms (trace_analysis.h) gives for all the spans added, encoded as index streams
// (keys.h). The one case it does not handle is a span ID that repeats (within the trace), whose
// dependency and root semantics depend on every duplicate: Add refuses it and the caller falls
// back to ComputeIndexTerms over all chunks. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "storage/options.h"
#include "storage/trace_analysis.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

class TraceTermsBuilder {
 public:
  // What one or more Add calls changed.
  struct Delta {
    std::set<std::string> streams;           // index streams the trace did not have (value "")
    std::set<DurationTerm> durations;        // fine duration terms whose durations changed
    std::map<DependencyKey, int64_t> calls;  // call count increments
  };

  TraceTermsBuilder(const TraceId& id, const IndexOptions& options);

  // Adds the spans of `chunk`, recording the changes in `*delta`. Returns false, changing
  // nothing, when a span ID of the chunk repeats one already added or another of the chunk.
  bool Add(const opentelemetry::proto::trace::v1::TracesData& chunk, Delta* delta);

  bool empty() const { return summary_.span_count == 0; }
  const TraceSummary& summary() const { return summary_; }
  // Every index stream of the trace (keys.h) -> its value (durations for duration streams).
  std::map<std::string, std::string> Streams() const;
  // The index value of a duration term (EncodeDurations of its distinct durations).
  std::string DurationValue(const DurationTerm& term) const;
  const std::map<DependencyKey, int64_t>& calls() const { return calls_; }
  // An estimate of the memory held, for cache budgets.
  size_t ApproximateBytes() const { return bytes_; }

 private:
  // (rank, start, span ID, service, name): the root is the smallest (see TraceSummary).
  using RootKey = std::tuple<int, int64_t, std::string, std::string, std::string>;
  struct Orphan {
    RootKey key;
    std::string service;
    int64_t start_ns = 0;
  };

  void AddStream(std::string stream, Delta* delta);
  void UpdateRoot();

  const IndexOptions& options_;
  TraceSummary summary_;
  std::map<std::string, ServiceSummary> services_;
  int64_t end_ns_ = 0;
  // span ID -> service.
  absl::flat_hash_map<std::string, std::string> span_services_;
  // Spans whose parent has not arrived, by parent span ID.
  absl::flat_hash_map<std::string, std::vector<Orphan>> orphans_by_parent_;
  std::set<RootKey> orphan_keys_;
  std::optional<RootKey> best_parentless_;
  std::optional<RootKey> best_child_;
  std::set<std::string> streams_;  // every stream but the fine duration ones (value "")
  std::map<DurationTerm, std::set<int64_t>> durations_;  // fine duration terms
  std::map<DependencyKey, int64_t> calls_;
  size_t bytes_ = 0;
};

}  // namespace tailtrace::storage
