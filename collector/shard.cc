#include "collector/shard.h"

#include <algorithm>

#include "memory_estimate.h"
#include "spdlog/spdlog.h"

namespace tailtrace::collector {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::TracesData;

namespace {

// What a buffered trace costs besides its buffer's blocks: its node in traces_ (with its table
// slot), its node in deadlines_ (a red-black tree node) and its entry in arrivals_.
constexpr uint64_t kTraceOverheadBytes =
    NodeBytes(sizeof(std::pair<const TraceId, BufferedTrace>), 0, 16) +
    NodeBytes(sizeof(std::pair<int64_t, TraceId>), 32, 0) + sizeof(std::pair<int64_t, TraceId>);

// The arena a decided trace is parsed onto starts with a block of about the size its objects
// will take (measured: about 5.6 arena bytes per buffered byte for the benchmark's spans), so
// that most traces need one malloc for their objects.
constexpr uint64_t kArenaBytesPerStreamByte = 6;
constexpr uint64_t kArenaMaxBlockBytes = 1 << 20;
// A larger parse buffer left by a huge dropped trace is freed rather than kept for reuse.
constexpr size_t kMaxScratchBytes = 1 << 20;

// The ScopeSpans of `data` that receives late spans of `group` of `request`, created with the
// group's resource and scope (parsed from their scanned bytes).
ScopeSpans* GroupFor(TracesData* data, const WireRequest& request, const WireGroup& group) {
  ResourceSpans* out_rs = data->add_resource_spans();
  // Scanned bytes parse (ScanExportRequest checked them); a failure would leave the group
  // without its resource, which the late spans survive.
  (void)out_rs->ParseFromString(request.resources[group.resource]);
  ScopeSpans* out_ss = out_rs->add_scope_spans();
  (void)out_ss->ParseFromString(group.scope);
  return out_ss;
}

}  // namespace

void DecidedTrace::Swap(DecidedTrace& other) noexcept {
  using std::swap;
  swap(trace_id, other.trace_id);
  swap(arena, other.arena);
  swap(spans_parsed, other.spans_parsed);
  swap(spans_bytes, other.spans_bytes);
  spans.Swap(&other.spans);  // heap messages: swaps pointers, each field keeps its arena
  swap(policy, other.policy);
  swap(sample_rate, other.sample_rate);
  swap(span_count, other.span_count);
  swap(lsn, other.lsn);
}

ShardCore::ShardCore(const ShardOptions& options, std::unique_ptr<Sampler> sampler)
    : options_(options),
      sampler_(std::move(sampler)),
      decisions_(options.sampled_cache_size, options.non_sampled_cache_size) {}

ShardCore::~ShardCore() = default;

void ShardCore::Add(const WireRequest& request, std::span<const uint32_t> spans, int64_t now_ns,
                    std::vector<DecidedTrace>* out, uint64_t lsn) {
  add_lsn_ = lsn;
  absl::flat_hash_map<TraceId, size_t> late_index;
  oversized_.clear();
  // Resources are interned on first use.
  group_resources_.assign(request.resources.size(), nullptr);
  // The spans come in request order, so a group's spans are one run.
  for (size_t begin = 0; begin < spans.size();) {
    const uint32_t group = request.spans[spans[begin]].group;
    size_t end = begin + 1;
    while (end < spans.size() && request.spans[spans[end]].group == group) ++end;
    AddGroup(request, group, spans.subspan(begin, end - begin), now_ns, &late_index, out);
    begin = end;
  }
  // Huge traces are decided now, on what they have; their later spans follow the decision.
  for (const TraceId& id : oversized_) {
    if (!traces_.contains(id)) continue;
    ++stats_.early_decisions_trace_size;
    DecideNow(id, now_ns, out);
  }
}

void ShardCore::AddGroup(const WireRequest& request, uint32_t group,
                         std::span<const uint32_t> spans, int64_t now_ns,
                         absl::flat_hash_map<TraceId, size_t>* late_index,
                         std::vector<DecidedTrace>* out) {
  const WireGroup& wire_group = request.groups[group];
  const size_t n = spans.size();
  trace_index_.Reset(n);
  routes_.clear();
  span_routes_.clear();
  span_routes_.reserve(n);

  // Pass 1: route every span, size the buffered ones.
  for (size_t k = 0; k < n; ++k) {
    const WireSpan& span = request.spans[spans[k]];
    const auto [number, fresh] = trace_index_.FindOrAdd(span.trace_id);
    if (fresh)
      routes_.push_back(NewRoute(span.trace_id, request, wire_group, now_ns, late_index, out));
    Route& route = routes_[number];
    span_routes_.push_back(number);
    ++route.spans;
    switch (route.kind) {
      case Route::Kind::kDropped:
        ++stats_.late_spans_dropped;
        ++stats_.decision_cache_hits_dropped;
        break;
      case Route::Kind::kLateKept:
        ++stats_.late_spans_kept;
        ++stats_.decision_cache_hits_kept;
        ++(*out)[route.late_index].span_count;
        // Scanned bytes parse; see GroupFor.
        (void)route.late_dest->add_spans()->ParseFromArray(request.bytes.data() + span.offset,
                                                           static_cast<int>(span.size));
        break;
      case Route::Kind::kBuffered:
        route.bytes += SpanEntryBytes(span.size);
        if (!span.has_parent) route.has_root = true;
        break;
    }
  }

  // One group per buffered trace: its header names the interned resource and scope.
  const InternPool::Entry*& resource = group_resources_[wire_group.resource];
  const InternPool::Entry* scope = nullptr;
  for (Route& route : routes_) {
    if (route.kind != Route::Kind::kBuffered) continue;
    if (resource == nullptr) {
      resource = interned_.Acquire(request.resources[wire_group.resource]);
    } else {
      interned_.Ref(resource);
    }
    if (scope == nullptr) {
      scope = interned_.Acquire(wire_group.scope);
    } else {
      interned_.Ref(scope);
    }
    BufferedTrace& trace = *route.trace;
    const GroupHeader header{resource, scope, route.bytes, route.spans};
    trace.buffer.groups.Append(&header, sizeof(header), &blocks_);
    trace.stream_bytes += sizeof(header) + route.bytes;
    trace.span_count += route.spans;
    trace.last_arrival_ns = now_ns;
    if (route.has_root && trace.root_arrival_ns < 0) {
      trace.root_arrival_ns = now_ns;
      const int64_t root_deadline = now_ns + options_.decision_wait_after_root_received_ns;
      if (root_deadline < trace.deadline_ns) {
        deadlines_.erase({trace.deadline_ns, trace.trace_id});
        trace.deadline_ns = root_deadline;
        deadlines_.emplace(root_deadline, trace.trace_id);
      }
    }
  }

  // Pass 2: copy the buffered spans' bytes into their traces' span ropes, and their facts after
  // their group's header (written above) in the traces' group ropes.
  for (size_t k = 0; k < n; ++k) {
    const Route& route = routes_[span_routes_[k]];
    if (route.kind != Route::Kind::kBuffered) continue;
    const WireSpan& span = request.spans[spans[k]];
    char header[kMaxSpanEntryHeaderBytes];
    const size_t header_size = WriteSpanEntryHeader(span.size, header);
    SpanBuffer& buffer = route.trace->buffer;
    buffer.spans.Append(header, header_size, &blocks_);
    buffer.spans.Append(request.bytes.data() + span.offset, span.size, &blocks_);
    const SpanFacts facts = SpanFacts::Of(span);
    buffer.groups.Append(&facts, sizeof(facts), &blocks_);
  }

  // Accounting, by the blocks the traces now hold.
  for (const Route& route : routes_) {
    if (route.kind != Route::Kind::kBuffered) continue;
    BufferedTrace& trace = *route.trace;
    const uint64_t before = trace.bytes;
    trace.bytes = kTraceOverheadBytes + trace.buffer.blocks() * BlockPool::kHeapBytes;
    trace_bytes_ += trace.bytes - before;
    if (trace.bytes > options_.maximum_trace_size_bytes &&
        before <= options_.maximum_trace_size_bytes) {
      oversized_.push_back(trace.trace_id);
    }
  }
}

ShardCore::Route ShardCore::NewRoute(const TraceId& id, const WireRequest& request,
                                     const WireGroup& group, int64_t now_ns,
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
        late.lsn = add_lsn_;
        holds_.Hold(add_lsn_);
      }
      route.kind = Route::Kind::kLateKept;
      route.late_index = it->second;
      route.late_dest = GroupFor(&(*out)[it->second].spans, request, group);
      return route;
    }
    if (decisions_.WasDropped(id)) return route;  // kDropped
    buffered = traces_.try_emplace(id).first;
    BufferedTrace& fresh = buffered->second;
    fresh.trace_id = id;
    fresh.first_arrival_ns = now_ns;
    fresh.deadline_ns = now_ns + options_.decision_wait_ns;
    fresh.bytes = kTraceOverheadBytes;
    trace_bytes_ += kTraceOverheadBytes;
    deadlines_.emplace(fresh.deadline_ns, id);
    arrivals_.emplace_back(now_ns, id);
  }
  // Requests may reach the shard out of LSN order: the trace holds the oldest of its records.
  BufferedTrace& trace = buffered->second;
  if (add_lsn_ != 0 && (trace.lsn == 0 || add_lsn_ < trace.lsn)) {
    holds_.Hold(add_lsn_);
    holds_.Release(trace.lsn);
    trace.lsn = add_lsn_;
  }
  route.kind = Route::Kind::kBuffered;
  route.trace = &buffered->second;
  return route;
}

