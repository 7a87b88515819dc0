// RocksTraceStore: opening, closing, flushing, statistics and status mapping (RocksDB's options are
// in rocks_options.cc). Buckets and
// retention are in rocks_trace_store_buckets.cc, writes in rocks_trace_store_write.cc, trace and
// name reads in rocks_trace_store_read.cc, searches and dependencies in
// rocks_trace_store_search.cc, the span metrics history in rocks_trace_store_metrics.cc, the
// trace archive in rocks_trace_store_archive.cc.

#include "storage/rocks/rocks_trace_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "metric_keys.h"
#include "rocks_bucket.h"
#include "rocks_options_internal.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/table_properties.h"
#include "rocksdb/transaction_log.h"
#include "spdlog/spdlog.h"
#include "storage/index/keys.h"
#include "trace_terms_cache.h"

namespace tailtrace::storage {
namespace {

// chunk_seq values are reserved (persisted) this far ahead of the last one handed out, so the
// reservation is written about once a minute with the real clock.
constexpr uint64_t kChunkSeqReserveWindow = 60ull * 1'000'000'000;

// The column families every store has, in this order (keys.h), before the buckets.
constexpr size_t kFixedColumnFamilies = 3;

// OK when a store can be opened at options.path: valid options, a usable directory, and room on
// its file system (RocksDB must not meet a full disk, see StoreOptions::min_free_disk_bytes).
absl::Status CheckCanOpen(const StoreOptions& options) {
  if (absl::Status valid = ValidateStoreOptions(options); !valid.ok()) return valid;
  if (absl::Status dir = PrepareStoreDirectory(options.path); !dir.ok()) return dir;
  if (absl::Status space = FreeSpaceStatus(options.path, MinFreeBytes(options)); !space.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open the store: ", space.message()));
  }
  return absl::OkStatus();
}

// The fixed column families, then every other one the database at `path` has (none when there
// is no database yet).
std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilyDescriptors(const RocksConfig& config,
                                                                     const std::string& path) {
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(config.db, path, &names).ok()) {
    names.clear();  // no database yet
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, config.small},
      {kMetricsColumnFamily, config.metrics},
      {kArchiveColumnFamily, config.small}};
  for (const std::string& name : names) {
    if (name == rocksdb::kDefaultColumnFamilyName || name == kMetricsColumnFamily ||
        name == kArchiveColumnFamily) {
      continue;
    }
    // Column families of another layout are opened as they are; Init refuses their version.
    descriptors.emplace_back(name,
                             ParseBucketColumnFamilyName(name) ? config.bucket : config.small);
  }
  return descriptors;
}

}  // namespace

absl::Status RocksTraceStore::CheckFreeSpace() const {
  return FreeSpaceStatus(path_, min_free_bytes_);
}

absl::Status RocksTraceStore::FromRocks(const rocksdb::Status& s, std::string_view context) {
  return FromRocksStatus(s, context);
}

RocksTraceStore::RocksTraceStore(const StoreOptions& options, Clock* clock)
    : path_(options.path),
      options_(options),
      bucket_width_ns_(options.retention_ns / options.retention_buckets),
      clock_(clock) {
  min_free_bytes_ = MinFreeBytes(options);
}

RocksTraceStore::~RocksTraceStore() {
  absl::Status s = Close();
  if (!s.ok()) spdlog::warn("storage: closing {}: {}", path_, s.ToString());
}

absl::StatusOr<std::unique_ptr<RocksTraceStore>> RocksTraceStore::Open(const StoreOptions& options,
                                                                       Clock* clock) {
  return Open(options, clock, nullptr);
}

absl::StatusOr<std::unique_ptr<RocksTraceStore>> RocksTraceStore::Open(const StoreOptions& options,
                                                                       Clock* clock,
                                                                       rocksdb::Env* env) {
  if (clock == nullptr) return absl::InvalidArgumentError("RocksTraceStore::Open: clock is null");
  if (absl::Status can_open = CheckCanOpen(options); !can_open.ok()) return can_open;
  const RocksConfig config = MakeRocksConfig(options, env);
  std::unique_ptr<RocksTraceStore> store(new RocksTraceStore(options, clock));
  store->bucket_options_ = std::make_unique<RocksBucketOptions>();
  store->bucket_options_->cf = config.bucket;
  store->terms_cache_ = std::make_unique<TraceTermsCache>(options.trace_terms_cache_bytes);
  // On failure, ~RocksTraceStore closes what was opened.
  if (absl::Status opened = store->OpenDatabase(config); !opened.ok()) return opened;
  if (absl::Status started = store->Start(); !started.ok()) return started;
  spdlog::info(
      "storage: opened {} ({} buckets of {} s; compression {} upper levels, {} bottommost)",
      options.path, store->SnapshotBuckets().size(), store->bucket_width_ns_ / 1'000'000'000,
      CompressionName(config.compression.upper), CompressionName(config.compression.bottommost));
  return store;
}

