#pragma once

// Who the members of the cluster are, and which of them are live.
//
// The members are `self`, the static peers and the latest DNS answer, merged (sorted,
// deduplicated). A member is live unless it is down: a peer is down when it has not answered for
// peer_timeout since its first failure, and up again at its next success (self is never down).
// The router reads Live(), an immutable ring of the live members, on every request; everything
// else (Refresh, the Report* calls, the status) is off the hot path.
//
// Each node judges its peers' health by itself, so two nodes may briefly disagree on the live set
// and on a trace's owner (one sees a peer down that another still reaches); the router must mark
// forwarded requests and never forward them twice.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cluster/options.h"
#include "cluster/ownership.h"
#include "cluster/resolver.h"
#include "common/clock.h"

namespace tailtrace::cluster {

// What one Refresh changed or found.
struct MembershipChange {
  // Names that became members (e.g. a new DNS answer) or stopped being members, sorted.
  std::vector<std::string> joined;
  std::vector<std::string> left;
  // Members that went down at this refresh: their peer_timeout ran out without a report.
  std::vector<std::string> down;
  // Whether the DNS name was resolved (its interval had passed).
  bool resolved = false;
  // The resolution's error when it failed; the previous answer is then kept. OK otherwise.
  absl::Status dns_status;
  // The DNS answer did not list self: peers that learn the members from DNS do not count this
  // node, so they compute other owners than it does. Either `self` is not spelt as the DNS
  // answer spells it (use the address, e.g. the pod IP), or this node is not in the answer yet.
  bool self_missing_from_dns = false;

  bool changed() const { return !joined.empty() || !left.empty() || !down.empty(); }
};

enum class PeerState { kUp, kDown };

// The live set and the one it replaced (for the router's handover after a change).
struct LiveChange {
  std::shared_ptr<const Ring> live;
  // The live set before the last change; null before any change (the first one at Create).
  std::shared_ptr<const Ring> previous;
  // When `live` replaced `previous` (Clock::MonotonicNanos).
  int64_t changed_ns = 0;
};

// One member as the status endpoint and /metrics show it.
struct MemberStatus {
  std::string name;
  bool self = false;
  // Where the member comes from: listed in cluster.peers.static, in the latest DNS answer.
  bool is_static = false;
  bool from_dns = false;
  PeerState state = PeerState::kUp;
  // Wall-clock times (Clock::UnixNanos) of the last report of each kind; 0 = none yet.
  int64_t last_success_unix_ns = 0;
  int64_t last_failure_unix_ns = 0;
  // The error of the last failure ("" when none was reported).
  std::string last_error;
};

struct ClusterStatus {
  std::string self;
  // Every member, sorted by name.
  std::vector<MemberStatus> members;
  // Members not down (self included).
  size_t live_members = 0;
  // DNS membership; dns_name is "" when it is off.
  std::string dns_name;
  int64_t dns_last_success_unix_ns = 0;  // 0 = not yet
  std::string dns_last_error;            // "" when the last resolution succeeded
  uint64_t dns_resolutions_total = 0;
  uint64_t dns_failures_total = 0;
  bool self_missing_from_dns = false;  // as of the last successful resolution
};

// Thread-safe. Live() is cheap enough for every request (a pointer copy under a mutex of its own);
// the others share another mutex.
class Membership {
 public:
  // InvalidArgument for options that cannot work: no self, DNS without a port or a resolver, a
  // non-positive interval or peer_timeout. `resolver` (needed only with DNS) and `clock` are not
  // owned and must outlive the membership. The members start as self + static peers, all up;
  // call Refresh() once before serving to add the DNS answer.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Membership>> Create(
      const ClusterOptions& options, PeerResolver* resolver, Clock* clock);

  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Resolves the DNS name again when its interval has passed (the first call always does), and
  // marks down the peers whose peer_timeout ran out. Blocks while the resolver runs (not holding
  // the lock Live() and the reports take); concurrent calls run one after the other. A failed
  // or empty answer keeps the previous one: a DNS outage does not empty the cluster, and peers
  // that are really gone go down by their health instead.
  MembershipChange Refresh();

