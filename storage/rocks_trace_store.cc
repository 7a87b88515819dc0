// RocksTraceStore: opening, options, closing, flushing, statistics and status mapping. Buckets and
// retention are in rocks_trace_store_buckets.cc, writes in rocks_trace_store_write.cc, trace and
// name reads in rocks_trace_store_read.cc, searches and dependencies in
// rocks_trace_store_search.cc, the span metrics history in rocks_trace_store_metrics.cc, the
// trace archive in rocks_trace_store_archive.cc.

#include "storage/rocks_trace_store.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/table_properties.h"
#include "rocksdb/transaction_log.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/metric_keys.h"
#include "storage/rocks_bucket.h"
#include "storage/trace_terms_cache.h"

namespace tailtrace::storage {
namespace {

// chunk_seq values are reserved (persisted) this far ahead of the last one handed out, so the
// reservation is written about once a minute with the real clock.
constexpr uint64_t kChunkSeqReserveWindow = 60ull * 1'000'000'000;

// Below this RocksDB's memtables make no sense; it is far below any sane configuration.
constexpr uint64_t kMinWriteBufferBytes = 64 << 10;
constexpr uint64_t kDefaultWriteBufferBytes = 8 << 20;
// Retention buckets narrower than this make no sense (one column family each).
constexpr int64_t kMinBucketWidthNs = 1'000'000;  // 1 ms
constexpr int kMaxRetentionBuckets = 10'000;

// Sums the signed 8-byte dependency counts (EncodeCount) of the 'D' keys.
class CountAddOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    std::optional<int64_t> base = existing ? DecodeCount(existing->ToStringView()) : 0;
    std::optional<int64_t> add = DecodeCount(value.ToStringView());
    if (!base || !add) return false;
    // Wrapping addition (never reached in practice) instead of signed overflow.
    *new_value = EncodeCount(
        static_cast<int64_t>(static_cast<uint64_t>(*base) + static_cast<uint64_t>(*add)));
    return true;
  }
  const char* Name() const override { return "tailtrace.CountAdd"; }
};

// The bloom filter prefix of a bucket: tag + trace ID of span and summary keys. Other keys are
// outside the domain (no filter entries); Transform still answers for them because RocksDB's
// prefix_same_as_start iteration calls it on whatever key comes next.
class TracePrefixTransform final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "tailtrace.TracePrefix17"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return key.size() >= kTracePrefixBytes ? rocksdb::Slice(key.data(), kTracePrefixBytes) : key;
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= kTracePrefixBytes && (key[0] == kSpanTag || key[0] == kSummaryTag);
  }
};

const char* CompressionName(rocksdb::CompressionType type) {
  switch (type) {
    case rocksdb::kNoCompression:
      return "none";
    case rocksdb::kSnappyCompression:
      return "Snappy";
    case rocksdb::kZlibCompression:
      return "Zlib";
    case rocksdb::kBZip2Compression:
      return "BZip2";
    case rocksdb::kLZ4Compression:
      return "LZ4";
    case rocksdb::kLZ4HCCompression:
      return "LZ4HC";
    case rocksdb::kXpressCompression:
      return "Xpress";
    case rocksdb::kZSTD:
      return "ZSTD";
    default:
      return "other";
  }
}

// Span chunk blocks: see the bucket options in Open.
constexpr size_t kBucketBlockBytes = 64 << 10;
constexpr int kBottommostZstdLevel = 6;
constexpr uint32_t kZstdDictionaryBytes = 64 << 10;

struct CompressionChoice {
  rocksdb::CompressionType upper = rocksdb::kNoCompression;
  rocksdb::CompressionType bottommost = rocksdb::kNoCompression;
};

// LZ4 (fast) for the levels that are rewritten often, ZSTD (small) for the bottommost level that
// holds most data; falls back to whatever this RocksDB build supports.
CompressionChoice ChooseCompression() {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  CompressionChoice c;
  for (auto t : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression, rocksdb::kZSTD,
                 rocksdb::kZlibCompression}) {
    if (has(t)) {
      c.upper = t;
      break;
    }
  }
  c.bottommost = has(rocksdb::kZSTD) ? rocksdb::kZSTD : c.upper;
  return c;
}