absl::Status RocksTraceStore::OpenDatabase(const RocksConfig& config) {
  const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors =
      ColumnFamilyDescriptors(config, path_);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(config.db, path_, descriptors, &handles, &db);
  if (!s.ok()) {
    if (IsLockHeld(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat("storage.path ", path_,
                       " is in use by another process (RocksDB LOCK held): ", s.ToString()));
    }
    return FromRocks(s, absl::StrCat("opening RocksDB store at storage.path ", path_));
  }
  db_ = db;
  default_cf_ = handles[0];
  metrics_cf_ = handles[1];
  archive_cf_ = handles[2];
  AdoptBuckets(std::span(handles).subspan(kFixedColumnFamilies));
  return absl::OkStatus();
}

void RocksTraceStore::AdoptBuckets(std::span<rocksdb::ColumnFamilyHandle* const> handles) {
  std::vector<rocksdb::ColumnFamilyHandle*> foreign;
  {
    std::lock_guard lock(buckets_mu_);
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      if (std::optional<BucketRange> range = ParseBucketColumnFamilyName(handle->GetName())) {
        buckets_.push_back(std::make_shared<RocksBucket>(db_, handle, *range, SegmentOptions()));
      } else {
        foreign.push_back(handle);
      }
    }
    std::sort(buckets_.begin(), buckets_.end(), [](const BucketPtr& a, const BucketPtr& b) {
      return a->range().start_ns < b->range().start_ns;
    });
  }
  for (rocksdb::ColumnFamilyHandle* h : foreign) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
}

absl::Status RocksTraceStore::Start() {
  if (absl::Status init = Init(); !init.ok()) return init;
  for (const BucketPtr& bucket : SnapshotBuckets()) {
    if (absl::Status loaded = LoadBucket(*bucket); !loaded.ok()) return loaded;
  }
  // Data that expired while the store was closed goes now.
  if (absl::StatusOr<int> dropped = EnforceRetention(); !dropped.ok()) return dropped.status();
  if (options_.retention_check_interval_ms > 0) {
    retention_thread_ = std::thread([this] { RetentionLoop(); });
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::Init() {
  const std::string where = absl::StrCat("storage.path ", path_);
  rocksdb::WriteOptions wo;
  std::string value;

  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), default_cf_, kFormatVersionKey, &value);
  if (s.IsNotFound()) {
    s = db_->Put(wo, default_cf_, kFormatVersionKey, std::to_string(kStoreFormatVersion));
    if (!s.ok()) return FromRocks(s, absl::StrCat("writing format version in ", where));
  } else if (!s.ok()) {
    return FromRocks(s, absl::StrCat("reading format version in ", where));
  } else {
    int version = 0;
    if (!absl::SimpleAtoi(value, &version) || version < kOldestReadableFormatVersion ||
        version > kStoreFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, " holds store format version '", value, "'; this build reads versions ",
          kOldestReadableFormatVersion, " to ", kStoreFormatVersion,
          " (move the directory away or point storage.path elsewhere)"));
    }
    // From now on it may hold what only this version reads (span blocks).
    if (version < kStoreFormatVersion) {
      s = db_->Put(wo, default_cf_, kFormatVersionKey, std::to_string(kStoreFormatVersion));
      if (!s.ok()) return FromRocks(s, absl::StrCat("writing format version in ", where));
    }
  }

  s = db_->Get(rocksdb::ReadOptions(), default_cf_, kChunkSeqReservedKey, &value);
  if (s.ok()) {
    if (value.size() != 8) {
      return absl::DataLossError(absl::StrCat(where, ": key ", kChunkSeqReservedKey, " has ",
                                              value.size(), " bytes, expected 8"));
    }
    std::lock_guard lock(seq_mu_);
    reserved_seq_ = DecodeFixed64BE(value);
    last_seq_ = reserved_seq_;
  } else if (!s.IsNotFound()) {
    return FromRocks(s, absl::StrCat("reading ", kChunkSeqReservedKey, " in ", where));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksTraceStore::AllocateChunkSeqs(uint64_t n) {
  std::lock_guard lock(seq_mu_);
  const int64_t now = clock_->UnixNanos();
  const uint64_t first =
      std::max<uint64_t>(now > 0 ? static_cast<uint64_t>(now) : 0, last_seq_ + 1);
  const uint64_t last = first + n - 1;
  if (last > reserved_seq_) {
    // Persist the new bound before handing out any number above the old one, so that after a
    // restart no chunk key can be reused (which would overwrite a chunk).
    const uint64_t reserved = last + kChunkSeqReserveWindow;
    std::string value;
    PutFixed64BE(&value, reserved);
    rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), default_cf_, kChunkSeqReservedKey, value);
    if (!s.ok()) {
      return FromRocks(s,
                       absl::StrCat("writing ", kChunkSeqReservedKey, " in storage.path ", path_));
    }
    reserved_seq_ = reserved;
  }
  last_seq_ = last;
  return first;
}

