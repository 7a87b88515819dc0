#include "cluster/span_router.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace tailtrace::cluster {

// The answer to one client request, given when every part of it has answered: the first
// failure, or OK. Each part holds one unit of `pending`.
struct SpanRouter::Join {
  explicit Join(collector::ConsumeDone d) : done(std::move(d)) {}

  void Add() { pending.fetch_add(1, std::memory_order_relaxed); }

  void Complete(const absl::Status& status) {
    if (!status.ok()) {
      std::lock_guard lock(mu);
      if (first_error.ok()) first_error = status;
    }
    if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    absl::Status result;
    {
      std::lock_guard lock(mu);
      result = first_error;
    }
    std::move(done)(std::move(result));
  }

  std::atomic<int> pending{1};
  std::mutex mu;
  absl::Status first_error;
  collector::ConsumeDone done;
};

SpanRouter::SpanRouter(SpanRouterOptions options, Membership* membership, PeerChannels* channels,
                       collector::SpanSink* local, Clock* clock, MetricsRegistry* metrics)
    : options_(std::move(options)),
      membership_(membership),
      channels_(channels),
      local_(local),
      clock_(clock),
      metrics_(metrics),
      recent_(std::max<int64_t>(options_.handover_ns, 1'000'000'000), clock) {
  local_spans_ = metrics->GetCounter(
      "tailtrace_cluster_local_spans_total",
      "Spans received from clients that this node kept as the owner of their trace.");
  rerouted_spans_ = metrics->GetCounter(
      "tailtrace_cluster_rerouted_spans_total",
      "Spans handed to the next member in hash order because their owner could not be reached.");
  refused_spans_ =
      metrics->GetCounter("tailtrace_cluster_refused_spans_total",
                          "Spans refused to clients because a member's forward queue was full.");
  handover_spans_ = metrics->GetCounter(
      "tailtrace_cluster_handover_received_spans_total",
      "Spans handed over by members after a membership change (this node owned their traces "
      "before it).");
  handover_kept_spans_ =
      metrics->GetCounter("tailtrace_cluster_handover_kept_spans_total",
                          "Handed-over spans kept here because their trace was taken here lately.");
  // Starting is joining: until handover_ns has passed, route as if this node were not a member
  // yet, so that traces its peers buffered stay whole (see the header).
  auto rings = std::make_shared<Rings>();
  rings->live = membership_->Live();
  rings->self = rings->live->IndexOf(membership_->self()).value_or(0);
  if (options_.handover_ns > 0 && rings->live->size() > 1) {
    std::vector<std::string> others = rings->live->members();
    std::erase(others, membership_->self());
    rings->previous = std::make_shared<const Ring>(std::move(others));
    rings->handover_until_ns = clock_->MonotonicNanos() + options_.handover_ns;
    for (const std::string& m : rings->previous->members()) {
      rings->previous_to_live.push_back(rings->live->IndexOf(m).value_or(kNoOwner));
    }
  }
  rings_ = std::move(rings);
}

SpanRouter::~SpanRouter() { Shutdown(clock_->MonotonicNanos()); }

absl::Status SpanRouter::Consume(WireRequest&& request) {
  std::promise<absl::Status> answered;
  std::future<absl::Status> answer = answered.get_future();
  ConsumeAsync(std::move(request), collector::ConsumeContext{},
               [&answered](absl::Status status) { answered.set_value(std::move(status)); });
  return answer.get();
}

void SpanRouter::ConsumeAsync(WireRequest&& request, const collector::ConsumeContext& context,
                              collector::ConsumeDone done) {
  if (stopped_.load(std::memory_order_acquire) || (context.from_peer && !context.handover)) {
    return TakeLocally(std::move(request), context, std::move(done));
  }
  if (context.handover) handover_spans_->Increment(request.spans.size());
  Split split = SplitRequest(request, context.handover, {});
  const size_t self = split.rings->self;
  if (split.owner[self].size() == request.spans.size()) {
    if (context.handover) {
      handover_kept_spans_->Increment(request.spans.size());
    } else {
      local_spans_->Increment(request.spans.size());
    }
    return TakeLocally(std::move(request), context, std::move(done));
  }
  if (context.handover) handover_kept_spans_->Increment(split.owner[self].size());
  split.from_client = !context.from_peer;
  Dispatch(std::move(request), std::move(split), {}, std::make_shared<Join>(std::move(done)));
}

void SpanRouter::TakeLocally(WireRequest&& request, const collector::ConsumeContext& context,
                             collector::ConsumeDone done) {
  Remember(request, nullptr);
  local_->ConsumeAsync(std::move(request), context, std::move(done));
}

void SpanRouter::Remember(const WireRequest& request, const std::vector<uint32_t>* spans) {
  const size_t n = spans != nullptr ? spans->size() : request.spans.size();
  const TraceId* last = nullptr;
  for (size_t k = 0; k < n; ++k) {
    const TraceId& id = request.spans[spans != nullptr ? (*spans)[k] : k].trace_id;
    if (last != nullptr && *last == id) continue;  // a trace's spans usually come together
    recent_.Insert(id);
    last = &id;
  }
}

std::shared_ptr<const SpanRouter::Rings> SpanRouter::CurrentRings() {
  // Membership records each change as it happens (not when this router next looks), so the
  // previous ring is the one in effect just before the change even when no span arrived in
  // between.
  LiveChange change = membership_->LastChange();
  std::lock_guard lock(rings_mu_);
  if (rings_->live == change.live) return rings_;
  auto next = std::make_shared<Rings>();
  next->live = std::move(change.live);
  next->self = next->live->IndexOf(membership_->self()).value_or(0);
  if (options_.handover_ns > 0 && change.previous != nullptr) {
    next->previous = std::move(change.previous);
    next->handover_until_ns = change.changed_ns + options_.handover_ns;
    for (const std::string& m : next->previous->members()) {
      next->previous_to_live.push_back(next->live->IndexOf(m).value_or(kNoOwner));
    }
  }
  rings_ = std::move(next);
  return rings_;
}

std::pair<size_t, SpanRouter::Kind> SpanRouter::Destination(const Rings& rings, const TraceId& id,
                                                            bool as_old_owner, bool handing_over) {
  const size_t owner = rings.live->OwnerOf(id);
  if (as_old_owner) {
    // A handover to this node: keep what it took lately, pass the rest to the new owner.
    return {owner == rings.self || recent_.Contains(id) ? rings.self : owner, Kind::kOwner};
  }
  if (handing_over) {
    const size_t old_owner = rings.previous_to_live[rings.previous->OwnerOf(id)];
    if (old_owner != kNoOwner && old_owner != owner) {
      if (old_owner != rings.self) return {old_owner, Kind::kHandover};
      return {recent_.Contains(id) ? rings.self : owner, Kind::kOwner};
    }
  }
  return {owner, Kind::kOwner};
}

SpanRouter::Split SpanRouter::SplitRequest(const WireRequest& request, bool as_old_owner,
                                           const std::vector<std::string>& excluded) {
  Split split;
  std::shared_ptr<const Rings> current = CurrentRings();
  const Ring& ring = *current->live;
  const size_t self = current->self;
  split.owner.resize(ring.size());
  split.handover.resize(ring.size());
  const bool handing_over =
      current->previous != nullptr && clock_->MonotonicNanos() < current->handover_until_ns;
  split.rings = std::move(current);
  if (!excluded.empty()) {
    // Failing over (rare): the first member in each trace's preference order that has not
    // failed this request; self ends every search, as it is never excluded.
    for (uint32_t i = 0; i < request.spans.size(); ++i) {
      size_t to = self;
      for (size_t m : ring.OwnersInOrder(request.spans[i].trace_id, ring.size())) {
        if (m == self || !std::binary_search(excluded.begin(), excluded.end(), ring.member(m))) {
          to = m;
          break;
        }
      }
      split.owner[to].push_back(i);
    }
    return split;
  }
  if (!handing_over && !as_old_owner) {
    thread_local std::vector<size_t> owners;
    AssignOwners(ring, request, &owners);
    for (uint32_t i = 0; i < owners.size(); ++i) split.owner[owners[i]].push_back(i);
    return split;
  }
  const Rings& rings = *split.rings;
  std::pair<size_t, Kind> to{kNoOwner, Kind::kOwner};
  const TraceId* last = nullptr;
  for (uint32_t i = 0; i < request.spans.size(); ++i) {
    const TraceId& id = request.spans[i].trace_id;
    if (last == nullptr || !(*last == id)) to = Destination(rings, id, as_old_owner, handing_over);
    last = &id;
    (to.second == Kind::kHandover ? split.handover : split.owner)[to.first].push_back(i);
  }
  return split;
}

void SpanRouter::Dispatch(WireRequest&& request, Split&& split,
                          const std::vector<std::string>& excluded,
                          const std::shared_ptr<Join>& join) {
  struct Part {
    PeerForwarder* forwarder;
    std::string bytes;
    uint64_t spans;
  };
  const Rings& rings = *split.rings;
  std::vector<Part> parts;
  for (Kind kind : {Kind::kOwner, Kind::kHandover}) {
    const auto& by_member = kind == Kind::kOwner ? split.owner : split.handover;
    for (size_t m = 0; m < by_member.size(); ++m) {
      const std::vector<uint32_t>& spans = by_member[m];
      if (m == rings.self || spans.empty()) continue;
      PeerForwarder* forwarder = ForwarderFor(rings.live->member(m), kind);
      std::string bytes = SelectSpans(request, spans).bytes;
      if (!forwarder->TryReserve(bytes.size())) {
        for (const Part& part : parts) part.forwarder->Unreserve(part.bytes.size());
        refused_spans_->Increment(request.spans.size());
        return join->Complete(absl::UnavailableError(
            absl::StrCat("the forward queue to cluster member ", forwarder->peer(), " is full")));
      }
      parts.push_back(Part{forwarder, std::move(bytes), spans.size()});
    }
  }
  const std::vector<uint32_t>& mine = split.owner[rings.self];
  if (!mine.empty()) {
    Remember(request, &mine);
    const size_t count = mine.size();
    WireRequest local =
        count == request.spans.size() ? std::move(request) : SelectSpans(request, mine);
    if (absl::Status taken = local_->Consume(std::move(local)); !taken.ok()) {
      for (const Part& part : parts) part.forwarder->Unreserve(part.bytes.size());
      return join->Complete(taken);
    }
    if (split.from_client && excluded.empty()) local_spans_->Increment(count);
  }
  for (Part& part : parts) {
    join->Add();
    std::vector<std::string> tried = excluded;
    tried.insert(std::upper_bound(tried.begin(), tried.end(), part.forwarder->peer()),
                 part.forwarder->peer());
    part.forwarder->Send(
        std::move(part.bytes), part.spans,
        [this, join, tried = std::move(tried)](PeerForwarder::Outcome outcome) mutable {
          if (!outcome.unreachable) return join->Complete(outcome.status);
          Reroute(std::move(outcome.bytes), std::move(tried), join);
        });
  }
  join->Complete(absl::OkStatus());  // this dispatch's own unit
}

void SpanRouter::Reroute(std::string bytes, std::vector<std::string> excluded,
                         const std::shared_ptr<Join>& join) {
  WireRequest request;
  if (absl::Status scanned = ScanExportRequest(std::move(bytes), &request); !scanned.ok()) {
    // Not expected: the bytes are a request this node assembled.
    spdlog::error("cluster: cannot re-read spans to fail them over: {}", scanned.ToString());
    return join->Complete(absl::InternalError("cluster: cannot re-read spans to fail them over"));
  }
  rerouted_spans_->Increment(request.spans.size());
  Split split = SplitRequest(request, false, excluded);
  Dispatch(std::move(request), std::move(split), excluded, join);
}

PeerForwarder* SpanRouter::ForwarderFor(const std::string& peer, Kind kind) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(peer, kind);
  auto it = forwarders_.find(key);
  if (it == forwarders_.end()) {
    PeerForwarderOptions options = options_.forward;
    options.peer = peer;
    options.handover = kind == Kind::kHandover;
    it =
        forwarders_
            .emplace(std::move(key), std::make_unique<PeerForwarder>(std::move(options), channels_,
                                                                     membership_, clock_, metrics_))
            .first;
  }
  return it->second.get();
}

void SpanRouter::Shutdown(int64_t deadline_ns) {
  std::vector<PeerForwarder*> forwarders;
  {
    std::lock_guard lock(mu_);
    stopped_.store(true, std::memory_order_release);
    for (auto& [peer, forwarder] : forwarders_) forwarders.push_back(forwarder.get());
  }
  for (PeerForwarder* forwarder : forwarders) forwarder->Shutdown(deadline_ns);
}

}  // namespace tailtrace::cluster