bool IsLockHeld(const rocksdb::Status& s) {
  if (!s.IsIOError()) return false;
  const std::string msg = s.ToString();
  // RocksDB's posix file system: "While lock file: <path>/LOCK: ..." when another process holds
  // the lock, "lock hold by current process ... <path>/LOCK" when this process already does.
  return msg.find("LOCK") != std::string::npos &&
         (msg.find("While lock file") != std::string::npos ||
          msg.find("lock hold by current process") != std::string::npos);
}

rocksdb::ColumnFamilyOptions BaseColumnFamilyOptions(const StoreOptions& options,
                                                     const CompressionChoice& compression) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_bytes;
  cf.compression = compression.upper;
  cf.bottommost_compression = compression.bottommost;
  cf.level_compaction_dynamic_level_bytes = true;
  return cf;
}

rocksdb::BlockBasedTableOptions BaseTableOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions t;
  if (cache) {
    t.block_cache = cache;
    // Index and filter blocks count against the cache budget instead of growing without bound.
    t.cache_index_and_filter_blocks = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
  } else {
    t.no_block_cache = true;
  }
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));  // full filter
  t.format_version = 5;
  return t;
}

// RocksDB's info log, sent to spdlog instead of the LOG file in the store directory: a LOG file
// write that fails on a full disk makes the next log line abort the process (RocksDB 7.8's
// WritableFileWriter asserts when reused after an error). Warnings and errors only.
class SpdlogRocksLogger final : public rocksdb::Logger {
 public:
  SpdlogRocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      spdlog::error("rocksdb: {}", line);
    } else {
      spdlog::warn("rocksdb: {}", line);
    }
  }
};

uint64_t MinFreeBytes(const StoreOptions& options) {
  return options.min_free_disk_bytes > 0 ? options.min_free_disk_bytes
                                         : 2 * options.write_buffer_bytes + (8ull << 20);
}

// Unavailable when the file system holding `path` has less than `reserve` bytes free.
absl::Status FreeSpaceStatus(const std::string& path, uint64_t reserve) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    return absl::UnavailableError(
        absl::StrCat("storage.path ", path, ": statvfs: ", std::strerror(errno)));
  }
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  if (free_bytes >= reserve) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("storage.path ", path, ": No space left on device (", free_bytes,
                   " bytes free, the store keeps a reserve of ", reserve,
                   " bytes; free some space or lower storage.min_free_disk_bytes)"));
}

}  // namespace

absl::Status RocksTraceStore::CheckFreeSpace() const {
  return FreeSpaceStatus(path_, min_free_bytes_);
}

