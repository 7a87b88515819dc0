#include "tests/storage/clickhouse_cluster.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailtrace::storage::testing {
namespace {

// Tries with new ports when a server does not start because another process took a port
// between our probe and the server's bind (the servers' config names each other's ports, so
// all four start afresh).
constexpr int kStartTries = 3;
constexpr const char* kDdlQueue = "/clickhouse/task_queue/ddl";
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
    if (absl::Status s = servers_[i]->AddConfig("cluster", ClusterConfig(i)); !s.ok()) return s;
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

std::string ClickHouseCluster::ClusterConfig(int i) const {
  std::string shards;
  for (int shard = 0; shard < kShards; ++shard) {
    absl::StrAppend(&shards,
                    "      <shard>\n        <internal_replication>true</internal_replication>\n");
    for (int replica = 0; replica < kReplicasPerShard; ++replica) {
      const ClickHouseServer& member = *servers_[shard * kReplicasPerShard + replica];
      absl::StrAppend(&shards, "        <replica><host>127.0.0.1</host><port>", member.tcp_port(),
                      "</port></replica>\n");
    }
    absl::StrAppend(&shards, "      </shard>\n");
  }
  return absl::StrCat(
      "<yandex>\n", "  <zookeeper><node><host>127.0.0.1</host><port>", zookeeper_->port(),
      "</port></node></zookeeper>\n", "  <distributed_ddl><path>", kDdlQueue,
      "</path></distributed_ddl>\n", "  <macros><shard>", absl::StrFormat("%02d", shard_of(i)),
      "</shard><replica>", replica_of(i), "</replica></macros>\n", "  <remote_servers>\n    <",
      kName, ">\n", shards, "    </", kName, ">\n  </remote_servers>\n", "</yandex>\n");
}

}  // namespace tailtrace::storage::testing
