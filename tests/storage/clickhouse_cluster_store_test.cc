// ClickHouseTraceStore on a real cluster (storage.clickhouse.cluster): 2 shards of 2 replicas
// and a ZooKeeper (clickhouse_cluster.h). The search property test answers exactly as on one
// server; rows are sharded by trace and every acknowledged write is on both replicas of its
// shard (insert_quorum 2); retention drops the partitions of every shard and replica; a replica
// down leaves reads whole, refuses quorum writes as Unavailable until it is back, and does not
// stop a restart.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "tests/storage/clickhouse_cluster.h"
#include "tests/storage/clickhouse_test_store.h"
#include "tests/storage/search_property_fixture.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using testing::ClickHouseCluster;
using ::testing::HasSubstr;
using testing::MakeTraceId;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSec;
constexpr int64_t kT0 = 1'700'000'000 * kSec;

// The cluster of the test process, or a failed assertion.
ClickHouseCluster* Cluster() {
  absl::StatusOr<ClickHouseCluster*> cluster = ClickHouseCluster::Shared();
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *cluster : nullptr;
}

// A client of server `i`, with no database of its own.
std::unique_ptr<clickhouse::ClickHouseClient> ClientOf(ClickHouseCluster& cluster, int i) {
  ClickHouseOptions options;
  options.endpoint = cluster.server(i).endpoint();
  auto client = clickhouse::ClickHouseClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// `base` pointed at the cluster through server 0, in `database` (dropped ON CLUSTER first), with
// insert_quorum 2 and unbatched writes.
absl::StatusOr<StoreOptions> ClusterTestOptions(StoreOptions base, const std::string& database) {
  absl::StatusOr<ClickHouseCluster*> cluster = ClickHouseCluster::Shared();
  if (!cluster.ok()) return cluster.status();
  base.backend = StorageBackend::kClickHouse;
  base.clickhouse.endpoint = (*cluster)->server(0).endpoint();
  base.clickhouse.database = database;
  base.clickhouse.cluster = ClickHouseCluster::kName;
  base.clickhouse.insert_quorum = 2;
  // A quorum that cannot come fails within half of it (insert_quorum_timeout).
  base.clickhouse.timeout_ns = 6 * kSec;
  base.clickhouse.flush_interval_ns = 0;
  base.retention_check_interval_ms = 0;
  auto client = clickhouse::ClickHouseClient::Create(base.clickhouse);
  if (!client.ok()) return client.status();
  absl::StatusOr<std::string> dropped = (*client)->Execute(
      absl::StrCat("DROP DATABASE IF EXISTS ", database, " ON CLUSTER ", ClickHouseCluster::kName));
  if (!dropped.ok()) return dropped.status();
  return base;
}

using ClusterSearchPropertyTest = property::SearchPropertyTest;

TEST_P(ClusterSearchPropertyTest, TheClusterAnswersExactlyLikeTheBruteForceScan) {
  property::Random r(std::get<0>(GetParam()));
  auto options = ClusterTestOptions(options_, testing::TestDatabaseName());
  ASSERT_TRUE(options.ok()) << options.status();
  auto opened = ClickHouseTraceStore::Open(*options, &clock_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  CheckClickHouseStore(r, **opened);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ClusterSearchPropertyTest,
                         ::testing::Combine(::testing::Values(1u), ::testing::Values(false)),
                         [](const auto& info) {
                           return "seed" + std::to_string(std::get<0>(info.param));
                         });

class ClickHouseClusterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = Cluster();
    ASSERT_NE(cluster_, nullptr);
    StoreOptions base;
    base.retention_ns = 3 * kDay;
    auto options = ClusterTestOptions(base, testing::TestDatabaseName());
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *std::move(options);
    Reopen();
  }

  void TearDown() override {
    // A test that stopped a server brings it back for the next one.
    for (int i = 0; i < cluster_->size(); ++i) {
      EXPECT_TRUE(cluster_->server(i).Start().ok()) << i;
    }
  }

  void Reopen() {
    store_.reset();
    auto opened = ClickHouseTraceStore::Open(options_, &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }

  // Traces 1..n of one span each, in one write (one INSERT: every shard or none).
  absl::Status WriteTraces(uint64_t first, uint64_t n) {
    std::vector<TracesData> data;
    std::vector<TraceWrite> writes;
    data.reserve(n);
    for (uint64_t i = first; i < first + n; ++i) {
      data.push_back(BuildChunk(MakeTraceId(7, i), {{.span_id = i}}));
    }
    for (uint64_t i = 0; i < n; ++i) {
      writes.push_back(TraceWrite{MakeTraceId(7, first + i), &data[i], "", 1.0, {}});
    }
    return store_->Write(writes);
  }

  // count() of `table` (without the database) on server `i` alone.
  int64_t CountOn(int i, const std::string& table) {
    auto client = ClientOf(*cluster_, i);
    if (client == nullptr) return -1;
    absl::StatusOr<std::string> count = client->Execute(absl::StrCat(
        "SELECT count() FROM ", options_.clickhouse.database, ".", table, " FORMAT TabSeparated"));
    EXPECT_TRUE(count.ok()) << count.status();
    int64_t n = -1;
    if (count.ok()) EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*count), &n));
    return n;
  }

  void ExpectWhole(uint64_t first, uint64_t n) {
    for (uint64_t i = first; i < first + n; ++i) {
      auto trace = store_->GetTrace(MakeTraceId(7, i));
      ASSERT_TRUE(trace.ok()) << trace.status();
      ASSERT_TRUE(trace->has_value()) << i;
      EXPECT_EQ(SpanCountOf((*trace)->data), 1u) << i;
    }
  }

  ClickHouseCluster* cluster_ = nullptr;
  StoreOptions options_;
  FakeClock clock_{kT0};
  std::unique_ptr<ClickHouseTraceStore> store_;
};

