#pragma once

// A TraceStore on a ClickHouse server (storage.backend: clickhouse), over its HTTP interface.
// Its answers are those of every TraceStore (trace_store.h); the search property test runs it
// against InMemoryTraceStore as it runs RocksTraceStore. The tables and how they answer each
// query: storage/clickhouse/schema.h and docs/clickhouse.md.
//
// Writes: each Write is one batch of RowBinary rows; concurrent writes gather into one INSERT
// (ClickHouseOptions::batch_size, flush_interval) and Write returns once that INSERT succeeded.
// A failed INSERT fails every Write it carried (Unavailable when it may succeed later: the
// pipeline keeps the traces and writes them again) and makes WriteHealth report it until an
// INSERT succeeds again, so that receivers push back on clients meanwhile. A failed write made
// again carries its first attempt's write IDs, so that rows an INSERT stored although it seemed
// to fail (a timeout) are read once (clickhouse/retried_writes.h).
//
// Retention: whole days. Once a day (by the store clock, in UTC) ended more than `ttl` (else
// StoreOptions::retention_ns) ago, its partitions are dropped: a trace is removed between ttl and
// ttl + 1 day after it was written; span metrics points by the day of their slot, after
// StoreOptions::metrics_retention_ns (else the same ttl). The archive is never removed.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"
#include "storage/options.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

namespace clickhouse {
class ClickHouseClient;
class InsertBatcher;
class RetriedWrites;
struct TableNames;
}  // namespace clickhouse

// Thread-safe.
class ClickHouseTraceStore final : public TraceStore {
 public:
  // Connects to options.clickhouse.endpoint and, with create_schema, creates the database and
  // tables that are missing. Unavailable when the server cannot be reached; InvalidArgument for
  // options it refuses (naming the storage.clickhouse key) or statements the server refuses.
  // `clock` is not owned and must outlive the store.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseTraceStore>> Open(
      const StoreOptions& options, Clock* clock);
  ~ClickHouseTraceStore() override;

  absl::Status Write(std::span<const TraceWrite> traces) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTraceUpTo(const TraceId& id,
                                                          uint64_t max_spans) override;
  absl::StatusOr<std::vector<std::string>> GetServices() override;
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind) override;
  absl::StatusOr<std::vector<TraceSummary>> FindTraces(const TraceQuery& query) override;
  // Exact: reads every matching span's tags (no tag_scan_max_keys bound).
  absl::StatusOr<std::vector<std::string>> SuggestTags(const TagSuggestionQuery& query) override;
  absl::StatusOr<std::vector<DependencyLink>> GetDependencies(int64_t end_ns,
                                                              int64_t lookback_ns) override;
  absl::Status WriteDependencyCalls(std::span<const DependencyCalls> calls) override;
  absl::Status WriteMetricPoints(std::span<const MetricPoint> points) override;
  absl::StatusOr<std::vector<MetricPoint>> ReadMetricPoints(const MetricPointQuery& query) override;
  absl::Status ArchiveTrace(const StoredTrace& trace) override;
  absl::StatusOr<std::optional<StoredTrace>> GetArchivedTrace(const TraceId& id) override;
  // Every INSERT has completed when Write returned: nothing to flush.
  absl::Status Flush() override { return absl::OkStatus(); }
  StoreStats Stats() const override;
  absl::Status WriteHealth() const override;

  // Drops the partitions retention removes now (the background thread's work, for tests run
  // with StoreOptions::retention_check_interval_ms 0).
  [[nodiscard]] absl::Status EnforceRetentionForTest() { return EnforceRetention(); }
  // The server's version, as it answered at Open ("18.16.1", "24.8.4.13", ...).
  const std::string& server_version() const { return server_version_; }

 private:
  ClickHouseTraceStore(const StoreOptions& options, Clock* clock,
                       std::unique_ptr<clickhouse::ClickHouseClient> client);

  // The batcher's INSERT into `input`.
  absl::Status Insert(std::string_view rows);
  // One INSERT of RowBinary `rows` into `table` (qualified), with `settings` of its own. With
  // insert_quorum, this store sends one at a time, and sends it again while ClickHouse answers
  // that another quorum INSERT into the table is under way: releases before 20.10 take one at a
  // time per shard (code 286). The same bytes make the same blocks, which replicated tables
  // skip where the first attempt stored them.
  absl::Status InsertInto(const std::string& table, std::string_view rows,
                          const std::vector<std::pair<std::string, std::string>>& settings = {});
  // Unwritable while the last INSERT failed (WriteHealth).
  void SetWriteHealth(const absl::Status& insert);
  // The next write ID: increasing with time, and with this store's random salt in its low bits.
  uint64_t NextWriteId();
  absl::Status EnforceRetention();
  // Drops the partitions of `tables` (qualified names) of the days before `keep_from`.
  absl::Status DropDaysBefore(const std::vector<std::string>& tables, uint16_t keep_from);
  void RetentionLoop();
  absl::StatusOr<std::string> Query(const std::string& statement);
  absl::StatusOr<std::optional<StoredTrace>> ReadTrace(const TraceId& id, uint64_t max_spans);

  const StoreOptions options_;
  Clock* const clock_;
  const std::unique_ptr<clickhouse::ClickHouseClient> client_;
  const std::unique_ptr<clickhouse::TableNames> tables_;
  std::unique_ptr<clickhouse::InsertBatcher> batcher_;
  const std::unique_ptr<clickhouse::RetriedWrites> retried_;
  std::string server_version_;
  const uint64_t write_id_salt_;

  std::atomic<uint64_t> last_write_tick_{0};
  std::atomic<uint64_t> traces_written_{0};
  std::atomic<uint64_t> spans_written_{0};
  std::atomic<uint64_t> partitions_dropped_{0};
  std::mutex quorum_insert_mu_;  // held by InsertInto with insert_quorum
  mutable std::mutex health_mu_;
  absl::Status write_health_ ABSL_GUARDED_BY(health_mu_);

  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool stopping_ ABSL_GUARDED_BY(retention_mu_) = false;
  std::thread retention_thread_;
};

}  // namespace tailtrace::storage