absl::Status RocksTraceStore::WriteHealth() const {
  if (writable_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard lock(health_mu_);
  return write_error_.ok() ? absl::OkStatus() : write_error_;
}

void RocksTraceStore::MarkUnwritable(const absl::Status& status) {
  write_failures_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(health_mu_);
    write_error_ = absl::UnavailableError(
        absl::StrCat("trace store cannot write: ", std::string(status.message())));
  }
  if (writable_.exchange(false, std::memory_order_acq_rel)) {
    spdlog::error("storage: {} is not writable, refusing new data until it recovers: {}", path_,
                  std::string(status.message()));
  }
}

absl::Status RocksTraceStore::EnsureWritable() {
  if (absl::Status space = CheckFreeSpace(); !space.ok()) {
    // Refused before RocksDB sees the full disk; clears by itself once space returns.
    low_space_.store(true, std::memory_order_release);
    {
      std::lock_guard lock(health_mu_);
      write_error_ = absl::UnavailableError(
          absl::StrCat("trace store cannot write: ", std::string(space.message())));
    }
    if (writable_.exchange(false, std::memory_order_acq_rel)) {
      spdlog::error("storage: refusing new data until space returns: {}",
                    std::string(space.message()));
    }
    return space;
  }
  if (writable_.load(std::memory_order_acquire)) return absl::OkStatus();
  if (low_space_.exchange(false, std::memory_order_acq_rel)) {
    std::lock_guard lock(health_mu_);
    if (absl::StrContains(write_error_.message(), "No space left on device (")) {
      // Only the reserve stopped writes (RocksDB saw no error): nothing to recover.
      write_error_ = absl::OkStatus();
      writable_.store(true, std::memory_order_release);
      spdlog::info("storage: {} has space again, writes resume", path_);
      return absl::OkStatus();
    }
  }
  std::unique_lock lock(recover_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return WriteHealth();  // another thread is recovering
  if (writable_.load(std::memory_order_acquire)) return absl::OkStatus();
  // Resume is OK at once when RocksDB holds no background error (e.g. a failed file open); else
  // it clears the error and flushes the memtables, failing while the fault lasts.
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    absl::Status failed = FromRocks(s, absl::StrCat("recovering storage.path ", path_));
    std::lock_guard health(health_mu_);
    write_error_ = absl::UnavailableError(
        absl::StrCat("trace store cannot write: ", std::string(failed.message())));
    return write_error_;
  }
  recoveries_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard health(health_mu_);
    write_error_ = absl::OkStatus();
  }
  writable_.store(true, std::memory_order_release);
  spdlog::info("storage: {} recovered, writes resume", path_);
  return absl::OkStatus();
}

absl::Status RocksTraceStore::CheckOpen() const {
  if (closed_.load(std::memory_order_acquire) || db_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("trace store at storage.path ", path_, " is closed"));
  }
  return absl::OkStatus();
}

void RocksTraceStore::AcquireTraces(const std::vector<TraceId>& ids) {
  std::unique_lock lock(inflight_mu_);
  inflight_cv_.wait(lock, [&] {
    for (const TraceId& id : ids) {
      if (inflight_.contains(id)) return false;
    }
    return true;
  });
  for (const TraceId& id : ids) inflight_.insert(id);
}

void RocksTraceStore::ReleaseTraces(const std::vector<TraceId>& ids) {
  {
    std::lock_guard lock(inflight_mu_);
    for (const TraceId& id : ids) inflight_.erase(id);
  }
  inflight_cv_.notify_all();
}

absl::Status RocksTraceStore::Close() { return CloseImpl(/*seal=*/true); }

