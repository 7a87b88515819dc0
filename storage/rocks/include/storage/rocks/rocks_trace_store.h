#pragma once

// The production TraceStore: an embedded RocksDB database in StoreOptions::path. The key layout is
// documented in storage/index/keys.h. RocksDB headers stay out of this header.
//
// Durability: every Write goes through the write-ahead log before it returns OK, so acknowledged
// spans survive a crash of the process (the WAL is not fsynced per write: a power loss may lose
// the last writes since the most recent Flush() or background flush).
//
// Retention: traces are stored in time buckets (one column family each) by the store clock's time
// of their first write; bucket width = retention_ns / retention_buckets. A bucket is dropped whole
// once its end is retention_ns in the past, or earlier (oldest first, never the newest) while the
// SST files of the buckets exceed max_disk_bytes. The archive (ArchiveTrace) is kept apart from
// the buckets and never expires. Retention runs at Open, whenever a write opens a new bucket,
// and every retention_check_interval_ms on a background thread; it never scans keys.
//
// Writes: one WriteBatch per Write call holding, per trace, the span chunk, the merged summary,
// the dependency count deltas and an index segment marker, so that summary and calls are always
// exactly those of the whole trace. The trace's complete set of index streams then goes to an open
// index segment of its bucket (keys.h, "The search index"), which searches read from memory until
// it is sealed: written as one trace table and one posting list per stream, when it holds 4096
// traces, is 5 s old (store clock), on Flush() and on Close(). A crash loses no index entry: Open
// re-indexes the traces whose markers no seal removed. A late chunk of a trace already stored
// continues from the trace's index state (TraceTermsBuilder) kept in memory for recently written
// traces (StoreOptions::trace_terms_cache_bytes), or else reads the trace's earlier chunks (one
// prefix scan) to rebuild it. Writes of the same trace ID are serialized; writes of different
// traces run concurrently.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "common/clock.h"
#include "storage/index/index_segments.h"
#include "storage/options.h"
#include "storage/trace_store.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class Snapshot;
class Status;
}  // namespace rocksdb

