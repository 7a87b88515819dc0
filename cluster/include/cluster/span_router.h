#pragma once

// Cluster mode's receiving side: the SpanSink the receivers hand requests to. Each span goes to
// the live member that owns its trace (rendezvous hashing, cluster/ownership.h): this node's
// share to the local pipeline, every peer's share to that peer over OTLP/gRPC
// (cluster/peer_forwarder.h). The client is answered once every span is held by its owner
// (in the owner's write-ahead log when it has one): "a success means we have it" holds across
// the cluster.
//
// Per request:
// - Room is reserved in every peer's forward queue first; a full queue refuses the whole request
//   (Unavailable: the client retries), before anything was taken.
// - The local share goes to the local sink (admission gate + pipeline); its refusal refuses the
//   request, and the peers' reservations are given back.
// - Each peer's share is forwarded. A peer's refusal (it is full, shutting down) refuses the
//   request as backpressure; the spans that peer took stay taken (a retry may store them twice).
//   A peer that cannot be reached hands its share on to the next live member in each trace's
//   hash order, ending at this node, which never fails over further.
// - A request forwarded by a peer (ConsumeContext::from_peer) goes to the local sink as it is,
//   even when membership says another member owns some of its traces: it is never forwarded
//   twice, and two nodes that briefly disagree on the live set cannot bounce spans between them.
//   The one exception is a handover, below.
//
// Membership changes. When the live set changes (a member joins, leaves, goes down or comes
// back), the owner of about 1/N of the traces changes, and a trace buffered at its old owner
// would be split: its old spans decided there, its new ones at the new owner. So for
// `handover_ns` (the sampling decision_wait) after this node's membership changed (as recorded
// by Membership::LastChange, whether or not spans arrived in between), a span whose trace
// had another owner before the change (one still live) goes to that old owner as a handover
// (collector::kHandoverMetadata). The old owner keeps the spans of traces it took in the last
// handover_ns (cluster/recent_traces.h): those traces are decided where they started, on all of
// their spans. It passes the spans of other traces (new ones) on to their new owner, as a final
// forward. After handover_ns, spans go to the new owner directly: the old owner has decided the
// traces it held by then (they are older than decision_wait), and their late spans join them at
// the new owner as a late fragment, as late spans of a decided trace always do.
//
// A node that starts treats its start as its own joining: for handover_ns it routes as if it
// were not yet a member (an old owner keeps what it knows and passes the rest back). So a
// restart that its peers never noticed, and a new member that its peers see join a few seconds
// later (the DNS interval), both keep buffered traces whole. What is not covered: two nodes
// disagreeing on the live set for longer than handover_ns (e.g. a DNS answer seen 10 s later by
// one node with decision_wait 5 s), and traces buffered at a member that dies (its write-ahead
// log replays them when it returns; spans sent meanwhile went elsewhere).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "cluster/membership.h"
#include "cluster/peer_channels.h"
#include "cluster/peer_forwarder.h"
#include "cluster/recent_traces.h"
#include "collector/span_sink.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace tailtrace::cluster {

struct SpanRouterOptions {
  // Applied to every peer's forwarders (`peer` and `handover` are set per forwarder).
  PeerForwarderOptions forward;
  // How long after a membership change spans of a trace still go to its old owner first (see
  // above); the sampling decision_wait. 0: no handover.
  int64_t handover_ns = 0;
};

// Thread-safe.
class SpanRouter final : public collector::SpanSink {
 public:
  // None owned; all must outlive the router. `local` is this node's own sink.
  SpanRouter(SpanRouterOptions options, Membership* membership, PeerChannels* channels,
             collector::SpanSink* local, Clock* clock, MetricsRegistry* metrics);
  ~SpanRouter() override;

  // Blocks until ConsumeAsync answers (for callers that cannot wait asynchronously).
  absl::Status Consume(WireRequest&& request) override;
  void ConsumeAsync(WireRequest&& request, const collector::ConsumeContext& context,
                    collector::ConsumeDone done) override;

  // Stops forwarding: waits for the forwards in flight until `deadline_ns` (monotonic), then
  // cancels them. Requests arriving later go to the local sink. Idempotent.
  void Shutdown(int64_t deadline_ns);

 private:
  struct Join;
  // The live ring, and the one before the last change while its handover lasts.
  struct Rings {
    std::shared_ptr<const Ring> live;
    size_t self = 0;                       // index of this node in `live`
    std::shared_ptr<const Ring> previous;  // null: no handover
    int64_t handover_until_ns = 0;
    // previous member index -> live member index, or kNoOwner when it is not live.
    std::vector<size_t> previous_to_live;
  };
  // A request's spans by destination: indices into its spans, per member of `rings.live`;
  // `handover[m]` go to member m as a handover.
  struct Split {
    std::shared_ptr<const Rings> rings;
    std::vector<std::vector<uint32_t>> owner;
    std::vector<std::vector<uint32_t>> handover;
    // Count the local share in tailtrace_cluster_local_spans_total (a client's request).
    bool from_client = true;
  };
  enum class Kind { kOwner, kHandover };

  // The rings to route by now: refreshed when membership publishes a new live ring.
  std::shared_ptr<const Rings> CurrentRings();
  // Splits `request` by destination. `as_old_owner`: the request is a handover to this node.
  // Members in `excluded` (sorted; failing over) are skipped, and handovers are not made then.
  Split SplitRequest(const WireRequest& request, bool as_old_owner,
                     const std::vector<std::string>& excluded);
  // The destination of one span of trace `id` (owner or handover), by member index;
  // `handing_over`: rings.previous is set and its handover has not ended.
  std::pair<size_t, Kind> Destination(const Rings& rings, const TraceId& id, bool as_old_owner,
                                      bool handing_over);
  // Takes the request as `split` says; answers `join` for each part.
  void Dispatch(WireRequest&& request, Split&& split, const std::vector<std::string>& excluded,
                const std::shared_ptr<Join>& join);
  // Hands a peer's share that could not reach `peer` to the next members.
  void Reroute(std::string bytes, std::vector<std::string> excluded,
               const std::shared_ptr<Join>& join);
  // Takes a request whose spans are all this node's, remembering their traces.
  void TakeLocally(WireRequest&& request, const collector::ConsumeContext& context,
                   collector::ConsumeDone done);
  void Remember(const WireRequest& request, const std::vector<uint32_t>* spans);
  PeerForwarder* ForwarderFor(const std::string& peer, Kind kind);

  const SpanRouterOptions options_;
  Membership* const membership_;
  PeerChannels* const channels_;
  collector::SpanSink* const local_;
  Clock* const clock_;
  MetricsRegistry* const metrics_;
  RecentTraces recent_;
  Counter* local_spans_;
  Counter* rerouted_spans_;
  Counter* refused_spans_;
  Counter* handover_spans_;
  Counter* handover_kept_spans_;

  std::mutex rings_mu_;
  std::shared_ptr<const Rings> rings_ ABSL_GUARDED_BY(rings_mu_);

  std::mutex mu_;
  std::map<std::pair<std::string, Kind>, std::unique_ptr<PeerForwarder>> forwarders_
      ABSL_GUARDED_BY(mu_);
  // Set (under mu_) by Shutdown; read without it on every request.
  std::atomic<bool> stopped_{false};
};

}  // namespace tailtrace::cluster