namespace {

uint64_t SpansIn(const std::vector<DecidedTrace>& out) {
  uint64_t n = 0;
  for (const DecidedTrace& t : out) n += t.span_count;
  return n;
}

}  // namespace

bool ShardCore::DecideDue(int64_t now_ns, std::vector<DecidedTrace>* out, uint64_t max_out_spans) {
  uint64_t out_spans = SpansIn(*out);
  auto full = [&] { return out_spans >= max_out_spans; };
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ns) {
    if (full()) return true;
    const size_t before = out->size();
    DecideNow(deadlines_.begin()->second, now_ns, out);
    if (out->size() > before) out_spans += out->back().span_count;
  }
  // Over a bound: decide the oldest traces early, on what they have (never drop them undecided).
  while ((buffered_bytes() > options_.max_buffer_bytes || traces_.size() > options_.max_traces) &&
         !arrivals_.empty()) {
    if (full()) return true;
    const auto [arrival, id] = arrivals_.front();
    arrivals_.pop_front();
    auto it = traces_.find(id);
    if (it == traces_.end() || it->second.first_arrival_ns != arrival) continue;
    if (buffered_bytes() > options_.max_buffer_bytes) {
      ++stats_.early_decisions_memory;
    } else {
      ++stats_.early_decisions_trace_count;
    }
    const size_t before = out->size();
    DecideNow(id, now_ns, out);
    if (out->size() > before) out_spans += out->back().span_count;
  }
  // Keep the arrival queue from growing with entries of traces decided by deadline.
  while (!arrivals_.empty()) {
    auto it = traces_.find(arrivals_.front().second);
    if (it != traces_.end() && it->second.first_arrival_ns == arrivals_.front().first) break;
    arrivals_.pop_front();
  }
  return false;
}

