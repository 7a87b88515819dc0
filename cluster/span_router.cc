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
      metrics_(metrics) {
  local_spans_ = metrics->GetCounter("tailtrace_cluster_local_spans_total",
                                     "Spans received from clients whose trace this node owns.");
  rerouted_spans_ = metrics->GetCounter(
      "tailtrace_cluster_rerouted_spans_total",
      "Spans handed to the next member in hash order because their owner could not be reached.");
  refused_spans_ =
      metrics->GetCounter("tailtrace_cluster_refused_spans_total",
                          "Spans refused to clients because a member's forward queue was full.");
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
  bool stopped = false;
  {
    std::lock_guard lock(mu_);
    stopped = stopped_;
  }
  if (context.from_peer || stopped) {
    return local_->ConsumeAsync(std::move(request), context, std::move(done));
  }
  Split split = SplitByOwner(request, {});
  if (split.by_member[split.self].size() == request.spans.size()) {
    local_spans_->Increment(request.spans.size());
    return local_->ConsumeAsync(std::move(request), context, std::move(done));
  }
  Dispatch(std::move(request), std::move(split), {}, std::make_shared<Join>(std::move(done)));
}

SpanRouter::Split SpanRouter::SplitByOwner(const WireRequest& request,
                                           const std::vector<std::string>& excluded) {
  Split split;
  split.ring = membership_->Live();
  const Ring& ring = *split.ring;
  split.self = ring.IndexOf(membership_->self()).value_or(0);  // self is always live
  split.by_member.resize(ring.size());
  if (excluded.empty()) {
    thread_local std::vector<size_t> owners;
    AssignOwners(ring, request, &owners);
    for (uint32_t i = 0; i < owners.size(); ++i) split.by_member[owners[i]].push_back(i);
    return split;
  }
  // Failing over (rare): the first member in each trace's preference order that has not failed
  // this request; self ends every order's search, as it is never excluded.
  for (uint32_t i = 0; i < request.spans.size(); ++i) {
    size_t to = split.self;
    for (size_t m : ring.OwnersInOrder(request.spans[i].trace_id, ring.size())) {
      if (m == split.self ||
          !std::binary_search(excluded.begin(), excluded.end(), ring.member(m))) {
        to = m;
        break;
      }
    }
    split.by_member[to].push_back(i);
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
  std::vector<Part> parts;
  for (size_t m = 0; m < split.by_member.size(); ++m) {
    const std::vector<uint32_t>& spans = split.by_member[m];
    if (m == split.self || spans.empty()) continue;
    PeerForwarder* forwarder = ForwarderFor(split.ring->member(m));
    std::string bytes = SelectSpans(request, spans).bytes;
    if (!forwarder->TryReserve(bytes.size())) {
      for (const Part& part : parts) part.forwarder->Unreserve(part.bytes.size());
      refused_spans_->Increment(request.spans.size());
      return join->Complete(absl::UnavailableError(
          absl::StrCat("the forward queue to cluster member ", forwarder->peer(), " is full")));
    }
    parts.push_back(Part{forwarder, std::move(bytes), spans.size()});
  }
  const std::vector<uint32_t>& mine = split.by_member[split.self];
  if (!mine.empty()) {
    const size_t count = mine.size();
    WireRequest local =
        count == request.spans.size() ? std::move(request) : SelectSpans(request, mine);
    if (absl::Status taken = local_->Consume(std::move(local)); !taken.ok()) {
      for (const Part& part : parts) part.forwarder->Unreserve(part.bytes.size());
      return join->Complete(taken);
    }
    local_spans_->Increment(count);
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
  Split split = SplitByOwner(request, excluded);
  Dispatch(std::move(request), std::move(split), excluded, join);
}

PeerForwarder* SpanRouter::ForwarderFor(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = forwarders_.find(peer);
  if (it == forwarders_.end()) {
    PeerForwarderOptions options = options_.forward;
    options.peer = peer;
    it = forwarders_
             .emplace(peer, std::make_unique<PeerForwarder>(std::move(options), channels_,
                                                            membership_, clock_, metrics_))
             .first;
  }
  return it->second.get();
}

void SpanRouter::Shutdown(int64_t deadline_ns) {
  std::vector<PeerForwarder*> forwarders;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [peer, forwarder] : forwarders_) forwarders.push_back(forwarder.get());
  }
  for (PeerForwarder* forwarder : forwarders) forwarder->Shutdown(deadline_ns);
}

}  // namespace tailtrace::cluster
