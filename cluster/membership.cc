#include "cluster/membership.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace tailtrace::cluster {
namespace {

// A refresher with a zero or negative period would spin.
constexpr int64_t kMinPeriodNs = 1'000'000;

bool Contains(const std::vector<std::string>& sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

absl::Status ValidateOptions(const ClusterOptions& options, const PeerResolver* resolver) {
  if (options.self.empty()) {
    return absl::InvalidArgumentError("cluster.self: required (this node's host:port)");
  }
  if (options.peer_timeout_ns <= 0) {
    return absl::InvalidArgumentError("cluster.peer_timeout: must be positive");
  }
  if (!options.dns.enabled()) return absl::OkStatus();
  if (options.dns.port < 1 || options.dns.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster.peers.dns.port: must be 1-65535, got ", options.dns.port));
  }
  if (options.dns.interval_ns <= 0) {
    return absl::InvalidArgumentError("cluster.peers.dns.interval: must be positive");
  }
  if (resolver == nullptr) {
    return absl::InvalidArgumentError("cluster.peers.dns: needs a resolver");
  }
  return absl::OkStatus();
}

// Every change of a peer's state is logged here, whichever report or refresh made it.
void LogDown(const std::string& name, const std::string& error) {
  spdlog::warn("cluster: member {} is down (no answer within peer_timeout; last error: {})", name,
               error);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Membership>> Membership::Create(const ClusterOptions& options,
                                                               PeerResolver* resolver,
                                                               Clock* clock) {
  if (absl::Status status = ValidateOptions(options, resolver); !status.ok()) return status;
  return std::unique_ptr<Membership>(new Membership(options, resolver, clock));
}

Membership::Membership(const ClusterOptions& options, PeerResolver* resolver, Clock* clock)
    : options_(options), resolver_(resolver), clock_(clock) {
  std::lock_guard lock(mu_);
  MembershipChange ignored;
  RebuildMembersLocked(&ignored);
  PublishLiveLocked();
}

MembershipChange Membership::Refresh() {
  std::lock_guard refresh_lock(refresh_mu_);
  MembershipChange change;
  bool due = false;
  {
    std::lock_guard lock(mu_);
    due = options_.dns.enabled() && clock_->MonotonicNanos() >= next_resolve_ns_;
  }
  // Outside mu_: a slow DNS server must not hold up the reports or the status.
  absl::StatusOr<std::vector<std::string>> answer;
  if (due) answer = resolver_->Resolve(options_.dns.name, options_.dns.port);

  std::lock_guard lock(mu_);
  const int64_t now_ns = clock_->MonotonicNanos();
  if (due) {
    next_resolve_ns_ = now_ns + options_.dns.interval_ns;
    ApplyDnsLocked(answer, &change);
    RebuildMembersLocked(&change);
  }
  ExpireLocked(now_ns, &change.down);
  PublishLiveLocked();
  return change;
}

void Membership::ApplyDnsLocked(const absl::StatusOr<std::vector<std::string>>& answer,
                                MembershipChange* change) {
  change->resolved = true;
  ++dns_resolutions_;
  absl::Status status = answer.status();
  if (status.ok() && answer->empty()) {
    status = absl::NotFoundError(absl::StrCat("\"", options_.dns.name, "\" resolved to nothing"));
  }
  if (!status.ok()) {
    ++dns_failures_;
    dns_last_error_ = status.ToString();
    change->dns_status = std::move(status);
    return;
  }
  dns_answer_ = *answer;
  std::sort(dns_answer_.begin(), dns_answer_.end());
  dns_answer_.erase(std::unique(dns_answer_.begin(), dns_answer_.end()), dns_answer_.end());
  dns_last_success_unix_ns_ = clock_->UnixNanos();
  dns_last_error_.clear();
  self_missing_from_dns_ = !Contains(dns_answer_, options_.self);
  change->self_missing_from_dns = self_missing_from_dns_;
}

void Membership::RebuildMembersLocked(MembershipChange* change) {
  std::vector<std::string> names = dns_answer_;
  names.push_back(options_.self);
  names.insert(names.end(), options_.static_peers.begin(), options_.static_peers.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // Both lists are sorted, so change->joined and change->left come out sorted.
  for (auto it = members_.begin(); it != members_.end();) {
    if (Contains(names, it->first)) {
      ++it;
      continue;
    }
    change->left.push_back(it->first);
    it = members_.erase(it);  // a member that comes back starts with a clean record
  }
  for (std::string& name : names) {
    if (members_.count(name) != 0) continue;
    change->joined.push_back(name);
    members_.emplace(std::move(name), Health{});
  }
}

void Membership::ExpireLocked(int64_t now_ns, std::vector<std::string>* down) {
  for (auto& [name, health] : members_) {
    if (health.down || !health.failing) continue;
    if (now_ns - health.first_failure_ns < options_.peer_timeout_ns) continue;
    health.down = true;
    LogDown(name, health.last_error);
    down->push_back(name);
  }
}

void Membership::PublishLiveLocked() {
  std::vector<std::string> live;
  for (const auto& [name, health] : members_) {
    if (!health.down) live.push_back(name);
  }
  std::shared_ptr<const Ring> current = Live();
  if (current != nullptr && current->members() == live) return;
  auto ring = std::make_shared<const Ring>(std::move(live));  // hashed outside live_mu_
  const int64_t now_ns = clock_->MonotonicNanos();
  std::lock_guard lock(live_mu_);
  previous_live_ = std::move(live_);
  live_changed_ns_ = now_ns;
  live_ = std::move(ring);
}

LiveChange Membership::LastChange() const {
  std::lock_guard lock(live_mu_);
  return LiveChange{live_, previous_live_, live_changed_ns_};
}

bool Membership::ReportSuccess(std::string_view peer) {
  std::lock_guard lock(mu_);
  const auto it = members_.find(peer);
  if (it == members_.end() || it->first == options_.self) return false;
  Health& health = it->second;
  health.failing = false;
  health.last_success_unix_ns = clock_->UnixNanos();
  if (!health.down) return false;
  health.down = false;
  spdlog::info("cluster: member {} answers again; it is live", it->first);
  PublishLiveLocked();
  return true;
}

bool Membership::ReportFailure(std::string_view peer, std::string_view error) {
  std::lock_guard lock(mu_);
  const auto it = members_.find(peer);
  if (it == members_.end() || it->first == options_.self) return false;
  Health& health = it->second;
  const int64_t now_ns = clock_->MonotonicNanos();
  if (!health.failing) {
    health.failing = true;
    health.first_failure_ns = now_ns;
  }
  health.last_failure_unix_ns = clock_->UnixNanos();
  health.last_error = std::string(error);
  if (health.down || now_ns - health.first_failure_ns < options_.peer_timeout_ns) return false;
  health.down = true;
  LogDown(it->first, health.last_error);
  PublishLiveLocked();
  return true;
}

ClusterStatus Membership::StatusSnapshot() const {
  std::lock_guard lock(mu_);
  ClusterStatus status;
  status.self = options_.self;
  status.dns_name = options_.dns.name;
  status.dns_last_success_unix_ns = dns_last_success_unix_ns_;
  status.dns_last_error = dns_last_error_;
  status.dns_resolutions_total = dns_resolutions_;
  status.dns_failures_total = dns_failures_;
  status.self_missing_from_dns = self_missing_from_dns_;
  std::vector<std::string> static_peers = options_.static_peers;
  std::sort(static_peers.begin(), static_peers.end());
  for (const auto& [name, health] : members_) {
    MemberStatus& m = status.members.emplace_back();
    m.name = name;
    m.self = name == options_.self;
    m.is_static = Contains(static_peers, name);
    m.from_dns = Contains(dns_answer_, name);
    m.state = health.down ? PeerState::kDown : PeerState::kUp;
    m.last_success_unix_ns = health.last_success_unix_ns;
    m.last_failure_unix_ns = health.last_failure_unix_ns;
    m.last_error = health.last_error;
    if (!health.down) ++status.live_members;
  }
  return status;
}

MembershipRefresher::MembershipRefresher(Membership* membership, int64_t period_ns,
                                         std::function<void(const MembershipChange&)> on_change)
    : membership_(membership),
      period_ns_(period_ns),
      on_change_(std::move(on_change)),
      thread_([this] { Run(); }) {}

MembershipRefresher::~MembershipRefresher() { Stop(); }

void MembershipRefresher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MembershipRefresher::Run() {
  SetCurrentThreadName("tt-cluster-dns");
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    const MembershipChange change = membership_->Refresh();
    if (change.changed() || !change.dns_status.ok()) on_change_(change);
    lock.lock();
    wake_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(period_ns_, kMinPeriodNs)),
                   [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
  }
}

}  // namespace tailtrace::cluster
