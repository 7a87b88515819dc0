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

namespace tailtrace::cluster {

std::string RenderClusterStatusJson(const ClusterStatus& status);

}  // namespace tailtrace::cluster
