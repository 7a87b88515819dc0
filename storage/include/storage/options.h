#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tailtrace::storage {

// Which span and resource attributes go into the search index (see trace_store.h, "Search").
struct IndexOptions {
  // Attribute keys and values (as stringified for the index) longer than this many bytes are not
  // indexed; a search on such a key or value is refused as InvalidArgument.
  // Default: 256
  size_t max_value_length = 256;
  // Attribute keys that are never indexed (exact, case-sensitive match); a search on one is
  // refused as InvalidArgument.
  // Default: none
  std::vector<std::string> exclude_keys;
};

// Where kept traces are stored.
enum class StorageBackend {
  kRocksDb,     // the embedded RocksDB store under StoreOptions::path
  kClickHouse,  // a ClickHouse server (StoreOptions::clickhouse)
};

// TLS towards ClickHouse (an https:// endpoint).
struct ClickHouseTlsOptions {
  // PEM CA bundle that verifies the server's certificate.
  // Default: "" (the system's roots)
  std::string ca_file;
  // PEM client certificate chain and key (mutual TLS); set together.
  // Default: "" (no client certificate)
  std::string cert_file;
  std::string key_file;
  // TLS without checking the server's certificate or name (test setups only).
  // Default: false
  bool insecure_skip_verify = false;
};

// Whether `name` may name a ClickHouse database, table prefix or cluster as the backend splices it
// into statements: [A-Za-z_][A-Za-z0-9_]* (a table prefix may also be empty, checked by callers).
inline bool IsClickHouseIdentifier(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '_') return false;
  }
  return true;
}

// storage.clickhouse: the ClickHouse backend (storage/clickhouse/).
struct ClickHouseOptions {
  // The server's HTTP interface: http://host:port or https://host:port.
  // Default: http://127.0.0.1:8123
  std::string endpoint = "http://127.0.0.1:8123";
  // The database holding tailtrace's tables; created with create_schema.
  // Default: tailtrace
  std::string database = "tailtrace";
  // Credentials (ClickHouse's HTTP authentication).
  // Default: "default" and ""
  std::string username = "default";
  std::string password;
  // Prefix of every table's name, so several deployments can share one database.
  // Default: "" (tables are named spans, span_index, ...)
  std::string table_prefix;
  // Data older than this is removed, by whole days (partitions dropped, never rows deleted).
  // 0 = storage.retention.
  // Default: 0
  int64_t ttl_ns = 0;
  // Writes gather into one INSERT until it holds this many spans ... (a write of as many goes at
  // once: each sampler shard has one write in flight, of at most 16384 spans, so a larger value
  // would make every write under load wait for flush_interval)
  // Default: 10000
  uint32_t batch_size = 10'000;
  // ... or its first write has waited this long (a write returns once its INSERT succeeded).
  // 0 = every write is its own INSERT.
  // Default: 1s
  int64_t flush_interval_ns = 1'000'000'000;
  // A request to the server that takes longer fails (and a write is retried).
  // Default: 30s
  int64_t timeout_ns = 30'000'000'000;
  // TLS (used with an https:// endpoint).
  ClickHouseTlsOptions tls;
  // Creates the database and tables at start when missing (CREATE ... IF NOT EXISTS). false: they
  // must exist (e.g. made by a DBA from docs/clickhouse.md).
  // Default: true
  bool create_schema = true;
  // A cluster name from the server's remote_servers: the tables are created ON CLUSTER, as
  // replicated local tables behind Distributed tables. "" = one server.
  // Default: ""
  std::string cluster;
  // With `cluster`: a write is acknowledged only once this many replicas of each shard it went
  // to hold it (ClickHouse's insert_quorum). 0 = once one replica holds it.
  // Default: 0
  uint32_t insert_quorum = 0;
};