namespace tailtrace::storage {

class RocksBucket;
struct RocksBucketOptions;
struct RocksConfig;
class TraceTermsCache;

// Thread-safe, except that Close() (and destruction) must not run concurrently with other calls.
class RocksTraceStore final : public TraceStore {
 public:
  // Opens (creating if missing) the store at options.path. `clock` is not owned and must outlive
  // the store. Errors: InvalidArgument for impossible options (naming the option);
  // FailedPrecondition when the path is a regular file, another process (or another store in this
  // process) holds the RocksDB LOCK, or the directory holds another store format version;
  // PermissionDenied when the directory cannot be created or written; DataLoss for a corrupt
  // database; each naming the path.
  // Unavailable when the file system refuses (disk full, out of file descriptors), naming the
  // path and the cause.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RocksTraceStore>> Open(
      const StoreOptions& options, Clock* clock);
  // As above, with RocksDB's file access through `env` (not owned, must outlive the store;
  // nullptr means the default): tests inject file system faults with it.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RocksTraceStore>> Open(
      const StoreOptions& options, Clock* clock, rocksdb::Env* env);

  // Closes the database if Close() was not called.
  ~RocksTraceStore() override;

  RocksTraceStore(const RocksTraceStore&) = delete;
  RocksTraceStore& operator=(const RocksTraceStore&) = delete;

  absl::Status Write(std::span<const TraceWrite> traces) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTraceUpTo(const TraceId& id,
                                                          uint64_t max_spans) override;
  // Names of the live buckets: a service or operation not seen within retention disappears.
  absl::StatusOr<std::vector<std::string>> GetServices() override;
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind = -1) override;
  // Intersects the index streams of the query newest first in each bucket (buckets newest
  // first, stopping once no older bucket can contribute) and stops at `limit`; then reads one
  // summary per result. A query without service, tags or duration reads the time index.
  absl::StatusOr<std::vector<TraceSummary>> FindTraces(const TraceQuery& query) override;
  // Reads the names in the tag streams' posting keys, never a trace: per bucket (newest first)
  // one seek per name, plus seeks that check the window where a bucket reaches outside it; at
  // most StoreOptions::tag_scan_max_keys seeks in all (rocks_trace_store_tags.cc).
  absl::StatusOr<std::vector<std::string>> SuggestTags(const TagSuggestionQuery& query) override;
  // Reads the per-slot call counts of the requested slots in every bucket.
  absl::StatusOr<std::vector<DependencyLink>> GetDependencies(int64_t end_ns,
                                                              int64_t lookback_ns) override;
  // Adds to the 'D' counts of the bucket new traces go to now (they expire with it).
  absl::Status WriteDependencyCalls(std::span<const DependencyCalls> calls) override;
  // Points go to the "span_metrics" column family, added up by a merge operator; they expire
  // with EnforceRetention once StoreOptions::metrics_retention_ns has passed.
  absl::Status WriteMetricPoints(std::span<const MetricPoint> points) override;
  absl::StatusOr<std::vector<MetricPoint>> ReadMetricPoints(const MetricPointQuery& query) override;
  // The archive is the "archive" column family (keys.h): one value per trace, never dropped by
  // retention and not counted against max_disk_bytes. An archive write goes through the WAL as
  // Write does; archive writes are serialized (each reads the archived copy to merge into it).
  absl::Status ArchiveTrace(const StoredTrace& trace) override;
  absl::StatusOr<std::optional<StoredTrace>> GetArchivedTrace(const TraceId& id) override;
  absl::Status Flush() override;
  // traces_written and spans_written count since Open; disk_bytes is the live SST files of all
  // column families plus the WAL files.
  StoreStats Stats() const override;
  // Unavailable (naming the cause) from a write that failed with a retryable error (disk full,
  // EMFILE, any I/O error) until the store has recovered. Write faults: a failed write marks the
  // store unwritable; the next Write first asks RocksDB to recover (DB::Resume: the background
  // error is cleared and the memtables flushed) and only writes once that succeeded, so nothing is
  // retried on a database in a background-error state. Writes resume by themselves when the fault
  // clears; what failed stays with the caller (the pipeline retries it).
  absl::Status WriteHealth() const override;
  // Writes that failed with a retryable error, and recoveries that succeeded, since Open.
  uint64_t write_failures() const { return write_failures_.load(std::memory_order_relaxed); }
  uint64_t recoveries() const { return recoveries_.load(std::memory_order_relaxed); }
  // Whether only closing and reopening the database can clear the current fault: a RocksDB error
  // DB::Resume did not clear (not a lack of free space, which clears by itself).
  bool NeedsReopen() const {
    return !writable_.load(std::memory_order_acquire) &&
           !low_space_.load(std::memory_order_acquire);
  }

  // Drops every bucket whose retention has passed by the store clock and, with max_disk_bytes,
  // the oldest buckets until the SST files fit (never the newest bucket), and deletes the metric
  // points older than the metrics retention. Returns the number of buckets dropped. Waits for
  // writes in progress; reads in progress finish on the dropped data.
  [[nodiscard]] absl::StatusOr<int> EnforceRetention();

  // Releases the database (and its LOCK) without sealing the open index segments, as a crash
  // would leave it (their traces are re-indexed by the next Open).
  [[nodiscard]] absl::Status CloseWithoutSealingForTest();

  // Seals every open index segment, then releases the database (and its LOCK). Idempotent.
  // Afterwards every other method returns FailedPrecondition (Stats() returns the counters with
  // disk_bytes 0).
  [[nodiscard]] absl::Status Close();

  const std::string& path() const { return path_; }

  // Compacts every column family down to its last level (so bottommost compression applies).
  [[nodiscard]] absl::Status CompactForTest();
  // The compression algorithm names ("LZ4", "ZSTD", ...) of the live SST files of the bucket
  // column families, one entry per file.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> SpanFileCompressionsForTest();
  struct BucketInfo {
    std::string column_family;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
  };
  // The live buckets, oldest first.
  std::vector<BucketInfo> BucketsForTest() const;

 private:
  using BucketPtr = std::shared_ptr<RocksBucket>;
  // The phases of one Write call and the state they hand on (rocks_trace_store_write.cc).
  class WriteCall;
  // The phases of one SearchBucket call and the state they hand on
  // (rocks_trace_store_search.cc).
  class BucketSearch;

  RocksTraceStore(const StoreOptions& options, Clock* clock);

  // Open's phases after the store object exists. Opens the database with the fixed column
  // families and every other one it has, adopting their handles.
  absl::Status OpenDatabase(const RocksConfig& config);
  // Takes the handles of the column families after the fixed ones: buckets are kept, oldest
  // first; others (another layout) are released.
  void AdoptBuckets(std::span<rocksdb::ColumnFamilyHandle* const> handles);
  // Puts the opened database into service: Init, each bucket loaded, expired data dropped, the
  // retention thread started.
  absl::Status Start();
  // Reads or writes the format version and the chunk_seq reservation.
  absl::Status Init();
  // Loads what a bucket keeps in memory (trace start range, names) from its column family.
  absl::Status LoadBucket(RocksBucket& bucket);
  // Returns the first of `n` consecutive new chunk sequence numbers.
  absl::StatusOr<uint64_t> AllocateChunkSeqs(uint64_t n);
  // The bucket new traces go to at `now_ns`, creating it if needed (`*created` tells).
  absl::StatusOr<BucketPtr> BucketForNewTraces(int64_t now_ns, bool* created);
  // Live buckets, oldest first.
  std::vector<BucketPtr> SnapshotBuckets() const;
  // Live buckets that may hold a trace starting in [min_start_ns, max_start_ns] (by their start
  // range), newest first (by their latest start).
  std::vector<BucketPtr> BucketsWithStartsIn(int64_t min_start_ns, int64_t max_start_ns) const;
  absl::Status CheckOpen() const;
  // Maps a RocksDB status to absl: retryable failures (I/O, no space, busy, timed out, try again)
  // to Unavailable, Corruption to DataLoss; the message is `context`: RocksDB's message.
  static absl::Status FromRocks(const rocksdb::Status& s, std::string_view context);
  // OK when the store is writable, or once a recovery attempt (DB::Resume) succeeded; else
  // Unavailable with the cause. Only one thread attempts a recovery at a time.
  absl::Status EnsureWritable();
  // Marks the store unwritable after a write failed with `status` (a retryable error).
  void MarkUnwritable(const absl::Status& status);
  // Unavailable (naming the path, the free bytes and the reserve) when the file system of the
  // store has less than the min_free_disk_bytes reserve free.
  absl::Status CheckFreeSpace() const;

  // Searches one bucket: the summaries of the matches, newest first, at most query.limit.
  absl::StatusOr<std::vector<TraceSummary>> SearchBucket(const RocksBucket& bucket,
                                                         const TraceQuery& query);
  // Seals the bucket's index segments that are due (every unpinned one with `all`). A failed
  // seal is logged and retried by a later call; the segment stays searchable in memory.
  void SealSegments(RocksBucket& bucket, bool all);
  // Re-indexes the traces whose segment markers were left by a crash, and seals them.
  absl::Status RecoverSegments(RocksBucket& bucket);
  absl::Status CloseImpl(bool seal);
  IndexSegments::Options SegmentOptions() const {
    return IndexSegments::Options{options_.index_segment_max_traces,
                                  options_.index_segment_max_age_ns};
  }

  // Blocks until no other Write holds one of `ids`, then holds them until Release.
  void AcquireTraces(const std::vector<TraceId>& ids);
  void ReleaseTraces(const std::vector<TraceId>& ids);

  void RetentionLoop();
  // Deletes the metric points older than the metrics retention.
  absl::Status ExpireMetricPoints(int64_t now_ns);

  const std::string path_;
  const StoreOptions options_;
  const int64_t bucket_width_ns_;
  Clock* const clock_;

  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* metrics_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* archive_cf_ = nullptr;
  std::unique_ptr<RocksBucketOptions> bucket_options_;
  std::unique_ptr<TraceTermsCache> terms_cache_;
  std::atomic<bool> closed_{false};

  mutable std::mutex buckets_mu_;
  std::vector<BucketPtr> buckets_ ABSL_GUARDED_BY(buckets_mu_);  // by start, oldest first
  // Writes hold it shared; dropping buckets holds it exclusively, so a write never targets a
  // bucket that is being dropped.
  std::shared_mutex drop_mu_;

  std::mutex inflight_mu_;
  std::condition_variable inflight_cv_;
  absl::flat_hash_set<TraceId> inflight_ ABSL_GUARDED_BY(inflight_mu_);

  std::mutex seq_mu_;
  uint64_t last_seq_ ABSL_GUARDED_BY(seq_mu_) = 0;
  // Persisted upper bound of handed-out sequence numbers (kChunkSeqReservedKey).
  uint64_t reserved_seq_ ABSL_GUARDED_BY(seq_mu_) = 0;

  std::mutex archive_mu_;  // held by ArchiveTrace from reading the archived copy to writing it

  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool stop_retention_ ABSL_GUARDED_BY(retention_mu_) = false;
  std::thread retention_thread_;

  std::atomic<bool> writable_{true};
  std::atomic<bool> low_space_{false};
  uint64_t min_free_bytes_ = 0;
  mutable std::mutex health_mu_;
  absl::Status write_error_ ABSL_GUARDED_BY(health_mu_);
  std::mutex recover_mu_;  // held by the one thread attempting a recovery
  std::atomic<uint64_t> write_failures_{0};
  std::atomic<uint64_t> recoveries_{0};

  std::atomic<uint64_t> traces_written_{0};
  std::atomic<uint64_t> spans_written_{0};
  std::atomic<uint64_t> buckets_dropped_{0};
  std::atomic<uint64_t> trace_rereads_{0};
  std::atomic<uint64_t> segments_sealed_{0};
};

}  // namespace tailtrace::storage
