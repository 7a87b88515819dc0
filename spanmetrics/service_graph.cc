#include "spanmetrics/service_graph.h"

#include <string_view>

#include "proto/otlp_wire_fields.h"
#include "spdlog/spdlog.h"

namespace tailtrace::spanmetrics {
namespace {

// What a span contributes as a parent: its service is a view into its resource's interned bytes
// (stable during Decided).
using Parent = storage::CallParent<std::string_view>;

struct Child {
  uint64_t parent_id = 0;
  std::string_view service;
  int64_t start_ns = 0;
  bool fails_call = false;  // CallFailure::as_child
};

}  // namespace

void ComputeServiceCalls(const collector::DecidedSpans& spans, std::vector<ServiceCall>* calls) {
  calls->clear();
  // Scratch reused by the calls of a thread; a huge trace's is not kept.
  thread_local absl::flat_hash_map<uint64_t, Parent> parents;  // by span ID
  thread_local std::vector<Child> children;
  parents.clear();
  children.clear();
  // The spans of one group share their resource: its service is read once per group.
  const char* resource_read = nullptr;
  std::string_view service;
  spans.ForEach([&](std::string_view resource, const collector::SpanFacts& span) {
    if (resource.data() != resource_read) {
      resource_read = resource.data();
      service = WireServiceName(resource);
    }
    const storage::CallFailure failure = storage::CallFailureOf(span.kind, span.status_code);
    auto [it, inserted] = parents.try_emplace(span.span_id, Parent{service, failure.as_parent});
    if (!inserted) it->second.Merge(service, failure);
    if (span.parent_span_id != 0) {
      children.push_back(Child{span.parent_span_id, service, storage::ClampSpanTime(span.start_ns),
                               failure.as_child});
    }
  });
  for (const Child& c : children) {
    auto it = parents.find(c.parent_id);
    if (it == parents.end() || it->second.service == c.service) continue;
    calls->push_back(ServiceCall{it->second.service, c.service, c.start_ns,
                                 storage::CallFailed(it->second.fails, c.fails_call)});
  }
  if (parents.capacity() > (1u << 16) || children.capacity() > (1u << 16)) {
    parents = {};
    children = {};
  }
}

ServiceGraph::ServiceGraph(uint64_t max_edges, MetricsRegistry* metrics)
    : max_edges_(max_edges),
      metrics_(metrics),
      dropped_calls_(metrics->GetCounter(
          "tailtrace_service_graph_dropped_calls_total",
          "Calls between services not on /metrics: their edge came after metrics.max_series "
          "edges (they still count in /api/dependencies).")) {}

ServiceGraph::Edge* ServiceGraph::FindEdge(const EdgeName& name) {
  auto it = edges_.find(name);
  if (it != edges_.end()) return &it->second;
  const auto& [parent, child] = name;
  if (edges_.size() >= max_edges_) {
    if (!warned_) {
      warned_ = true;
      spdlog::warn(
          "service graph: {} edges reached (metrics.max_series); calls of new edges are "
          "left off /metrics from now on (the first: {} -> {})",
          max_edges_, parent, child);
    }
    return nullptr;
  }
  const Labels labels = {{"client", std::string(parent)}, {"server", std::string(child)}};
  Edge edge;
  edge.index = static_cast<uint32_t>(edge_names_.size());
  edge_names_.emplace_back(parent, child);
  edge.requests = metrics_->GetCounter(
      kServiceGraphRequests, "Calls between services (every trace, before sampling).", labels);
  edge.failed = metrics_->GetCounter(kServiceGraphFailed,
                                     "Failed calls between services (every trace, before "
                                     "sampling).",
                                     labels);
  return &edges_.emplace(edge_names_.back(), edge).first->second;
}

void ServiceGraph::Decided(const collector::DecidedSpans& spans) {
  // Reused by the calls of a thread: a trace's calls cost no allocation once it has grown.
  thread_local std::vector<ServiceCall> calls;
  ComputeServiceCalls(spans, &calls);
  if (calls.empty()) return;
  std::lock_guard lock(mu_);
  for (const ServiceCall& call : calls) {
    const int64_t slot = call.child_start_ns - call.child_start_ns % storage::kDependencySlotNs;
    Edge* edge = FindEdge({call.parent, call.child});
    if (edge == nullptr) {
      // Off /metrics, but still a call for the store.
      dropped_calls_->Increment();
      unlisted_[{slot, std::string(call.parent), std::string(call.child)}] +=
          storage::OneCall(call.failed);
      continue;
    }
    edge->requests->Increment();
    if (call.failed) edge->failed->Increment();
    pending_[{slot, edge->index}] += storage::OneCall(call.failed);
  }
  if (calls.capacity() > (1u << 16)) calls = {};  // a huge trace's is not kept
}

std::vector<storage::DependencyCalls> ServiceGraph::TakeCalls() {
  std::map<std::tuple<int64_t, std::string, std::string>, storage::CallCounts> taken;
  std::lock_guard lock(mu_);
  taken.swap(unlisted_);
  for (const auto& [key, calls] : pending_) {
    const auto& [parent, child] = edge_names_[key.second];
    taken[{key.first, parent, child}] += calls;
  }
  pending_.clear();
  std::vector<storage::DependencyCalls> out;
  out.reserve(taken.size());
  for (auto& [key, calls] : taken) {
    auto& [slot, parent, child] = key;
    out.push_back(storage::DependencyCalls{slot, std::move(parent), std::move(child),
                                           static_cast<uint64_t>(calls.calls),
                                           static_cast<uint64_t>(calls.failed)});
  }
  return out;
}

}  // namespace tailtrace::spanmetrics
