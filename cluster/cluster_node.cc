#include "cluster/cluster_node.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/listener_security.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"
#include "status_json.h"
#include "status_metrics.h"

namespace tailtrace::cluster {
namespace {

// How often membership is refreshed: DNS when its interval passed, and silent peers expired.
constexpr int64_t kRefreshPeriodNs = 1'000'000'000;

void LogChange(const MembershipChange& change) {
  if (!change.joined.empty()) {
    spdlog::info("cluster: joined: {}", absl::StrJoin(change.joined, ", "));
  }
  if (!change.left.empty()) spdlog::info("cluster: left: {}", absl::StrJoin(change.left, ", "));
  if (!change.dns_status.ok()) {
    spdlog::warn("cluster: resolving peers.dns failed, keeping the last answer: {}",
                 change.dns_status.ToString());
  }
  if (change.self_missing_from_dns) {
    spdlog::warn(
        "cluster: the peers.dns answer does not list self; peers that learn members "
        "from DNS compute other owners than this node until it does");
  }
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* key) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster.tls.", key, " \"", path, "\": cannot read: ", std::strerror(errno)));
  }
  return text.str();
}

absl::StatusOr<PeerChannelsTls> ReadPeerTls(const PeerTlsOptions& options) {
  PeerChannelsTls tls;
  tls.enabled = options.enabled;
  tls.server_name = options.server_name;
  if (!options.enabled) return tls;
  for (auto [path, key, out] : {std::tuple{&options.ca_file, "ca_file", &tls.ca_pem},
                                std::tuple{&options.cert_file, "cert_file", &tls.cert_pem},
                                std::tuple{&options.key_file, "key_file", &tls.key_pem}}) {
    absl::StatusOr<std::string> pem = ReadPem(*path, key);
    if (!pem.ok()) return pem.status();
    *out = *std::move(pem);
  }
  return tls;
}

}  // namespace

absl::StatusOr<std::string> PeerAuthorizationFromTokenFile(const std::string& path) {
  if (path.empty()) return std::string();
  absl::StatusOr<std::unique_ptr<security::BearerTokens>> tokens =
      security::BearerTokens::Create(path);
  if (!tokens.ok()) return tokens.status();
  return absl::StrCat("Bearer ", (*tokens)->First());
}

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Start(
    const ClusterNodeOptions& options, collector::SpanSink* local, storage::TraceStore* local_store,
    PeerResolver* resolver, Clock* clock, MetricsRegistry* metrics) {
  std::unique_ptr<ClusterNode> node(new ClusterNode());
  if (resolver == nullptr && options.cluster.dns.enabled()) {
    node->own_resolver_ = std::make_unique<SystemResolver>();
    resolver = node->own_resolver_.get();
  }
  absl::StatusOr<std::unique_ptr<Membership>> membership =
      Membership::Create(options.cluster, resolver, clock);
  if (!membership.ok()) return membership.status();
  node->membership_ = *std::move(membership);
  LogChange(node->membership_->Refresh());
  absl::StatusOr<PeerChannelsTls> tls = ReadPeerTls(options.cluster.tls);
  if (!tls.ok()) return tls.status();
  node->channels_ = std::make_unique<PeerChannels>(
      PeerChannelsOptions{.self = options.cluster.self,
                          .authorization = options.peer_authorization,
                          .tls = *std::move(tls)});
  node->router_ = std::make_unique<SpanRouter>(options.router, node->membership_.get(),
                                               node->channels_.get(), local, clock, metrics);
  absl::StatusOr<std::unique_ptr<QueryServer>> query_server =
      QueryServer::Create(QueryServerOptions{.self = options.cluster.self,
                                             .bearer_token_file = options.bearer_token_file,
                                             .max_trace_spans = options.max_trace_spans},
                          local_store);
  if (!query_server.ok()) return query_server.status();
  node->query_server_ = *std::move(query_server);
  absl::StatusOr<std::unique_ptr<ClusterReader>> reader =
      ClusterReader::Create(ClusterReaderOptions{.timeout_ns = options.cluster.query_timeout_ns},
                            node->membership_.get(), node->channels_.get(), local_store);
  if (!reader.ok()) return reader.status();
  node->reader_ = *std::move(reader);
  node->metrics_ = metrics;
  std::vector<std::string> members;
  for (const MemberStatus& m : node->membership_->StatusSnapshot().members)
    members.push_back(m.name);
  PublishClusterMetrics(node->membership_.get(), members, metrics);
  node->prober_ = std::make_unique<PeerProber>(PeerProberOptions{}, node->membership_.get(),
                                               node->channels_.get());
  node->prober_thread_ = std::thread([raw = node.get()] { raw->RunProber(); });
  node->refresher_ = std::make_unique<MembershipRefresher>(
      node->membership_.get(), kRefreshPeriodNs,
      [raw = node.get()](const MembershipChange& change) { raw->OnMembershipChange(change); });
  spdlog::info("cluster: this node is {}; live members: {}", options.cluster.self,
               absl::StrJoin(node->membership_->Live()->members(), ", "));
  return node;
}

ClusterNode::~ClusterNode() { Shutdown(0); }

std::string ClusterNode::StatusJson() const {
  return RenderClusterStatusJson(membership_->StatusSnapshot());
}

void ClusterNode::OnMembershipChange(const MembershipChange& change) {
  LogChange(change);
  if (!change.joined.empty()) PublishClusterMetrics(membership_.get(), change.joined, metrics_);
  if (!change.left.empty()) {
    ForgetClusterMembers(change.left, metrics_);
    ClusterStatus status = membership_->StatusSnapshot();
    std::vector<std::string> members;
    for (const MemberStatus& m : status.members) members.push_back(m.name);
    channels_->Retain(members);
  }
}

void ClusterNode::RunProber() {
  SetCurrentThreadName("tt-cluster-probe");
  std::unique_lock lock(prober_mu_);
  while (!stopping_) {
    lock.unlock();
    prober_->ProbeOnce();  // Membership logs who went down or came back
    lock.lock();
    prober_wake_.wait_for(lock, std::chrono::nanoseconds(kRefreshPeriodNs),
                          [this] { return stopping_; });
  }
}

void ClusterNode::Shutdown(int64_t deadline_ns) {
  {
    std::lock_guard lock(prober_mu_);
    stopping_ = true;
  }
  prober_wake_.notify_all();
  if (prober_thread_.joinable()) prober_thread_.join();
  if (refresher_ != nullptr) refresher_->Stop();
  if (router_ != nullptr) router_->Shutdown(deadline_ns);
}

}  // namespace tailtrace::cluster