bool ShardCore::DecideAll(int64_t now_ns, std::vector<DecidedTrace>* out, uint64_t max_out_spans) {
  uint64_t out_spans = SpansIn(*out);
  while (!deadlines_.empty()) {
    if (out_spans >= max_out_spans) return true;
    const size_t before = out->size();
    DecideNow(deadlines_.begin()->second, now_ns, out);
    if (out->size() > before) out_spans += out->back().span_count;
  }
  arrivals_.clear();
  return false;
}

void ShardCore::DecideNow(const TraceId& id, int64_t now_ns, std::vector<DecidedTrace>* out) {
  auto it = traces_.find(id);
  BufferedTrace trace = std::move(it->second);
  traces_.erase(it);
  deadlines_.erase({trace.deadline_ns, id});
  Decide(std::move(trace), now_ns, out);
}

void ShardCore::Decide(BufferedTrace&& trace, int64_t now_ns, std::vector<DecidedTrace>* out) {
  trace_bytes_ -= std::min(trace_bytes_, trace.bytes);
  if (options_.decision_latency != nullptr) {
    options_.decision_latency->Observe(static_cast<double>(now_ns - trace.first_arrival_ns) / 1e9);
  }
  // The Sampler's view. Unless the Sampler decides without them, its spans are parsed now; they
  // are lent from the arena that a kept trace's DecidedTrace takes along.
  TraceBuffer& view = decide_view_;
  static_cast<TraceFacts&>(view) = trace;
  std::unique_ptr<google::protobuf::Arena> arena;
  TracesData* parsed = nullptr;
  SamplingDecision decision;
  if (sampler_->NeedsSpans()) {
    parsed = ParseBuffered(trace, &arena);
    // A heap message, as TraceBuffer has it, borrowing the arena's repeated field: InternalSwap
    // swaps the fields whole, their arena pointer included, so nothing is copied or freed.
    // (UnsafeArenaSwap would do the same but requires both fields on one arena.)
    auto* lent = parsed->mutable_resource_spans();
    view.spans.mutable_resource_spans()->InternalSwap(lent);
    decision = sampler_->Decide(view, now_ns);
    view.spans.mutable_resource_spans()->InternalSwap(lent);
  } else {
    view.spans.Clear();
    decision = sampler_->Decide(view, now_ns);
  }

  if (options_.observer != nullptr) {
    options_.observer->Decided(DecidedSpans(trace.buffer));
  }
  if (!decision.keep) {
    if (materialize_buffer_.capacity() > kMaxScratchBytes) std::string().swap(materialize_buffer_);
    ReleaseBuffered(&trace);
    holds_.Release(trace.lsn);
    decisions_.RememberDropped(trace.trace_id);
    ++stats_.traces_dropped;
    stats_.spans_dropped += trace.span_count;
    return;  // frees the arena
  }
  // A kept trace's spans go on as bytes; objects only if the Sampler made them.
  const bool assembled = parsed != nullptr || AssembleSpans(trace.buffer, &materialize_buffer_);
  if (!assembled) parsed = ParseBuffered(trace, &arena);  // logs what did not assemble
  ReleaseBuffered(&trace);
  decisions_.RememberKept(trace.trace_id, decision.policy, decision.sample_rate);
  ++stats_.traces_kept;
  stats_.spans_kept += trace.span_count;
  DecidedTrace& kept = out->emplace_back();
  kept.trace_id = trace.trace_id;
  kept.spans_parsed = parsed != nullptr;
  if (parsed != nullptr) {
    kept.spans.mutable_resource_spans()->InternalSwap(parsed->mutable_resource_spans());
  }
  kept.arena = std::move(arena);
  kept.spans_bytes = std::move(materialize_buffer_);
  materialize_buffer_ = std::string();
  kept.policy = std::move(decision.policy);
  kept.sample_rate = decision.sample_rate;
  kept.span_count = trace.span_count;
  kept.lsn = trace.lsn;  // the hold passes to the decided trace
}