struct StoreOptions {
  // Where kept traces are stored. The embedded RocksDB store is the default; ClickHouse is for
  // storage that outgrows one machine (README, "Storage").
  // Default: rocksdb
  StorageBackend backend = StorageBackend::kRocksDb;
  // The ClickHouse backend's options (with backend clickhouse).
  ClickHouseOptions clickhouse;
  // Directory of the RocksDB store; created if missing.
  // Default: ./data
  std::string path = "./data";
  // Traces are removed this long after they were first written, by whole time buckets (RocksDB
  // column families dropped at once, never a scan): a trace disappears between `retention_ns` and
  // `retention_ns` + one bucket width after its first write.
  // Default: 168h
  int64_t retention_ns = 168ll * 3600 * 1'000'000'000;
  // Span metric points (metric_points.h) are removed once their slot started this long ago.
  // 0 = retention_ns.
  // Default: 0
  int64_t metrics_retention_ns = 0;
  // Writes of traces count the dependency calls between their spans (trace_store.h, "Dependency
  // semantics"). False when another source adds them (WriteDependencyCalls from the service graph,
  // which counts every trace, not only kept ones): set from `metrics.enabled`.
  // Default: true
  bool dependencies_from_traces = true;
  // Time buckets per retention period: bucket width = retention_ns / retention_buckets. More
  // buckets return disk space in smaller steps but cost one more probe per trace lookup each.
  // Default: 7 (one bucket per day with the default retention)
  int retention_buckets = 7;
  // When the SST files of the store's buckets exceed this many bytes, whole buckets are dropped,
  // oldest first, before their retention ends (the bucket being written is never dropped). The
  // trace archive is neither counted nor dropped. 0 = no limit.
  // Default: 0
  uint64_t max_disk_bytes = 0;
  // How often a background thread enforces retention and max_disk_bytes (with the store's clock
  // deciding what is old). Retention is also enforced whenever a write opens a new bucket.
  // 0 = no background thread (tests call RocksTraceStore::EnforceRetentionForTest()).
  // Default: 60 s
  int64_t retention_check_interval_ms = 60'000;
  // What the search indexes hold.
  IndexOptions index;
  // Memory for the index state of recently written traces, so that a late chunk of such a trace
  // is indexed from that state instead of reading the whole trace back (a trace written in n
  // chunks then costs O(n), not O(n^2)). 0 = no cache.
  // Default: 64 MiB
  uint64_t trace_terms_cache_bytes = 64ull << 20;
  // An index segment (keys.h, "The search index") is sealed, i.e. written as posting lists, once
  // it holds this many traces ...
  // Default: 4096
  uint32_t index_segment_max_traces = 4096;
  // ... or once it is this old by the store clock (until then searches read it from memory).
  // Default: 5 s
  int64_t index_segment_max_age_ns = 5'000'000'000;
  // The most index keys one SuggestTags reads (each a seek or a step, trace_store.h "Tag suggestion
  // semantics"); then it answers what it found in the newest buckets read so far. Must be >= 1.
  // Default: 10000
  uint64_t tag_scan_max_keys = 10'000;
  // RocksDB block cache for data and index blocks.
  // Default: 256 MiB
  uint64_t block_cache_bytes = 256ull << 20;
  // RocksDB write buffer (memtable) size per column family.
  // Default: 64 MiB
  uint64_t write_buffer_bytes = 64ull << 20;
  // Free space kept on storage.path's file system: below it the store takes no write (it reports
  // itself unwritable, see TraceStore::WriteHealth) and does not open, so that RocksDB itself never
  // runs into a full disk (RocksDB 7.8 as Debian builds it aborts on a failed file write). 0 means
  // 2 x write_buffer_bytes + 8 MiB (room for the memtables' flush).
  // Default: 0
  uint64_t min_free_disk_bytes = 0;
  // Trace writes are synced to disk (RocksDB's WriteOptions::sync) before Write returns, so a
  // write survives a power loss; without it a write survives a crash of the process (it is in
  // RocksDB's log in the OS page cache). Set from the config's `wal.fsync`.
  // Default: false
  bool sync_writes = false;
  // Each write's spans go to a span block, column by column (storage/index/.../keys.h, "Span
  // blocks"); false stores them inline in their chunk, as stores of format version 3 do. Either
  // kind is read. Not a config key: for tests of stores written before span blocks, and to
  // measure one against the other.
  // Default: true
  bool span_blocks = true;
};

}  // namespace tailtrace::storage
