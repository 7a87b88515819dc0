#pragma once

// The cluster's series on /metrics, read from Membership when /metrics is scraped (so they are
// as fresh as the scrape, with no thread of their own):
//
//   tailtrace_cluster_members                gauge    members: self, static peers, DNS answer
//   tailtrace_cluster_live_members           gauge    members not down, self included
//   tailtrace_cluster_peer_up{peer}          gauge    1 while the member is live, 0 while down;
//                                                     one series per current member (self too)
//   tailtrace_cluster_dns_resolutions_total  counter  resolutions of cluster.peers.dns.name
//   tailtrace_cluster_dns_failures_total     counter  of which failed (the previous answer kept)
//
// The DNS counters exist only with DNS membership. A member's peer_up series is added when it
// joins and removed when it leaves (pods that are replaced get new addresses, and their series
// must not pile up); Prometheus then marks the series stale.

#include <string>
#include <vector>

#include "cluster/membership.h"
#include "common/metrics.h"

namespace tailtrace::cluster {

// Registers the series above, with a peer_up series for each of `members` (at start-up, every
// member; afterwards, MembershipChange::joined). Registering again replaces the callbacks, so
// calling it twice for a member is harmless. `membership` must outlive `metrics`' scrapes, or
// the series must be removed first.
void PublishClusterMetrics(Membership* membership, const std::vector<std::string>& members,
                           MetricsRegistry* metrics);

// Removes the peer_up series of `members` (MembershipChange::left).
void ForgetClusterMembers(const std::vector<std::string>& members, MetricsRegistry* metrics);

}  // namespace tailtrace::cluster
