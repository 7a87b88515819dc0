#pragma once

// Cluster mode, assembled: this node's membership (kept fresh by a thread of its own), the
// channels to its peers and the router that receivers hand spans to. The daemon makes one when
// the `cluster:` section is present and feeds its receivers through sink(); without it nothing
// here runs and the node is a single node as before.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cluster/membership.h"
#include "cluster/options.h"
#include "cluster/peer_channels.h"
#include "cluster/resolver.h"
#include "cluster/span_router.h"
#include "collector/span_sink.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace tailtrace::cluster {

struct ClusterNodeOptions {
  ClusterOptions cluster;
  // The value of the authorization metadata peers must present ("Bearer <token>"), when this
  // node's OTLP/gRPC receiver requires a bearer token; "" when it does not. Every member uses
  // the same token file.
  std::string peer_authorization;
  SpanRouterOptions router;
};

class ClusterNode {
 public:
  // Resolves the DNS membership once (a failure is logged, not fatal: the static peers and self
  // serve meanwhile) and starts the membership's refresher. `local` (this node's own sink),
  // `resolver` (null: the system resolver), `clock` and `metrics` must outlive the node.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterNode>> Start(
      const ClusterNodeOptions& options, collector::SpanSink* local, PeerResolver* resolver,
      Clock* clock, MetricsRegistry* metrics);
  ~ClusterNode();

  // What the receivers hand spans to.
  collector::SpanSink* sink() { return router_.get(); }
  Membership* membership() { return membership_.get(); }
  PeerChannels* channels() { return channels_.get(); }

  // Stops forwarding (waiting for forwards in flight until `deadline_ns`, monotonic) and the
  // refresher. Call after the receivers stopped. Idempotent.
  void Shutdown(int64_t deadline_ns);

 private:
  ClusterNode() = default;
  void OnMembershipChange(const MembershipChange& change);

  std::unique_ptr<PeerResolver> own_resolver_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<PeerChannels> channels_;
  std::unique_ptr<SpanRouter> router_;
  std::unique_ptr<MembershipRefresher> refresher_;
};

// "Bearer <first token of the file>" for peers to present; "" for an empty path. An error names
// the file when it cannot be read or holds no token.
[[nodiscard]] absl::StatusOr<std::string> PeerAuthorizationFromTokenFile(const std::string& path);

}  // namespace tailtrace::cluster
