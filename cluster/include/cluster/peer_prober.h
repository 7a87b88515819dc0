#pragma once

// Health probes of the other members: ProbeOnce() pings (ClusterQuery.Ping, query_server.h) the
// peers in parallel and reports each outcome to Membership, so that a down peer is up again as
// soon as it answers a probe — without waiting for a request to happen to go its way — and a
// peer that stopped answering is found out even when no traffic reaches it.
//
// Driven from outside: call ProbeOnce() from the daemon's MembershipRefresher callback or a
// thread of its own, e.g. once per refresh period. It blocks at most about timeout_ns.
//
//   cluster::PeerProber prober(options, membership, channels);
//   cluster::ProbeReport report = prober.ProbeOnce();   // log report.up_again / report.failed

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/membership.h"
#include "cluster/peer_channels.h"

namespace tailtrace::cluster {

struct PeerProberOptions {
  // How long a probe waits for a peer's answer (also for a connection to a peer that is coming
  // back). Must be > 0.
  // Default: 1 s
  int64_t timeout_ns = 1'000'000'000;
  // Probe every peer, not only those that are down or failing (whose last report was a failure).
  // Default: true
  bool probe_healthy_peers = true;
};

// What one ProbeOnce did.
struct ProbeReport {
  // The peers probed, sorted.
  std::vector<std::string> probed;
  // Probed peers that were down and are up again (they answered).
  std::vector<std::string> up_again;
  // Probed peers that did not answer: "member <name>: <CODE>: <message>".
  std::vector<std::string> failed;
};

// Thread-safe; ProbeOnce calls may overlap (each probes on its own).
class PeerProber {
 public:
  // `membership` and `channels` are not owned and must outlive the prober.
  PeerProber(const PeerProberOptions& options, Membership* membership, PeerChannels* channels)
      : options_(options), membership_(membership), channels_(channels) {}

  // Pings the peers to probe (every member but self, see probe_healthy_peers) at once, waits
  // for their answers or the timeout, and reports each to the membership (an answer is a
  // success; no answer, an error or a wrong member name a failure).
  ProbeReport ProbeOnce();

 private:
  // The members other than self to probe now, sorted.
  std::vector<std::string> PeersToProbe() const;

  const PeerProberOptions options_;
  Membership* const membership_;
  PeerChannels* const channels_;
};

}  // namespace tailtrace::cluster