absl::Status RocksTraceStore::FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string msg =
      absl::StrCat(absl::string_view(context.data(), context.size()), ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(std::move(msg));
  // IOError includes its NoSpace and PathNotFound sub-codes.
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsShutdownInProgress()) {
    return absl::UnavailableError(std::move(msg));
  }
  if (s.IsNotFound()) return absl::NotFoundError(std::move(msg));
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(std::move(msg));
  if (s.IsNotSupported()) return absl::UnimplementedError(std::move(msg));
  if (s.IsAborted()) return absl::AbortedError(std::move(msg));
  if (s.IsColumnFamilyDropped()) return absl::FailedPreconditionError(std::move(msg));
  return absl::InternalError(std::move(msg));
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
  if (options.path.empty()) return absl::InvalidArgumentError("storage.path is empty");
  if (options.write_buffer_bytes < kMinWriteBufferBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage write_buffer_bytes ", options.write_buffer_bytes,
                     " is too small (minimum ", kMinWriteBufferBytes, ")"));
  }
  if (options.retention_ns <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("storage.retention must be greater than 0, got ",
                                                   options.retention_ns, " ns"));
  }
  if (options.retention_buckets < 1 || options.retention_buckets > kMaxRetentionBuckets) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage.retention_buckets must be between 1 and ", kMaxRetentionBuckets,
                     ", got ", options.retention_buckets));
  }
  if (options.retention_ns / options.retention_buckets < kMinBucketWidthNs) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage.retention / storage.retention_buckets must be at least 1ms, got ",
                     options.retention_ns / options.retention_buckets, " ns"));
  }
  if (options.index_segment_max_traces < 1 || options.index_segment_max_age_ns < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage index_segment_max_traces must be at least 1 and index_segment_max_age_ns not "
        "negative, got ",
        options.index_segment_max_traces, " and ", options.index_segment_max_age_ns));
  }
  if (options.index.max_value_length < 1) {
    return absl::InvalidArgumentError("storage.index.max_value_length must be at least 1");
  }
  if (options.metrics_retention_ns < 0) {
    return absl::InvalidArgumentError(absl::StrCat("metrics.retention must not be negative, got ",
                                                   options.metrics_retention_ns, " ns"));
  }
  if (options.retention_check_interval_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage retention_check_interval_ms must not be negative, got ",
                     options.retention_check_interval_ms));
  }
  const std::string& path = options.path;

  // Check the directory ourselves: RocksDB's messages for these cases do not say what to fix.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    return absl::FailedPreconditionError(
        absl::StrCat("storage.path ", path, " exists and is not a directory"));
  }
  ec.clear();
  std::filesystem::create_directories(path, ec);
  if (ec) {
    std::string msg = absl::StrCat("cannot create storage.path ", path, ": ", ec.message());
    if (ec == std::errc::permission_denied || ec == std::errc::read_only_file_system) {
      return absl::PermissionDeniedError(std::move(msg));
    }
    return absl::FailedPreconditionError(std::move(msg));
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("storage.path ", path, " is not writable: ", std::strerror(errno)));
  }

  // RocksDB must not meet a full disk (see StoreOptions::min_free_disk_bytes).
  if (absl::Status space = FreeSpaceStatus(path, MinFreeBytes(options)); !space.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open the store: ", space.message()));
  }

  const CompressionChoice compression = ChooseCompression();
  std::shared_ptr<rocksdb::Cache> cache;
  if (options.block_cache_bytes > 0) cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::DBOptions db_options;
  if (env != nullptr) db_options.env = env;
  db_options.info_log = std::make_shared<SpdlogRocksLogger>();
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Old buckets get a late chunk now and then; without this their memtables would keep old WAL
  // files alive until the default limit of 4x the sum of all write buffers.
  db_options.max_total_wal_size = 2 * options.write_buffer_bytes;
  db_options.keep_log_file_num = 5;
  db_options.max_log_file_size = 16 << 20;
  db_options.bytes_per_sync = 1 << 20;

  // Buckets: spans and summaries are looked up by tag + trace ID, so the bloom filter covers that
  // 17-byte prefix; index and dependency keys are range-scanned (total order).
  auto bucket_options = std::make_unique<RocksBucketOptions>();
  rocksdb::ColumnFamilyOptions& bucket_cf = bucket_options->cf;
  bucket_cf = BaseColumnFamilyOptions(options, compression);
  bucket_cf.prefix_extractor = std::make_shared<TracePrefixTransform>();
  bucket_cf.memtable_prefix_bloom_size_ratio = 0.02;
  bucket_cf.merge_operator = std::make_shared<CountAddOperator>();
  rocksdb::BlockBasedTableOptions bucket_table = BaseTableOptions(cache);
  bucket_table.whole_key_filtering = false;
  // Blocks of several traces: resources, scopes, names and attribute keys repeat from trace to
  // trace, and a block compresses them together. A trace read decompresses one or two blocks.
  bucket_table.block_size = kBucketBlockBytes;
  if (compression.bottommost == rocksdb::kZSTD) {
    // The bottommost level holds most data: a stronger level and a dictionary trained per file
    // on its own blocks (what repeats across blocks: resource attributes, SQL, routes).
    bucket_cf.bottommost_compression_opts.enabled = true;
    bucket_cf.bottommost_compression_opts.level = kBottommostZstdLevel;
    bucket_cf.bottommost_compression_opts.max_dict_bytes = kZstdDictionaryBytes;
    bucket_cf.bottommost_compression_opts.zstd_max_train_bytes = 100 * kZstdDictionaryBytes;
  }
  bucket_cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bucket_table));

  // "default": a few bookkeeping keys.
  rocksdb::ColumnFamilyOptions small_options = BaseColumnFamilyOptions(options, compression);
  small_options.write_buffer_size =
      std::min<uint64_t>(options.write_buffer_bytes, kDefaultWriteBufferBytes);
  small_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(BaseTableOptions(cache)));

  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(db_options, path, &names).ok()) {
    names.clear();  // no database yet
  }
  // "span_metrics": the metrics history, small values added up by a merge operator.
  rocksdb::ColumnFamilyOptions metrics_options = small_options;
  metrics_options.merge_operator = NewMetricMergeOperator();

  // "archive": archived traces, one value each; never dropped.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kMetricsColumnFamily, metrics_options},
      {kArchiveColumnFamily, small_options}};
  const size_t fixed_families = descriptors.size();
  for (const std::string& name : names) {
    if (name == rocksdb::kDefaultColumnFamilyName || name == kMetricsColumnFamily ||
        name == kArchiveColumnFamily) {
      continue;
    }
    // Column families of another layout are opened as they are; Init refuses their version.
    descriptors.emplace_back(name, ParseBucketColumnFamilyName(name) ? bucket_cf : small_options);
  }

  std::unique_ptr<RocksTraceStore> store(new RocksTraceStore(options, clock));
  store->bucket_options_ = std::move(bucket_options);
  store->terms_cache_ = std::make_unique<TraceTermsCache>(options.trace_terms_cache_bytes);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &db);
  if (!s.ok()) {
    if (IsLockHeld(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat("storage.path ", path,
                       " is in use by another process (RocksDB LOCK held): ", s.ToString()));
    }
    return FromRocks(s, absl::StrCat("opening RocksDB store at storage.path ", path));
  }
  store->db_ = db;
  store->default_cf_ = handles[0];
  store->metrics_cf_ = handles[1];
  store->archive_cf_ = handles[2];
  std::vector<rocksdb::ColumnFamilyHandle*> foreign;
  {
    std::lock_guard lock(store->buckets_mu_);
    for (size_t i = fixed_families; i < handles.size(); ++i) {
      if (std::optional<BucketRange> range = ParseBucketColumnFamilyName(handles[i]->GetName())) {
        store->buckets_.push_back(
            std::make_shared<RocksBucket>(db, handles[i], *range, store->SegmentOptions()));
      } else {
        foreign.push_back(handles[i]);
      }
    }
    std::sort(store->buckets_.begin(), store->buckets_.end(),
              [](const BucketPtr& a, const BucketPtr& b) {
                return a->range().start_ns < b->range().start_ns;
              });
  }
  for (rocksdb::ColumnFamilyHandle* h : foreign)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();

  if (absl::Status init = store->Init(); !init.ok()) return init;  // ~RocksTraceStore closes
  for (const BucketPtr& bucket : store->SnapshotBuckets()) {
    if (absl::Status loaded = store->LoadBucket(*bucket); !loaded.ok()) return loaded;
  }
  // Data that expired while the store was closed goes now.
  if (absl::StatusOr<int> dropped = store->EnforceRetention(); !dropped.ok()) {
    return dropped.status();
  }
  if (options.retention_check_interval_ms > 0) {
    store->retention_thread_ = std::thread([s = store.get()] { s->RetentionLoop(); });
  }
  spdlog::info(
      "storage: opened {} ({} buckets of {} s; compression {} upper levels, {} bottommost)", path,
      store->SnapshotBuckets().size(), store->bucket_width_ns_ / 1'000'000'000,
      CompressionName(compression.upper), CompressionName(compression.bottommost));
  return store;
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
    if (!absl::SimpleAtoi(value, &version) || version != kStoreFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, " holds store format version '", value, "'; this build reads version ",
          kStoreFormatVersion, " (move the directory away or point storage.path elsewhere)"));
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
