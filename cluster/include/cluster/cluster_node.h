#pragma once

// Cluster mode, assembled: this node's membership (kept fresh by a thread of its own, with the
// peers probed every second so that a down peer comes back once it answers), the channels to
// its peers, the router that receivers hand spans to, the members' query service and the reader
// that fans the query API out to every live member. The daemon makes one when the `cluster:`
// section is present: its receivers feed sink(), its OTLP/gRPC receiver also serves
// query_service(), and its query API reads through reader(). Without the section nothing here
// runs and the node is a single node as before.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "cluster/cluster_reader.h"
#include "cluster/membership.h"
#include "cluster/options.h"
#include "cluster/peer_channels.h"
#include "cluster/peer_prober.h"
#include "cluster/query_server.h"
#include "cluster/resolver.h"
#include "cluster/span_router.h"
#include "collector/span_sink.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "query/trace_reader.h"
#include "storage/trace_store.h"

namespace tailtrace::cluster {

struct ClusterNodeOptions {
  ClusterOptions cluster;
  // The value of the authorization metadata peers must present ("Bearer <token>"), when this
  // node's OTLP/gRPC receiver requires a bearer token; "" when it does not. Every member uses
  // the same token file.
  std::string peer_authorization;
  SpanRouterOptions router;
  // The OTLP/gRPC receiver's auth.bearer_token_file: the query service checks peers' calls
  // against it ("" lets every caller in).
  std::string bearer_token_file;
  // query.max_trace_spans: the most spans the query service reads of one trace for a peer.
  uint64_t max_trace_spans = 100'000;
};

class ClusterNode {
 public:
  // Resolves the DNS membership once (a failure is logged, not fatal: the static peers and self
  // serve meanwhile) and starts the membership's refresher. `local` (this node's own sink),
  // `resolver` (null: the system resolver), `clock` and `metrics` must outlive the node.
  // `local_store` is what this node's queries read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterNode>> Start(
      const ClusterNodeOptions& options, collector::SpanSink* local,
      storage::TraceStore* local_store, PeerResolver* resolver, Clock* clock,
      MetricsRegistry* metrics);
  ~ClusterNode();

  // What the receivers hand spans to.
  collector::SpanSink* sink() { return router_.get(); }
  // The members' query service, to serve on the OTLP/gRPC port; it must stop (the receiver shut
  // down) before this node is destroyed.
  grpc::Service* query_service() { return query_server_->service(); }
  // What the query API reads: every live member's answer, merged.
  query::TraceReader* reader() { return reader_.get(); }
  Membership* membership() { return membership_.get(); }
  // The body of GET /api/cluster (cluster/status_json.h).
  std::string StatusJson() const;
  PeerChannels* channels() { return channels_.get(); }

  // Stops forwarding (waiting for forwards in flight until `deadline_ns`, monotonic), the
  // refresher and the prober. Call after the receivers stopped. Idempotent.
  void Shutdown(int64_t deadline_ns);

 private:
  ClusterNode() = default;
  void OnMembershipChange(const MembershipChange& change);
  // Probes the peers every second until Shutdown.
  void RunProber();

  MetricsRegistry* metrics_ = nullptr;
  std::unique_ptr<PeerResolver> own_resolver_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<PeerChannels> channels_;
  std::unique_ptr<SpanRouter> router_;
  std::unique_ptr<MembershipRefresher> refresher_;
  std::unique_ptr<QueryServer> query_server_;
  std::unique_ptr<ClusterReader> reader_;
  std::unique_ptr<PeerProber> prober_;
  std::mutex prober_mu_;
  std::condition_variable prober_wake_;
  bool stopping_ ABSL_GUARDED_BY(prober_mu_) = false;
  std::thread prober_thread_;
};

// "Bearer <first token of the file>" for peers to present; "" for an empty path. An error names
// the file when it cannot be read or holds no token.
[[nodiscard]] absl::StatusOr<std::string> PeerAuthorizationFromTokenFile(const std::string& path);

}  // namespace tailtrace::cluster
