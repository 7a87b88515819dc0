// The RocksDB configuration of RocksTraceStore: option checks, the store directory, the column
// families' options, their merge operators and prefix extractor, and RocksDB status helpers.

#include "rocks_options_internal.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "metric_keys.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "spdlog/spdlog.h"
#include "storage/index/keys.h"

namespace tailtrace::storage {
namespace {

// Below this RocksDB's memtables make no sense; it is far below any sane configuration.
constexpr uint64_t kMinWriteBufferBytes = 64 << 10;
constexpr uint64_t kDefaultWriteBufferBytes = 8 << 20;
// Retention buckets narrower than this make no sense (one column family each).
constexpr int64_t kMinBucketWidthNs = 1'000'000;  // 1 ms
constexpr int kMaxRetentionBuckets = 10'000;

// Sums the dependency counts (EncodeCallCounts: calls, and failed calls unless 0) of the 'D'
// keys; an 8-byte value of an older version is calls with 0 failed.
class CountAddOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    std::optional<CallCounts> base =
        existing ? DecodeCallCounts(existing->ToStringView()) : CallCounts{};
    std::optional<CallCounts> add = DecodeCallCounts(value.ToStringView());
    if (!base || !add) return false;
    *new_value = EncodeCallCounts(
        CallCounts{WrappingAdd(base->calls, add->calls), WrappingAdd(base->failed, add->failed)});
    return true;
  }
  const char* Name() const override { return "tailtrace.CountAdd"; }

 private:
  // Wrapping addition (never reached in practice) instead of signed overflow.
  static int64_t WrappingAdd(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  }
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

// Span chunk blocks: see the bucket options in Open.
constexpr size_t kBucketBlockBytes = 64 << 10;
// Level 6: level 1 halves the CPU of a compaction to the bottom level but, in a repeated
// measurement, left 45 B/span where level 6 left 30 (bench/results/profile-notes.md, session 10).
// Level 5 on 256 KiB blocks cost a third less CPU but left a store of distinct traces 7% larger
// (session 14).
constexpr int kBottommostZstdLevel = 6;
constexpr uint32_t kZstdDictionaryBytes = 64 << 10;

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

// Adds encoded points up by AddMetricPoint's rule.
class MetricPointMergeOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    MetricPoint add;
    if (!DecodeMetricValue(value.ToStringView(), &add)) return false;
    if (existing == nullptr) {
      new_value->assign(value.data(), value.size());
      return true;
    }
    MetricPoint base;
    if (!DecodeMetricValue(existing->ToStringView(), &base)) return false;
    AddMetricPoint(base, add);
    *new_value = EncodeMetricValue(base);
    return true;
  }
  const char* Name() const override { return "tailtrace.MetricPointAdd"; }
};

}  // namespace

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

bool IsLockHeld(const rocksdb::Status& s) {
  if (!s.IsIOError()) return false;
  const std::string msg = s.ToString();
  // RocksDB's posix file system: "While lock file: <path>/LOCK: ..." when another process holds
  // the lock, "lock hold by current process ... <path>/LOCK" when this process already does.
  return msg.find("LOCK") != std::string::npos &&
         (msg.find("While lock file") != std::string::npos ||
          msg.find("lock hold by current process") != std::string::npos);
}

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

absl::Status ValidateStoreOptions(const StoreOptions& options) {
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
  if (options.tag_scan_max_keys < 1) {
    return absl::InvalidArgumentError("storage tag_scan_max_keys must be at least 1, got 0");
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
  return absl::OkStatus();
}

absl::Status PrepareStoreDirectory(const std::string& path) {
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

  return absl::OkStatus();
}

RocksConfig MakeRocksConfig(const StoreOptions& options, rocksdb::Env* env) {
  RocksConfig config;
  config.compression = ChooseCompression();
  const CompressionChoice& compression = config.compression;
  std::shared_ptr<rocksdb::Cache> cache;
  if (options.block_cache_bytes > 0) cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::DBOptions& db_options = config.db;
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
  rocksdb::ColumnFamilyOptions& bucket_cf = config.bucket;
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
    // The bottommost level holds most data: a dictionary trained per file on its own blocks
    // (what repeats across blocks: resource attributes, SQL, routes).
    bucket_cf.bottommost_compression_opts.enabled = true;
    bucket_cf.bottommost_compression_opts.level = kBottommostZstdLevel;
    bucket_cf.bottommost_compression_opts.max_dict_bytes = kZstdDictionaryBytes;
    bucket_cf.bottommost_compression_opts.zstd_max_train_bytes = 100 * kZstdDictionaryBytes;
  }
  bucket_cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(bucket_table));

  // "default": a few bookkeeping keys.
  rocksdb::ColumnFamilyOptions& small_options = config.small;
  small_options = BaseColumnFamilyOptions(options, compression);
  small_options.write_buffer_size =
      std::min<uint64_t>(options.write_buffer_bytes, kDefaultWriteBufferBytes);
  small_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(BaseTableOptions(cache)));

  // "span_metrics": the metrics history, small values added up by a merge operator.
  config.metrics = small_options;
  config.metrics.merge_operator = std::make_shared<MetricPointMergeOperator>();

  return config;
}

absl::Status FromRocksStatus(const rocksdb::Status& s, std::string_view context) {
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

}  // namespace tailtrace::storage
