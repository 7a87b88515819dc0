#include "tests/storage/clickhouse_cluster.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailtrace::storage::testing {
namespace {

// Tries with new ports when a server does not start because another process took a port
// between our probe and the server's bind (the servers' config names each other's ports, so
// all four start afresh).
constexpr int kStartTries = 3;
// ClickHouse's default. The e2e cluster's 5 s lets a SIGKILLed replica come back quickly; these
// tests only stop servers gracefully (which closes the session), and their ZooKeeper's 3 s tick
// would raise anything under 6 s to 6 s.
constexpr int kZooKeeperSessionTimeoutMs = 30'000;
// What a server's debug log says once its distributed DDL worker has a ZooKeeper session.
constexpr const char* kDdlWorkerReady = "<Debug> DDLWorker: Processing tasks";

}  // namespace

absl::StatusOr<ClickHouseCluster*> ClickHouseCluster::Shared() {
  static std::mutex mu;
  static std::unique_ptr<ClickHouseCluster> cluster;
  static absl::Status error;
  std::lock_guard lock(mu);
  if (cluster == nullptr && error.ok()) {
    absl::StatusOr<std::unique_ptr<ClickHouseCluster>> made = Create();
    if (made.ok()) {
      cluster = *std::move(made);
    } else {
      error = made.status();
    }
  }
  if (!error.ok()) return error;
  return cluster.get();
}

absl::StatusOr<std::unique_ptr<ClickHouseCluster>> ClickHouseCluster::Create() {
  std::unique_ptr<ClickHouseCluster> cluster(new ClickHouseCluster());
  absl::StatusOr<std::unique_ptr<ZooKeeperServer>> zookeeper = ZooKeeperServer::Create();
  if (!zookeeper.ok()) return zookeeper.status();
  cluster->zookeeper_ = *std::move(zookeeper);
  absl::Status status = cluster->StartServers();
  for (int attempt = 1; attempt < kStartTries && IsAddressInUse(status); ++attempt) {
    status = cluster->StartServers();
  }
  if (!status.ok()) return status;
  return cluster;
}

ClickHouseCluster::~ClickHouseCluster() {
  servers_.clear();
  zookeeper_.reset();
}

std::string ClickHouseCluster::replica_of(int i) { return absl::StrCat("replica_", i); }

absl::Status ClickHouseCluster::StartServers() {
  servers_.clear();
  for (int i = 0; i < kShards * kReplicasPerShard; ++i) {
    ClickHouseServer::Options options;
    options.interserver_http = true;
    // ClickHouse 18.16 answers /ping before its distributed DDL worker has a ZooKeeper session,
    // and an ON CLUSTER query it gets meanwhile crashes it (a null session). Only its debug log
    // tells when the worker has one: it then processes the queue.
    options.log_level = "debug";
    options.ready = [](const ClickHouseServer& server) {
      return absl::StrContains(server.LogSinceStart(), kDdlWorkerReady);
    };
    absl::StatusOr<std::unique_ptr<ClickHouseServer>> server =
        ClickHouseServer::Prepare(std::move(options));
    if (!server.ok()) return server.status();
    servers_.push_back(*std::move(server));
  }
  for (int i = 0; i < size(); ++i) {
    absl::StatusOr<std::string> config = ClusterConfig(i);
    if (!config.ok()) return config.status();
    if (absl::Status s = servers_[i]->AddConfig("cluster", *config); !s.ok()) return s;
  }
  // All at once: a server spends most of its start waiting, and the machine has few cores.
  for (const auto& server : servers_) {
    if (absl::Status s = server->Spawn(); !s.ok()) return s;
  }
  for (int i = 0; i < size(); ++i) {
    if (absl::Status s = servers_[i]->AwaitReady(); !s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat("server ", i, " of the ClickHouse cluster: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ClickHouseCluster::ClusterConfig(int i) const {
  static_assert(kShards * kReplicasPerShard == 4, "tests/clickhouse/cluster.xml names 4 servers");
  std::vector<std::pair<std::string, std::string>> values = {
      {"INTERSERVER_PORT", std::to_string(servers_[i]->interserver_http_port())},
      {"ZOOKEEPER_PORT", std::to_string(zookeeper_->port())},
      {"ZOOKEEPER_SESSION_TIMEOUT_MS", std::to_string(kZooKeeperSessionTimeoutMs)},
      {"SHARD", absl::StrFormat("%02d", shard_of(i))},
      {"REPLICA", replica_of(i)},
  };
  for (int member = 0; member < size(); ++member) {
    values.emplace_back(absl::StrCat("TCP_PORT_", member),
                        std::to_string(servers_[member]->tcp_port()));
  }
  return ClickHouseConfigTemplate("cluster.xml", values);
}

}  // namespace tailtrace::storage::testing
