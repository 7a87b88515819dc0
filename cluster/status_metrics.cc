#include "status_metrics.h"

#include <string>
#include <vector>

namespace tailtrace::cluster {
namespace {

constexpr char kPeerUp[] = "tailtrace_cluster_peer_up";

}  // namespace

void PublishClusterMetrics(Membership* membership, const std::vector<std::string>& members,
                           MetricsRegistry* metrics) {
  metrics->SetCallbackGauge(
      "tailtrace_cluster_members", "Members of the cluster (self, static peers, DNS answer).", {},
      [membership] { return static_cast<double>(membership->StatusSnapshot().members.size()); });
  metrics->SetCallbackGauge(
      "tailtrace_cluster_live_members", "Members that are not down, self included.", {},
      [membership] { return static_cast<double>(membership->Live()->size()); });
  for (const std::string& name : members) {
    metrics->SetCallbackGauge(
        kPeerUp, "1 while the member is live, 0 while it is down.", {{"peer", name}},
        [membership, name] { return membership->Live()->IndexOf(name).has_value() ? 1.0 : 0.0; });
  }
  if (membership->StatusSnapshot().dns_name.empty()) return;
  metrics->SetCallbackCounter(
      "tailtrace_cluster_dns_resolutions_total", "Resolutions of cluster.peers.dns.name.", {},
      [membership] {
        return static_cast<double>(membership->StatusSnapshot().dns_resolutions_total);
      });
  metrics->SetCallbackCounter(
      "tailtrace_cluster_dns_failures_total",
      "Resolutions of cluster.peers.dns.name that failed (the previous answer was kept).", {},
      [membership] {
        return static_cast<double>(membership->StatusSnapshot().dns_failures_total);
      });
}

void ForgetClusterMembers(const std::vector<std::string>& members, MetricsRegistry* metrics) {
  for (const std::string& name : members) metrics->RemoveCallback(kPeerUp, {{"peer", name}});
}

}  // namespace tailtrace::cluster