  // A request to `peer` succeeded / failed (`error` says why). True when this changed the peer's
  // state (down -> up, up -> down). Reports about self or about names that are not members are
  // ignored (false): a report may arrive just after the peer left.
  bool ReportSuccess(std::string_view peer);
  bool ReportFailure(std::string_view peer, std::string_view error);

  // The live members (self always among them). The same snapshot is returned until the live set
  // changes: a reader that keeps the shared_ptr (and what it derived from that ring) sees whether
  // anything changed by comparing it with Live().
  std::shared_ptr<const Ring> Live() const {
    std::lock_guard lock(live_mu_);
    return live_;
  }

  // Live() with the live set it replaced and when: every change is recorded here as it happens,
  // whether or not anyone read Live() in between.
  LiveChange LastChange() const;

  // Every member with its state, for /api/cluster and /metrics.
  ClusterStatus StatusSnapshot() const;

  const std::string& self() const { return options_.self; }

 private:
  struct Health {
    bool down = false;
    bool failing = false;          // failed since the last success
    int64_t first_failure_ns = 0;  // monotonic; valid while failing
    int64_t last_success_unix_ns = 0;
    int64_t last_failure_unix_ns = 0;
    std::string last_error;
  };

  Membership(const ClusterOptions& options, PeerResolver* resolver, Clock* clock);

  // Applies a resolution's outcome to the DNS state; fills change->dns_status and friends.
  void ApplyDnsLocked(const absl::StatusOr<std::vector<std::string>>& answer,
                      MembershipChange* change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks down the failing peers whose peer_timeout ran out by `now_ns`; appends them to `down`.
  void ExpireLocked(int64_t now_ns, std::vector<std::string>* down)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recomputes the member list from self, static peers and the DNS answer; fills joined/left.
  void RebuildMembersLocked(MembershipChange* change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes a new live ring when the live set differs from the published one.
  void PublishLiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClusterOptions options_;
  PeerResolver* const resolver_;
  Clock* const clock_;

  std::mutex refresh_mu_;  // serializes Refresh (held while resolving, unlike mu_)
  mutable std::mutex mu_;
  std::vector<std::string> dns_answer_ ABSL_GUARDED_BY(mu_);  // sorted
  int64_t next_resolve_ns_ ABSL_GUARDED_BY(mu_) = 0;          // monotonic; 0 = at the first Refresh
  int64_t dns_last_success_unix_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::string dns_last_error_ ABSL_GUARDED_BY(mu_);
  uint64_t dns_resolutions_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dns_failures_ ABSL_GUARDED_BY(mu_) = 0;
  bool self_missing_from_dns_ ABSL_GUARDED_BY(mu_) = false;
  // Every member (self, static peers, DNS answer) and its health, by name.
  std::map<std::string, Health, std::less<>> members_ ABSL_GUARDED_BY(mu_);
  // Its own mutex, held only to copy the pointer, so that readers never wait behind a report,
  // a refresh or a status snapshot. (Not std::atomic<std::shared_ptr>: libstdc++ 12's lock bit
  // is invisible to ThreadSanitizer, which then reports races that are not there.)
  mutable std::mutex live_mu_;
  std::shared_ptr<const Ring> live_ ABSL_GUARDED_BY(live_mu_);
  std::shared_ptr<const Ring> previous_live_ ABSL_GUARDED_BY(live_mu_);
  int64_t live_changed_ns_ ABSL_GUARDED_BY(live_mu_) = 0;
};

// Calls membership->Refresh() on a thread of its own: at once, then every `period_ns` (real
// time, at least 1 ms; e.g. 1 s, so that a silent peer goes down soon after its peer_timeout
// even when no report comes), and hands each result that changed something or failed to `on_change`
// (on that thread). Optional: the core above needs no thread.
class MembershipRefresher {
 public:
  MembershipRefresher(Membership* membership, int64_t period_ns,
                      std::function<void(const MembershipChange&)> on_change);
  ~MembershipRefresher();
  MembershipRefresher(const MembershipRefresher&) = delete;
  MembershipRefresher& operator=(const MembershipRefresher&) = delete;

  // Ends the thread; a Refresh in progress (a slow DNS answer) is waited for. Idempotent.
  void Stop();

 private:
  void Run();

  Membership* const membership_;
  const int64_t period_ns_;
  const std::function<void(const MembershipChange&)> on_change_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tailtrace::cluster
