// ClickHouseTraceStore: opening, writing, retention and health. Reads: clickhouse_read.cc.

#include "storage/clickhouse/clickhouse_trace_store.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clickhouse_client.h"
#include "clickhouse_rows.h"
#include "clickhouse_sql.h"
#include "insert_batcher.h"
#include "retried_writes.h"
#include "schema.h"
#include "spdlog/spdlog.h"

namespace tailtrace::storage {
namespace {

using clickhouse::ClickHouseClient;
using opentelemetry::proto::trace::v1::TracesData;

absl::Status ValidateNames(const ClickHouseOptions& o) {
  if (!IsClickHouseIdentifier(o.database)) {
    return absl::InvalidArgumentError(absl::StrCat("storage.clickhouse.database: \"", o.database,
                                                   "\" is not a name ([A-Za-z_][A-Za-z0-9_]*)"));
  }
  if (!o.table_prefix.empty() && !IsClickHouseIdentifier(o.table_prefix)) {
    return absl::InvalidArgumentError(absl::StrCat("storage.clickhouse.table_prefix: \"",
                                                   o.table_prefix,
                                                   "\" is not a name ([A-Za-z_][A-Za-z0-9_]*)"));
  }
  if (!o.cluster.empty() && !IsClickHouseIdentifier(o.cluster)) {
    return absl::InvalidArgumentError(absl::StrCat("storage.clickhouse.cluster: \"", o.cluster,
                                                   "\" is not a name ([A-Za-z_][A-Za-z0-9_]*)"));
  }
  if (o.insert_quorum > 0 && o.cluster.empty()) {
    return absl::InvalidArgumentError(
        "storage.clickhouse.insert_quorum: needs storage.clickhouse.cluster (a quorum counts "
        "the replicas of a shard's replicated tables)");
  }
  return absl::OkStatus();
}

// Whether every table and view of the schema exists on the server (SchemaObjectNames).
absl::StatusOr<bool> SchemaExists(ClickHouseClient& client, const ClickHouseOptions& o) {
  std::vector<std::string> names;
  for (const std::string& name : clickhouse::SchemaObjectNames(o)) {
    names.push_back(clickhouse::Quote(name));
  }
  absl::StatusOr<std::string> count = client.Execute(absl::StrCat(
      "SELECT count() FROM system.tables WHERE database = ", clickhouse::Quote(o.database),
      " AND name IN (", absl::StrJoin(names, ", "), ") FORMAT TabSeparated"));
  if (!count.ok()) return count.status();
  return absl::StripAsciiWhitespace(*count) == std::to_string(names.size());
}

// Creates what is missing. A schema that exists is left alone, so that on a cluster a restart
// does not wait for every server to answer DDL ON CLUSTER (one may be down).
absl::Status CreateSchema(ClickHouseClient& client, const ClickHouseOptions& o) {
  absl::StatusOr<bool> exists = SchemaExists(client, o);
  if (!exists.ok() || *exists) return exists.status();
  for (const std::string& statement : clickhouse::SchemaStatements(o)) {
    absl::StatusOr<std::string> done = client.Execute(statement);
    if (!done.ok()) {
      return absl::Status(done.status().code(),
                          absl::StrCat("creating the schema: ", done.status().message()));
    }
  }
  return absl::OkStatus();
}

// An INSERT with insert_quorum met another one under way (UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE:
// "Another quorum insert has been already started", "Quorum for previous write has not been
// satisfied yet"). It is sent again up to this many times in all, after a growing pause: about
// 3 s in all, a few quorum INSERTs' time. A previous one that waits for a replica that is down
// takes up to insert_quorum_timeout: the write then fails, and is written again later.
constexpr int kQuorumBusyCode = 286;
constexpr int kQuorumBusyAttempts = 12;

std::chrono::milliseconds QuorumBusyBackoff(int attempt) {
  static thread_local std::minstd_rand jitter(std::random_device{}());
  const int64_t base_ms = int64_t{10} << std::min(attempt - 1, 5);  // 10 ms .. 320 ms
  return std::chrono::milliseconds(base_ms / 2 + static_cast<int64_t>(jitter() % base_ms));
}

// Failed writes remembered for their next attempt (retried_writes.h): about 100 bytes each.
constexpr size_t kMaxRetriedWrites = 1'000'000;

int64_t TtlNs(const StoreOptions& o) {
  return o.clickhouse.ttl_ns > 0 ? o.clickhouse.ttl_ns : o.retention_ns;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClickHouseTraceStore>> ClickHouseTraceStore::Open(
    const StoreOptions& options, Clock* clock) {
  if (absl::Status s = ValidateNames(options.clickhouse); !s.ok()) return s;
  auto client = ClickHouseClient::Create(options.clickhouse, /*max_idle_connections=*/4,
                                         clickhouse::SessionSettings(options.clickhouse));
  if (!client.ok()) return client.status();
  absl::StatusOr<std::string> version = (*client)->Execute("SELECT version() FORMAT TabSeparated");
  if (!version.ok()) {
    return absl::Status(version.status().code(),
                        absl::StrCat("cannot reach ClickHouse at ", options.clickhouse.endpoint,
                                     ": ", version.status().message()));
  }
  if (options.clickhouse.create_schema) {
    if (absl::Status s = CreateSchema(**client, options.clickhouse); !s.ok()) return s;
  }
  std::unique_ptr<ClickHouseTraceStore> store(
      new ClickHouseTraceStore(options, clock, *std::move(client)));
  store->server_version_ = std::string(absl::StripAsciiWhitespace(*version));
  spdlog::info("storage: ClickHouse {} at {}, database {}", store->server_version_,
               options.clickhouse.endpoint, options.clickhouse.database);
  return store;
}

ClickHouseTraceStore::ClickHouseTraceStore(const StoreOptions& options, Clock* clock,
                                           std::unique_ptr<ClickHouseClient> client)
    : options_(options),
      clock_(clock),
      client_(std::move(client)),
      tables_(
          std::make_unique<clickhouse::TableNames>(clickhouse::TableNamesOf(options.clickhouse))),
      retried_(std::make_unique<clickhouse::RetriedWrites>(kMaxRetriedWrites)),
      write_id_salt_(std::random_device{}() & 0xfff) {
  batcher_ = std::make_unique<clickhouse::InsertBatcher>(
      clickhouse::InsertBatcher::Options{options.clickhouse.batch_size,
                                         options.clickhouse.flush_interval_ns},
      clock, [this](std::string_view rows) { return Insert(rows); });
  if (options.retention_check_interval_ms > 0) {
    retention_thread_ = std::thread([this] { RetentionLoop(); });
  }
}

ClickHouseTraceStore::~ClickHouseTraceStore() {
  {
    std::lock_guard lock(retention_mu_);
    stopping_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();
}

uint64_t ClickHouseTraceStore::NextWriteId() {
  // Ticks of 4096 ns, never repeated by this store; the salt tells stores apart.
  const uint64_t now = static_cast<uint64_t>(std::max<int64_t>(clock_->UnixNanos(), 0)) >> 12;
  uint64_t last = last_write_tick_.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = std::max(now, last + 1);
  } while (!last_write_tick_.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return (next << 12) | write_id_salt_;
}

absl::Status ClickHouseTraceStore::Write(std::span<const TraceWrite> traces) {
  std::deque<TracesData> parsed;
  absl::StatusOr<std::vector<const TracesData*>> data = SpansOfWrites(traces, &parsed);
  if (!data.ok()) return data.status();
  // Writes that failed before are written again with their IDs (retried_writes.h).
  const bool retrying = retried_->any();
  std::vector<clickhouse::RetriedWrites::Key> keys;
  std::vector<uint64_t> ids;
  const uint16_t day = clickhouse::DayOf(clock_->UnixNanos());
  std::string rows;
  uint64_t spans = 0;
  uint64_t written = 0;
  for (size_t i = 0; i < traces.size(); ++i) {
    uint64_t id = 0;
    if (retrying) {
      keys.push_back(clickhouse::RetriedWrites::KeyOf(traces[i], *(*data)[i]));
      id = retried_->IdOf(keys.back());
    }
    ids.push_back(id != 0 ? id : NextWriteId());
    const clickhouse::WriteRowsContext ctx{day, ids.back(), &options_.index};
    const uint64_t n = clickhouse::AppendInputRows(traces[i], *(*data)[i], ctx, &rows);
    spans += n;
    written += n > 0 ? 1 : 0;
  }
  if (spans == 0) return absl::OkStatus();
  absl::Status status = batcher_->Submit(rows, spans);
  SetWriteHealth(status);
  if (!status.ok()) {
    if (!retrying) {
      for (size_t i = 0; i < traces.size(); ++i) {
        keys.push_back(clickhouse::RetriedWrites::KeyOf(traces[i], *(*data)[i]));
      }
    }
    retried_->Failed(keys, ids);
    return status;
  }
  if (retrying) retried_->Succeeded(keys);
  traces_written_.fetch_add(written, std::memory_order_relaxed);
  spans_written_.fetch_add(spans, std::memory_order_relaxed);
  return absl::OkStatus();
}

void ClickHouseTraceStore::SetWriteHealth(const absl::Status& insert) {
  std::lock_guard lock(health_mu_);
  write_health_ = insert.ok() ? absl::OkStatus()
                              : absl::UnavailableError(absl::StrCat(
                                    "the last INSERT into ClickHouse failed: ", insert.message()));
}

absl::Status ClickHouseTraceStore::Insert(std::string_view rows) {
  return InsertInto(tables_->input, rows);
}

absl::Status ClickHouseTraceStore::InsertInto(
    const std::string& table, std::string_view rows,
    const std::vector<std::pair<std::string, std::string>>& settings) {
  const std::string statement = absl::StrCat("INSERT INTO ", table, " FORMAT RowBinary");
  std::unique_lock<std::mutex> one_at_a_time(quorum_insert_mu_, std::defer_lock);
  if (options_.clickhouse.insert_quorum > 0) one_at_a_time.lock();
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::string> done = client_->Execute(statement, rows, settings);
    if (done.ok()) return absl::OkStatus();
    if (attempt == kQuorumBusyAttempts ||
        ClickHouseClient::ErrorCode(done.status()) != kQuorumBusyCode) {
      return done.status();
    }
    std::this_thread::sleep_for(QuorumBusyBackoff(attempt));
  }
}

absl::StatusOr<std::string> ClickHouseTraceStore::Query(const std::string& statement) {
  return client_->Execute(statement);
}

absl::Status ClickHouseTraceStore::WriteHealth() const {
  std::lock_guard lock(health_mu_);
  return write_health_;
}

StoreStats ClickHouseTraceStore::Stats() const {
  StoreStats stats;
  stats.traces_written = traces_written_.load(std::memory_order_relaxed);
  stats.spans_written = spans_written_.load(std::memory_order_relaxed);
  stats.buckets_dropped = partitions_dropped_.load(std::memory_order_relaxed);
  return stats;
}

absl::Status ClickHouseTraceStore::EnforceRetention() {
  const int64_t now = clock_->UnixNanos();
  const int64_t metrics_ns =
      options_.metrics_retention_ns > 0 ? options_.metrics_retention_ns : TtlNs(options_);
  if (absl::Status s = DropDaysBefore(tables_->partitioned_by_trace_ttl,
                                      clickhouse::DayOf(now - TtlNs(options_)));
      !s.ok()) {
    return s;
  }
  return DropDaysBefore({tables_->stored_metric_points}, clickhouse::DayOf(now - metrics_ns));
}

absl::Status ClickHouseTraceStore::DropDaysBefore(const std::vector<std::string>& tables,
                                                  uint16_t keep_from) {
  std::vector<std::string> names;
  for (const std::string& t : tables) {
    names.push_back(clickhouse::Quote(t.substr(t.find('.') + 1)));
  }
  absl::StatusOr<std::string> parts = Query(absl::StrCat(
      "SELECT DISTINCT table, partition_id FROM ", clickhouse::PartsTable(options_.clickhouse),
      " WHERE active AND database = ", clickhouse::Quote(options_.clickhouse.database),
      " AND table IN (", absl::StrJoin(names, ", "), ") AND partition_id < ",
      clickhouse::Quote(clickhouse::PartitionIdOf(keep_from)), " FORMAT TabSeparated"));
  if (!parts.ok()) return parts.status();
  for (absl::string_view line : absl::StrSplit(*parts, '\n', absl::SkipEmpty())) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 2) continue;
    absl::StatusOr<std::string> dropped =
        Query(absl::StrCat("ALTER TABLE ", options_.clickhouse.database, ".", fields[0],
                           clickhouse::OnCluster(options_.clickhouse), " DROP PARTITION ID ",
                           clickhouse::Quote(std::string(fields[1]))));
    if (!dropped.ok()) return dropped.status();
    partitions_dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

void ClickHouseTraceStore::RetentionLoop() {
  std::unique_lock lock(retention_mu_);
  while (!stopping_) {
    lock.unlock();
    if (absl::Status s = EnforceRetention(); !s.ok()) {
      spdlog::warn("storage: ClickHouse retention failed, will retry: {}",
                   std::string(s.message()));
    }
    lock.lock();
    retention_cv_.wait_for(lock, std::chrono::milliseconds(options_.retention_check_interval_ms),
                           [this] { return stopping_; });
  }
}

}  // namespace tailtrace::storage
