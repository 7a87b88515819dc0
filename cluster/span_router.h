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

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "cluster/membership.h"
#include "cluster/peer_channels.h"
#include "cluster/peer_forwarder.h"
#include "collector/span_sink.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace tailtrace::cluster {

struct SpanRouterOptions {
  // Applied to every peer's forwarder (its `peer` is set per peer).
  PeerForwarderOptions forward;
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
  // A request's spans by destination: indices into its spans, per member of `ring`.
  struct Split {
    std::shared_ptr<const Ring> ring;
    size_t self = 0;
    std::vector<std::vector<uint32_t>> by_member;
  };

  // Splits `request` over the live members; members in `excluded` (sorted) are skipped.
  Split SplitByOwner(const WireRequest& request, const std::vector<std::string>& excluded);
  // Takes the request as `split` says; answers `join` for each part.
  void Dispatch(WireRequest&& request, Split&& split, const std::vector<std::string>& excluded,
                const std::shared_ptr<Join>& join);
  // Hands a peer's share that could not reach `peer` to the next members.
  void Reroute(std::string bytes, std::vector<std::string> excluded,
               const std::shared_ptr<Join>& join);
  PeerForwarder* ForwarderFor(const std::string& peer);

  const SpanRouterOptions options_;
  Membership* const membership_;
  PeerChannels* const channels_;
  collector::SpanSink* const local_;
  Clock* const clock_;
  MetricsRegistry* const metrics_;
  Counter* local_spans_;
  Counter* rerouted_spans_;
  Counter* refused_spans_;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<PeerForwarder>, std::less<>> forwarders_
      ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tailtrace::cluster