TracesData* ShardCore::ParseBuffered(const BufferedTrace& trace,
                                     std::unique_ptr<google::protobuf::Arena>* arena) {
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = static_cast<size_t>(std::clamp<uint64_t>(
      trace.stream_bytes * kArenaBytesPerStreamByte, 1024, kArenaMaxBlockBytes));
  arena_options.max_block_size = kArenaMaxBlockBytes;
  *arena = std::make_unique<google::protobuf::Arena>(arena_options);
  TracesData* parsed = google::protobuf::Arena::CreateMessage<TracesData>(arena->get());
  if (!MaterializeSpans(trace.buffer, &materialize_buffer_, parsed)) {
    materialize_buffer_.clear();  // not the bytes of what was parsed
    spdlog::error(
        "sampler: buffered spans of trace {} did not parse back; deciding on the {} "
        "groups that did",
        trace.trace_id.Hex(), parsed->resource_spans_size());
  }
  return parsed;
}

void ShardCore::AssumeKept(const TraceId& id, const std::string& policy, double sample_rate) {
  if (traces_.contains(id) || decisions_.FindKept(id) != nullptr) return;
  decisions_.RememberKept(id, policy, sample_rate);
}

void ShardCore::Written(const DecidedTrace& trace) { holds_.Release(trace.lsn); }

void ShardCore::ReleaseBuffered(BufferedTrace* trace) {
  ReleaseInterned(trace->buffer, &interned_);
  trace->buffer.Release(&blocks_);
}

}  // namespace tailtrace::collector
