#pragma once

// Private to cluster/: merging the members' answers of a fanned-out read into the answer one
// store holding everything would give (as far as each member's part allows). Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/trace_store.h"

namespace tailtrace::cluster::internal {

// The members' summaries, each list newest first, as one list newest first (trace start
// descending, then trace ID descending) cut to `limit`. A trace listed by several members (its
// spans were split between them by a membership change) becomes one summary: the earliest start,
// the latest end, counts and per-service counts summed, the root of the part that starts
// first (the root span is normally the earliest span), and the sampling decision of the first
// part in `parts` that has a policy (storage::MergeSamplingDecision; a trace by ID prefers its
// owner's instead, see MergeTraces).
std::vector<storage::TraceSummary> MergeSummaries(
    std::vector<std::vector<storage::TraceSummary>> parts, int limit);

// One trace from the members' parts, `parts` in preference order (the owner first): the first
// part found is the base (its sampling policy and rate are kept) and the spans of the others are
// added, except a span whose ID is already there under the same resource and scope (the same
// span stored twice: storage::SpanUnion). Truncated when a part was, or when more than `max_spans`
// spans (0: no bound) came together. nullopt when no member has the trace.
std::optional<storage::StoredTrace> MergeTraces(
    std::vector<std::optional<storage::StoredTrace>> parts, uint64_t max_spans);

// Sorted union.
std::vector<std::string> MergeServices(std::vector<std::vector<std::string>> parts);
// Sorted union, cut to `limit` (each part is sorted and cut to `limit` by its member, so the
// first `limit` of the union are among the parts).
std::vector<std::string> MergeTagSuggestions(std::vector<std::vector<std::string>> parts,
                                             int limit);
// Sorted (by name, then kind) union.
std::vector<storage::Operation> MergeOperations(std::vector<std::vector<storage::Operation>> parts);
// Call counts summed per (parent, child); sorted by parent then child.
std::vector<storage::DependencyLink> MergeDependencies(
    std::vector<std::vector<storage::DependencyLink>> parts);

// Points of the same series and slot added up (storage::AddMetricPoint); sorted by series then
// time.
std::vector<storage::MetricPoint> MergeMetricPoints(
    std::vector<std::vector<storage::MetricPoint>> parts);

}  // namespace tailtrace::cluster::internal
