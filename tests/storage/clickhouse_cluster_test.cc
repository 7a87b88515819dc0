// The ClickHouse cluster harness (clickhouse_cluster.h) against itself: every server sees the
// cluster of 2 shards of 2 replicas; ON CLUSTER DDL, ReplicatedMergeTree tables behind
// Distributed ones and quorum inserts work; each shard's replicas hold the same rows; a replica
// that was stopped catches up when started again; a paused server answers once resumed.
// One process, one cluster (ClickHouseCluster::Shared) for every test of this binary.

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clickhouse_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/clickhouse_cluster.h"

namespace tailtrace::storage {
namespace {

using clickhouse::ClickHouseClient;
using testing::ClickHouseCluster;

constexpr int64_t kSecondNs = 1'000'000'000;
// Writes through a Distributed table reach every shard before they are acknowledged, and on
// both replicas of each.
const ClickHouseClient::Settings kQuorumInsert = {{"insert_distributed_sync", "1"},
                                                  {"insert_quorum", "2"}};

class ClickHouseClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ClickHouseCluster*> cluster = ClickHouseCluster::Shared();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *cluster;
    // A test that stopped or paused a server and failed before bringing it back.
    for (int i = 0; i < cluster_->size(); ++i) {
      cluster_->server(i).Resume();
      ASSERT_TRUE(cluster_->server(i).Start().ok()) << "server " << i;
    }
  }

  // A client of server i; requests time out after `timeout_ns`.
  std::unique_ptr<ClickHouseClient> Client(int i, int64_t timeout_ns = 60 * kSecondNs) {
    ClickHouseOptions options;
    options.endpoint = cluster_->server(i).endpoint();
    options.timeout_ns = timeout_ns;
    absl::StatusOr<std::unique_ptr<ClickHouseClient>> client = ClickHouseClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Runs `statement` on server i, which must succeed, and returns its output.
  std::string Run(int i, std::string_view statement,
                  const ClickHouseClient::Settings& settings = {}) {
    std::unique_ptr<ClickHouseClient> client = Client(i);
    if (client == nullptr) return "";
    absl::StatusOr<std::string> out = client->Execute(statement, {}, settings);
    EXPECT_TRUE(out.ok()) << "server " << i << ": " << statement << ": " << out.status();
    return out.ok() ? *out : "";
  }

  // Database `db` made anew ON CLUSTER, with db.t_local, a ReplicatedMergeTree of (id UInt64)
  // on every server, and db.t, a Distributed table over it sharded by id (even ids in shard 1,
  // odd ones in shard 2).
  void CreateTables(const std::string& db) {
    const std::string on_cluster = absl::StrCat(" ON CLUSTER ", ClickHouseCluster::kName);
    Run(0, absl::StrCat("DROP DATABASE IF EXISTS ", db, on_cluster));
    Run(0, absl::StrCat("CREATE DATABASE ", db, on_cluster));
    Run(0, absl::StrCat("CREATE TABLE ", db, ".t_local", on_cluster,
                        " (id UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/",
                        db, ".t', '{replica}') ORDER BY id"));
    Run(0, absl::StrCat("CREATE TABLE ", db, ".t", on_cluster, " (id UInt64) ENGINE = Distributed(",
                        ClickHouseCluster::kName, ", ", db, ", t_local, id)"));
  }

  // "count\tsum\n" of the ids in `table` on server i.
  std::string CountAndSum(int i, const std::string& table) {
    return Run(i, absl::StrCat("SELECT count(), sum(id) FROM ", table, " FORMAT TabSeparated"));
  }

  ClickHouseCluster* cluster_ = nullptr;
};

TEST_F(ClickHouseClusterTest, EveryServerListsTheFourReplicasOfTheCluster) {
  ASSERT_EQ(cluster_->size(), 4);
  std::string expected;
  for (int i = 0; i < cluster_->size(); ++i) {
    absl::StrAppend(&expected, cluster_->shard_of(i), "\t", i % 2 + 1, "\t127.0.0.1\t",
                    cluster_->server(i).tcp_port(), "\n");
  }
  for (int i = 0; i < cluster_->size(); ++i) {
    EXPECT_EQ(Run(i, absl::StrCat("SELECT shard_num, replica_num, host_address, port "
                                  "FROM system.clusters WHERE cluster = '",
                                  ClickHouseCluster::kName,
                                  "' ORDER BY shard_num, replica_num FORMAT TabSeparated")),
              expected)
        << "server " << i;
    EXPECT_EQ(Run(i,
                  "SELECT macro, substitution FROM system.macros ORDER BY macro "
                  "FORMAT TabSeparated"),
              absl::StrCat("replica\t", ClickHouseCluster::replica_of(i), "\nshard\t",
                           absl::StrFormat("%02d", cluster_->shard_of(i)), "\n"))
        << "server " << i;
    // Its ZooKeeper session works.
    EXPECT_EQ(Run(i,
                  "SELECT count() > 0 FROM system.zookeeper WHERE path = '/' "
                  "FORMAT TabSeparated"),
              "1\n")
        << "server " << i;
  }
}

TEST_F(ClickHouseClusterTest, QuorumInsertsThroughADistributedTableReachBothReplicasOfTheirShard) {
  CreateTables("harness_quorum");
  Run(0, "INSERT INTO harness_quorum.t SELECT number FROM system.numbers LIMIT 100", kQuorumInsert);

  // Whole through every server; in shard 1 the even ids 0..98, in shard 2 the odd ones.
  for (int i = 0; i < cluster_->size(); ++i) {
    EXPECT_EQ(CountAndSum(i, "harness_quorum.t"), "100\t4950\n") << "server " << i;
    EXPECT_EQ(CountAndSum(i, "harness_quorum.t_local"),
              cluster_->shard_of(i) == 1 ? "50\t2450\n" : "50\t2500\n")
        << "server " << i;
  }
  EXPECT_EQ(Run(2, absl::StrCat("SELECT count() FROM cluster('", ClickHouseCluster::kName,
                                "', harness_quorum, t_local) FORMAT TabSeparated")),
            "100\n");
}

TEST_F(ClickHouseClusterTest, AStoppedReplicaCatchesUpWhenStartedAgain) {
  CreateTables("harness_catch_up");
  cluster_->server(1).Stop();
  ASSERT_FALSE(cluster_->server(1).running());

  // Without a quorum: shard 1's rows go to server 0, its only replica up.
  Run(0, "INSERT INTO harness_catch_up.t SELECT number FROM system.numbers LIMIT 100",
      {{"insert_distributed_sync", "1"}});
  EXPECT_EQ(CountAndSum(0, "harness_catch_up.t_local"), "50\t2450\n");

  ASSERT_TRUE(cluster_->server(1).Start().ok());
  Run(1, "SYSTEM SYNC REPLICA harness_catch_up.t_local");
  EXPECT_EQ(CountAndSum(1, "harness_catch_up.t_local"), "50\t2450\n");
  EXPECT_EQ(CountAndSum(1, "harness_catch_up.t"), "100\t4950\n");
}

TEST_F(ClickHouseClusterTest, APausedServerAnswersOnceResumed) {
  cluster_->server(3).Pause();
  std::unique_ptr<ClickHouseClient> client = Client(3, kSecondNs);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> frozen = client->Execute("SELECT 1 FORMAT TabSeparated");
  EXPECT_EQ(frozen.status().code(), absl::StatusCode::kUnavailable) << frozen.status();

  cluster_->server(3).Resume();
  EXPECT_EQ(Run(3, "SELECT 1 FORMAT TabSeparated"), "1\n");
}

}  // namespace
}  // namespace tailtrace::storage
