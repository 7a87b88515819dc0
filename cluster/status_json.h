#pragma once

// The body of GET /api/cluster: this node's view of the cluster, for operators and scripts.
//
//   {"self": "10.0.0.1:4317", "liveMembers": 2,
//    "members": [{"name": "10.0.0.1:4317", "self": true, "static": true, "dns": false,
//                 "state": "up" | "down",
//                 "lastSuccess": "2026-12-05T14:00:00.123Z" | null,
//                 "lastFailure": ... | null, "lastError": "" }, ...],   (sorted by name)
//    "dns": null | {"name": "...", "lastSuccess": ... | null, "lastError": "",
//                   "resolutions": 12, "failures": 0, "selfMissing": false}}
//
// Times are UTC RFC 3339 with milliseconds; null when it never happened.

#include <string>

#include "cluster/membership.h"
#include "common/metrics.h"

namespace tailtrace::cluster {

std::string RenderClusterStatusJson(const ClusterStatus& status);

// Registers /metrics gauges read from `membership` at scrape time: tailtrace_cluster_members,
// tailtrace_cluster_live_members, and tailtrace_cluster_peer_up{peer} (1 up, 0 down or no longer
// a member) for every member in `members`. Call again with members that joined; gauges of
// members that left stay at 0. `membership` must outlive `metrics`' scrapes.
void PublishClusterMetrics(Membership* membership, const std::vector<std::string>& members,
                           MetricsRegistry* metrics);

}  // namespace tailtrace::cluster
