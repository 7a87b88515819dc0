#include "cluster/peer_prober.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "latch_internal.h"
#include "tailtrace/cluster/v1/cluster.grpc.pb.h"

namespace tailtrace::cluster {
namespace {

namespace pb = ::tailtrace::cluster::v1;

struct Probe {
  std::string member;
  std::unique_ptr<pb::ClusterQuery::Stub> stub;
  grpc::ClientContext context;
  pb::PingRequest request;
  pb::PingResponse response;
  grpc::Status status;
};

// OK when the peer answered as `probe.member`; else why not.
grpc::Status OutcomeOf(const Probe& probe) {
  if (!probe.status.ok()) return probe.status;
  // Another node listening at the address (e.g. after a re-deploy with other names) is not the
  // member.
  if (probe.response.member() != probe.member) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("answered as member \"", probe.response.member(), "\""));
  }
  return grpc::Status::OK;
}

}  // namespace

std::vector<std::string> PeerProber::PeersToProbe() const {
  const ClusterStatus status = membership_->StatusSnapshot();
  std::vector<std::string> peers;
  for (const MemberStatus& m : status.members) {
    if (m.self) continue;
    const bool failing =
        m.state == PeerState::kDown || m.last_failure_unix_ns > m.last_success_unix_ns;
    if (failing || options_.probe_healthy_peers) peers.push_back(m.name);
  }
  return peers;
}

ProbeReport PeerProber::ProbeOnce() {
  ProbeReport report;
  report.probed = PeersToProbe();
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::nanoseconds(std::max<int64_t>(options_.timeout_ns, 1));
  std::vector<std::unique_ptr<Probe>> probes;
  internal::Latch latch(report.probed.size());
  for (const std::string& member : report.probed) {
    auto probe = std::make_unique<Probe>();
    probe->member = member;
    probe->stub = pb::ClusterQuery::NewStub(channels_->Get(member));
    probe->context.set_deadline(deadline);
    // Waits for a connection (until the deadline) instead of failing at once while the channel
    // backs off after earlier failures: a peer that just came back answers this probe.
    probe->context.set_wait_for_ready(true);
    channels_->Prepare(&probe->context);
    Probe* p = probe.get();
    p->stub->async()->Ping(&p->context, &p->request, &p->response,
                           [p, &latch](grpc::Status status) {
                             p->status = std::move(status);
                             latch.CountDown();
                           });
    probes.push_back(std::move(probe));
  }
  latch.Wait();
  for (const auto& probe : probes) {
    const grpc::Status outcome = OutcomeOf(*probe);
    if (outcome.ok()) {
      if (membership_->ReportSuccess(probe->member)) report.up_again.push_back(probe->member);
      continue;
    }
    const std::string code =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(outcome.error_code()));
    membership_->ReportFailure(probe->member,
                               absl::StrCat("probe: ", code, ": ", outcome.error_message()));
    report.failed.push_back(
        absl::StrCat("member ", probe->member, ": ", code, ": ", outcome.error_message()));
  }
  return report;
}

}  // namespace tailtrace::cluster