absl::Status RocksTraceStore::CloseWithoutSealingForTest() { return CloseImpl(/*seal=*/false); }

absl::Status RocksTraceStore::CloseImpl(bool seal) {
  {
    std::lock_guard lock(retention_mu_);
    stop_retention_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();
  if (db_ == nullptr || closed_.load()) return absl::OkStatus();
  // Without free space the segments stay unsealed (markers on disk): the next Open re-indexes.
  if (seal && CheckFreeSpace().ok()) {
    for (const BucketPtr& b : SnapshotBuckets()) SealSegments(*b, /*all=*/true);
  }
  if (closed_.exchange(true)) return absl::OkStatus();
  // The cache holds buckets too; then the handles go (no call is in progress, see the class
  // comment).
  if (terms_cache_) terms_cache_->Clear();
  {
    std::lock_guard lock(buckets_mu_);
    buckets_.clear();
  }
  for (rocksdb::ColumnFamilyHandle** cf : {&default_cf_, &metrics_cf_, &archive_cf_}) {
    if (*cf != nullptr) db_->DestroyColumnFamilyHandle(*cf).PermitUncheckedError();
    *cf = nullptr;
  }
  rocksdb::Status s = db_->Close();
  delete db_;
  db_ = nullptr;
  return FromRocks(s, absl::StrCat("closing RocksDB store at storage.path ", path_));
}

absl::Status RocksTraceStore::Flush() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  if (absl::Status space = CheckFreeSpace(); !space.ok()) return space;
  const std::vector<BucketPtr> buckets = SnapshotBuckets();
  for (const BucketPtr& b : buckets) SealSegments(*b, /*all=*/true);
  std::vector<rocksdb::ColumnFamilyHandle*> handles = {default_cf_, metrics_cf_, archive_cf_};
  for (const BucketPtr& b : buckets) handles.push_back(b->handle());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db_->Flush(fo, handles);
  return FromRocks(s, absl::StrCat("flushing RocksDB store at storage.path ", path_));
}

StoreStats RocksTraceStore::Stats() const {
  StoreStats stats;
  stats.traces_written = traces_written_.load(std::memory_order_relaxed);
  stats.spans_written = spans_written_.load(std::memory_order_relaxed);
  stats.buckets_dropped = buckets_dropped_.load(std::memory_order_relaxed);
  stats.trace_rereads = trace_rereads_.load(std::memory_order_relaxed);
  if (!CheckOpen().ok()) return stats;
  stats.buckets = SnapshotBuckets().size();
  uint64_t sst_bytes = 0;
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst_bytes)) {
    stats.disk_bytes += sst_bytes;
  }
  rocksdb::VectorLogPtr wal_files;
  if (db_->GetSortedWalFiles(wal_files).ok()) {
    for (const auto& f : wal_files) stats.disk_bytes += f->SizeFileBytes();
  }
  // Running jobs are counted per database, due ones per column family (summed over all).
  for (const std::string* property : {&rocksdb::DB::Properties::kNumRunningFlushes,
                                      &rocksdb::DB::Properties::kNumRunningCompactions}) {
    uint64_t jobs = 0;
    if (db_->GetIntProperty(*property, &jobs)) stats.background_jobs += jobs;
  }
  for (const std::string* property : {&rocksdb::DB::Properties::kMemTableFlushPending,
                                      &rocksdb::DB::Properties::kCompactionPending}) {
    uint64_t jobs = 0;
    if (db_->GetAggregatedIntProperty(*property, &jobs)) stats.background_jobs += jobs;
  }
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                &stats.pending_compaction_bytes);
  return stats;
}

absl::Status RocksTraceStore::CompactForTest() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  std::vector<rocksdb::ColumnFamilyHandle*> handles = {default_cf_};
  const std::vector<BucketPtr> buckets = SnapshotBuckets();
  for (const BucketPtr& b : buckets) handles.push_back(b->handle());
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    rocksdb::Status s = db_->CompactRange(options, h, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "CompactForTest");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RocksTraceStore::SpanFileCompressionsForTest() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  std::vector<std::string> out;
  for (const BucketPtr& b : SnapshotBuckets()) {
    rocksdb::TablePropertiesCollection props;
    rocksdb::Status s = db_->GetPropertiesOfAllTables(b->handle(), &props);
    if (!s.ok()) return FromRocks(s, "SpanFileCompressionsForTest");
    for (const auto& [file, p] : props) out.push_back(p->compression_name);
  }
  return out;
}

}  // namespace tailtrace::storage
