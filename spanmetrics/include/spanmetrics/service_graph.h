#pragma once

// The service graph from every trace, before sampling: the calls between services, counted when
// a trace is decided (kept or dropped) from all of its spans (collector::TraceObserver). In a
// cluster every trace is decided on its owner, so each call counts once in the cluster.
//
// A call parent -> child is a span C whose parent span P (P's span ID = C's parent_span_id, in the
// same trace) has another service; when several spans share P's ID, the smallest service name
// among them is P's (the store's dependency semantics, storage/trace_store.h). Links are not
// calls. A call failed when C's status is ERROR, or P is a CLIENT or PRODUCER span with status
// ERROR (the call itself failed): the store's rule too (storage::CallFailed). Spans that arrive
// after their trace was decided add no calls.
//
// The calls go to:
// - /metrics, as Tempo's service graph generator names them:
//     traces_service_graph_request_total{client="frontend",server="checkout"}
//     traces_service_graph_request_failed_total{client=...,server=...}
//   at most max_series edges (metrics.max_series); calls of further edges are counted in
//   tailtrace_service_graph_dropped_calls_total (and a warning is logged once);
// - the store, as dependency calls and failed calls per minute slot of C's start (TakeCalls;
//   MetricsHistory writes them with the span metrics), which /api/dependencies answers from.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "collector/trace_observer.h"
#include "common/metrics.h"
#include "storage/index/trace_analysis.h"
#include "storage/trace_store.h"

namespace tailtrace::spanmetrics {

inline constexpr char kServiceGraphRequests[] = "traces_service_graph_request_total";
inline constexpr char kServiceGraphFailed[] = "traces_service_graph_request_failed_total";

// One call of a trace, as ComputeServiceCalls finds them. The names point into the decided spans'
// resources: valid while the spans are.
struct ServiceCall {
  std::string_view parent;
  std::string_view child;
  int64_t child_start_ns = 0;
  bool failed = false;
};

// The calls between the services of one trace's spans (see above), into `*calls` (cleared
// first), without a copy of a name.
void ComputeServiceCalls(const collector::DecidedSpans& spans, std::vector<ServiceCall>* calls);

class ServiceGraph final : public collector::TraceObserver {
 public:
  // `metrics` must outlive this. At most `max_edges` edges on /metrics.
  ServiceGraph(uint64_t max_edges, MetricsRegistry* metrics);

  // Thread-safe.
  void Decided(const collector::DecidedSpans& spans) override;

  // The calls (and failed calls) counted since the last TakeCalls, summed per (slot of the
  // child's start, parent, child); time_ns is the slot's start. Thread-safe.
  std::vector<storage::DependencyCalls> TakeCalls();

 private:
  struct Edge {
    uint32_t index = 0;  // into edge_names_
    Counter* requests = nullptr;
    Counter* failed = nullptr;
  };
  // (parent, child) names of an edge, to look one up without copying them.
  using EdgeName = std::pair<std::string_view, std::string_view>;
  struct EdgeNameHash {
    using is_transparent = void;
    size_t operator()(const EdgeName& name) const { return absl::HashOf(name); }
  };
  struct EdgeNameEq {
    using is_transparent = void;
    bool operator()(const EdgeName& a, const EdgeName& b) const { return a == b; }
  };

  // The edge `name`, created unless max_edges are reached: then null.
  Edge* FindEdge(const EdgeName& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint64_t max_edges_;
  MetricsRegistry* const metrics_;
  Counter* const dropped_calls_;
  std::mutex mu_;
  absl::flat_hash_map<std::pair<std::string, std::string>, Edge, EdgeNameHash, EdgeNameEq> edges_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> edge_names_ ABSL_GUARDED_BY(mu_);
  bool warned_ ABSL_GUARDED_BY(mu_) = false;
  // Calls not yet taken: per (slot, edge index), and of edges beyond max_edges by name.
  absl::flat_hash_map<std::pair<int64_t, uint32_t>, storage::CallCounts> pending_
      ABSL_GUARDED_BY(mu_);
  std::map<std::tuple<int64_t, std::string, std::string>, storage::CallCounts> unlisted_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::spanmetrics
