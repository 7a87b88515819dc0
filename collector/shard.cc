#include "collector/shard.h"

#include <algorithm>

#include "collector/memory_estimate.h"

namespace tailtrace::collector {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::TracesData;

ShardCore::ShardCore(const ShardOptions& options, std::unique_ptr<Sampler> sampler)
    : options_(options),
      sampler_(std::move(sampler)),
      decisions_(options.sampled_cache_size, options.non_sampled_cache_size) {}

namespace {

// The ScopeSpans of `data` that receives spans of the current (resource, scope) group, creating
// the group (with copies of resource and scope) on first use.
ScopeSpans* GroupFor(TracesData* data, const ResourceSpans& rs, const ScopeSpans& ss,
                     uint64_t* bytes) {
  ResourceSpans* out_rs = data->add_resource_spans();
  *out_rs->mutable_resource() = rs.resource();
  out_rs->set_schema_url(rs.schema_url());
  ScopeSpans* out_ss = out_rs->add_scope_spans();
  *out_ss->mutable_scope() = ss.scope();
  out_ss->set_schema_url(ss.schema_url());
  // The group's own messages: a ResourceSpans and a ScopeSpans with their copies.
  *bytes += EstimateMemoryBytes(rs.resource()) + EstimateMemoryBytes(ss.scope()) +
            sizeof(ResourceSpans) + sizeof(ScopeSpans) + rs.schema_url().size() +
            ss.schema_url().size() + 64;
  return out_ss;
}

}  // namespace

void ShardCore::Add(ExportTraceServiceRequest&& request, int64_t now_ns,
                    std::vector<DecidedTrace>* out) {
  absl::flat_hash_map<TraceId, size_t> late_index;
  absl::flat_hash_map<TraceId, Route> routes;
  std::vector<TraceId> oversized;

  for (ResourceSpans& rs : *request.mutable_resource_spans()) {
    for (ScopeSpans& ss : *rs.mutable_scope_spans()) {
      routes.clear();
      for (auto& span : *ss.mutable_spans()) {
        const TraceId id = TraceId::FromBytes(span.trace_id());
        auto [route_it, new_route] = routes.try_emplace(id);
        Route& route = route_it->second;
        if (new_route) route = NewRoute(id, rs, ss, now_ns, &late_index, out);
        if (route.dest == nullptr) {
          ++stats_.late_spans_dropped;
          ++stats_.decision_cache_hits_dropped;
          continue;
        }
        if (route.buffer != nullptr) {
          TraceBuffer& trace = *route.buffer;
          const uint64_t span_bytes = EstimateMemoryBytes(span);
          trace.bytes += span_bytes;
          buffered_bytes_ += span_bytes;
          ++trace.span_count;
          trace.last_arrival_ns = now_ns;
          if (trace.bytes > options_.maximum_trace_size_bytes &&
              trace.bytes - span_bytes <= options_.maximum_trace_size_bytes) {
            oversized.push_back(id);
          }
          if (span.parent_span_id().empty() && trace.root_arrival_ns < 0) {
            trace.root_arrival_ns = now_ns;
            const int64_t root_deadline = now_ns + options_.decision_wait_after_root_received_ns;
            if (root_deadline < trace.deadline_ns) {
              deadlines_.erase({trace.deadline_ns, id});
              trace.deadline_ns = root_deadline;
              deadlines_.emplace(root_deadline, id);
            }
          }
        } else {
          ++stats_.late_spans_kept;
          ++stats_.decision_cache_hits_kept;
          ++(*out)[route.late_index].span_count;
        }
        *route.dest->add_spans() = std::move(span);
      }
    }
  }
  // Huge traces are decided now, on what they have; their later spans follow the decision.
  for (const TraceId& id : oversized) {
    if (!traces_.contains(id)) continue;
    ++stats_.early_decisions_trace_size;
    DecideNow(id, now_ns, out);
  }
}

ShardCore::Route ShardCore::NewRoute(const TraceId& id, const ResourceSpans& rs,
                                     const ScopeSpans& ss, int64_t now_ns,
                                     absl::flat_hash_map<TraceId, size_t>* late_index,
                                     std::vector<DecidedTrace>* out) {
  Route route;
  auto buffered = traces_.find(id);
  if (buffered == traces_.end()) {
    if (const DecisionCache::Kept* kept = decisions_.FindKept(id)) {
      auto [it, inserted] = late_index->try_emplace(id, out->size());
      if (inserted) {
        DecidedTrace& late = out->emplace_back();
        late.trace_id = id;
        late.policy = decisions_.policy_name(kept->policy_index);
        late.sample_rate = kept->sample_rate;
      }
      uint64_t ignored = 0;
      route.late_index = it->second;
      route.dest = GroupFor(&(*out)[it->second].spans, rs, ss, &ignored);
      return route;
    }
    if (decisions_.WasDropped(id)) return route;
  }
  if (buffered == traces_.end()) {
    buffered = traces_.try_emplace(id).first;
    TraceBuffer& fresh = buffered->second;
    fresh.trace_id = id;
    fresh.first_arrival_ns = now_ns;
    fresh.deadline_ns = now_ns + options_.decision_wait_ns;
    deadlines_.emplace(fresh.deadline_ns, id);
    arrivals_.emplace_back(now_ns, id);
  }
  TraceBuffer& trace = buffered->second;
  const uint64_t before = trace.bytes;
  route.dest = GroupFor(&trace.spans, rs, ss, &trace.bytes);
  buffered_bytes_ += trace.bytes - before;
  route.buffer = &trace;
  return route;
}

void ShardCore::DecideDue(int64_t now_ns, std::vector<DecidedTrace>* out) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ns) {
    DecideNow(deadlines_.begin()->second, now_ns, out);
  }
  // Over a bound: decide the oldest traces early, on what they have (never drop them undecided).
  while ((buffered_bytes_ > options_.max_buffer_bytes || traces_.size() > options_.max_traces) &&
         !arrivals_.empty()) {
    const auto [arrival, id] = arrivals_.front();
    arrivals_.pop_front();
    auto it = traces_.find(id);
    if (it == traces_.end() || it->second.first_arrival_ns != arrival) continue;
    if (buffered_bytes_ > options_.max_buffer_bytes) {
      ++stats_.early_decisions_memory;
    } else {
      ++stats_.early_decisions_trace_count;
    }
    DecideNow(id, now_ns, out);
  }
  // Keep the arrival queue from growing with entries of traces decided by deadline.
  while (!arrivals_.empty()) {
    auto it = traces_.find(arrivals_.front().second);
    if (it != traces_.end() && it->second.first_arrival_ns == arrivals_.front().first) break;
    arrivals_.pop_front();
  }
}