TEST_F(ClickHouseClusterStoreTest, RowsAreShardedByTraceAndOnBothReplicasOnceAcknowledged) {
  ASSERT_TRUE(WriteTraces(1, 40).ok());
  // Servers 0 and 1 are shard 1's replicas, 2 and 3 shard 2's.
  const int64_t shard1 = CountOn(0, "spans_local");
  const int64_t shard2 = CountOn(2, "spans_local");
  EXPECT_GT(shard1, 0);
  EXPECT_GT(shard2, 0);
  EXPECT_EQ(shard1 + shard2, 40);
  // insert_quorum 2: the write returned once both replicas held it.
  EXPECT_EQ(CountOn(1, "spans_local"), shard1);
  EXPECT_EQ(CountOn(3, "spans_local"), shard2);
  EXPECT_EQ(CountOn(1, "span_index_local") + CountOn(3, "span_index_local"), 40);
  EXPECT_EQ(CountOn(3, "spans"), 40);  // the Distributed table, from any server
  ExpectWhole(1, 40);
}

TEST_F(ClickHouseClusterStoreTest, RetentionDropsTheDaysOfEveryShardAndReplica) {
  ASSERT_TRUE(WriteTraces(1, 20).ok());
  clock_.Advance(2 * kDay);
  ASSERT_TRUE(WriteTraces(21, 20).ok());
  clock_.Advance(2 * kDay);
  ASSERT_TRUE(store_->EnforceRetentionForTest().ok());
  EXPECT_GT(store_->Stats().buckets_dropped, 0u);
  for (int i = 0; i < cluster_->size(); ++i) {
    auto client = ClientOf(*cluster_, i);
    ASSERT_NE(client, nullptr);
    // Replicas drop a partition when they fetch the drop from ZooKeeper's log.
    for (const char* table : {"spans_local", "span_index_local", "traces_local"}) {
      ASSERT_TRUE(client
                      ->Execute(absl::StrCat("SYSTEM SYNC REPLICA ", options_.clickhouse.database,
                                             ".", table))
                      .ok());
    }
  }
  EXPECT_EQ(CountOn(0, "spans_local") + CountOn(2, "spans_local"), 20);
  EXPECT_EQ(CountOn(1, "spans_local") + CountOn(3, "spans_local"), 20);
  EXPECT_EQ(CountOn(1, "traces_local") + CountOn(3, "traces_local"), 20);
  EXPECT_FALSE(store_->GetTrace(MakeTraceId(7, 1))->has_value());
  ExpectWhole(21, 20);
}

TEST_F(ClickHouseClusterStoreTest, AReplicaDownLeavesReadsWholeAndRefusesQuorumWritesUntilBack) {
  ASSERT_TRUE(WriteTraces(1, 20).ok());
  cluster_->server(1).Stop();
  // The other replica of shard 1 answers for it.
  ExpectWhole(1, 20);
  TraceQuery q;
  q.service = "svc";
  q.limit = 100;
  auto found = store_->FindTraces(q);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->size(), 20u);
  // Shard 1 cannot reach its quorum of 2: the write fails as retryable, naming the quorum.
  absl::Status refused = WriteTraces(21, 20);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("quorum")) << refused;
  EXPECT_EQ(store_->WriteHealth().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(cluster_->server(1).Start().ok());
  // The pipeline writes the refused traces again: stored once, though part of the first try
  // may have reached shard 2.
  ASSERT_TRUE(WriteTraces(21, 20).ok());
  EXPECT_TRUE(store_->WriteHealth().ok());
  ExpectWhole(1, 40);
}

TEST_F(ClickHouseClusterStoreTest, AStoreReopensWhileAServerIsDown) {
  ASSERT_TRUE(WriteTraces(1, 10).ok());
  // DDL ON CLUSTER would wait for the stopped server; the schema exists, so none is sent.
  cluster_->server(3).Stop();
  options_.clickhouse.insert_quorum = 0;
  Reopen();
  ExpectWhole(1, 10);
  // Without a quorum, shard 2's remaining replica takes writes alone.
  ASSERT_TRUE(WriteTraces(11, 10).ok());
  ExpectWhole(1, 20);
}

}  // namespace
}  // namespace tailtrace::storage
