#pragma once

// A real ClickHouse cluster for tests: a ZooKeeper (zookeeper_server.h) and four ClickHouse
// servers (clickhouse_server.h) of the test process, each on free loopback ports in a temporary
// directory of its own, as the cluster kName of 2 shards of 2 replicas. Server i is in shard
// shard_of(i) (servers 0 and 1 in shard 1, 2 and 3 in shard 2) with internal_replication, so
// that a Distributed table writes each row to one replica of its shard and a
// ReplicatedMergeTree table copies it to the other. Each server has the macros {shard} ("01",
// "02") and {replica} (replica_of(i), unique in the cluster), runs ON CLUSTER DDL (queue
// /clickhouse/task_queue/ddl in ZooKeeper), and serves interserver HTTP on 127.0.0.1 for the
// replicas' fetches: tests/clickhouse/cluster.xml, which the e2e tests' cluster fills in too,
// with its ZooKeeper session timeout of 30 s (ClickHouse's default). Users as for one server:
// "default" without a password and ClickHouseServer::kUser with kPassword. Everything is killed and
// removed at exit.
//
// For example (as clickhouse_cluster_test.cc does):
//   CREATE TABLE db.t_local ON CLUSTER tailtrace_test (id UInt64) ENGINE =
//       ReplicatedMergeTree('/clickhouse/tables/{shard}/db.t', '{replica}') ORDER BY id
//   CREATE TABLE db.t ON CLUSTER tailtrace_test (id UInt64)
//       ENGINE = Distributed(tailtrace_test, db, t_local, id)
//   INSERT INTO db.t ... with insert_distributed_sync=1 and insert_quorum=2: on every shard
//       concerned, and on both of its replicas, once acknowledged.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/storage/clickhouse_server.h"
#include "tests/storage/zookeeper_server.h"

namespace tailtrace::storage::testing {

class ClickHouseCluster {
 public:
  // The cluster's name in <remote_servers>, for ON CLUSTER, Distributed(...) and cluster(...).
  static constexpr const char* kName = "tailtrace_test";
  static constexpr int kShards = 2;
  static constexpr int kReplicasPerShard = 2;

  // The test process's cluster, started at the first call (later calls return the same one, or
  // the same error). Fails (FailedPrecondition, saying to run `make deps`) when clickhouse-server,
  // java or ZooKeeper is missing, or when a server does not start (quoting its log). Call it
  // from the test's main thread: the servers are killed when the thread that started them exits.
  [[nodiscard]] static absl::StatusOr<ClickHouseCluster*> Shared();

  // A cluster of the caller's own, started (ZooKeeper first, then the four servers at once);
  // fails as Shared does. Main thread only.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseCluster>> Create();

  // Kills the servers, then ZooKeeper, and removes their directories.
  ~ClickHouseCluster();
  ClickHouseCluster(const ClickHouseCluster&) = delete;
  ClickHouseCluster& operator=(const ClickHouseCluster&) = delete;

  // The number of servers: kShards * kReplicasPerShard.
  int size() const { return static_cast<int>(servers_.size()); }
  // Server i, 0 <= i < size(): Stop, Start, Pause and Resume it alone to take a replica away
  // and bring it back (a restarted replica fetches what it missed from the other one; SYSTEM
  // SYNC REPLICA waits for that). Its Start also waits until its distributed DDL worker has a
  // ZooKeeper session (ClickHouse 18.16 crashes on an ON CLUSTER query before), so it fails
  // while ZooKeeper is down. Its server.log is at debug level.
  ClickHouseServer& server(int i) const { return *servers_.at(i); }
  // The shard of server i as system.clusters numbers it (shard_num): 1 or 2.
  static int shard_of(int i) { return i / kReplicasPerShard + 1; }
  // The {replica} macro of server i: "replica_<i>".
  static std::string replica_of(int i);
  ZooKeeperServer& zookeeper() const { return *zookeeper_; }

 private:
  ClickHouseCluster() = default;

  // Prepares the four servers on new ports, with config.d/cluster.xml, and starts them.
  absl::Status StartServers();
  // Server i's config.d/cluster.xml: tests/clickhouse/cluster.xml filled in.
  absl::StatusOr<std::string> ClusterConfig(int i) const;

  // Declared first so that it is destroyed last, after the servers that use it.
  std::unique_ptr<ZooKeeperServer> zookeeper_;
  std::vector<std::unique_ptr<ClickHouseServer>> servers_;
};

}  // namespace tailtrace::storage::testing