void ShardCore::DecideAll(int64_t now_ns, std::vector<DecidedTrace>* out) {
  while (!deadlines_.empty()) DecideNow(deadlines_.begin()->second, now_ns, out);
  arrivals_.clear();
}

void ShardCore::DecideNow(const TraceId& id, int64_t now_ns, std::vector<DecidedTrace>* out) {
  auto it = traces_.find(id);
  TraceBuffer trace = std::move(it->second);
  traces_.erase(it);
  deadlines_.erase({trace.deadline_ns, id});
  Decide(std::move(trace), now_ns, out);
}

void ShardCore::Decide(TraceBuffer&& trace, int64_t now_ns, std::vector<DecidedTrace>* out) {
  buffered_bytes_ -= std::min(buffered_bytes_, trace.bytes);
  if (options_.decision_latency != nullptr) {
    options_.decision_latency->Observe(static_cast<double>(now_ns - trace.first_arrival_ns) / 1e9);
  }
  SamplingDecision decision = sampler_->Decide(trace, now_ns);
  if (!decision.keep) {
    decisions_.RememberDropped(trace.trace_id);
    ++stats_.traces_dropped;
    stats_.spans_dropped += trace.span_count;
    return;
  }
  decisions_.RememberKept(trace.trace_id, decision.policy, decision.sample_rate);
  ++stats_.traces_kept;
  stats_.spans_kept += trace.span_count;
  DecidedTrace& kept = out->emplace_back();
  kept.trace_id = trace.trace_id;
  kept.spans = std::move(trace.spans);
  kept.policy = std::move(decision.policy);
  kept.sample_rate = decision.sample_rate;
  kept.span_count = trace.span_count;
}

}  // namespace tailtrace::collector
