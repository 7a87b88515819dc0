// RocksTraceStore: opening, options, closing, flushing, statistics and status mapping. Writes are
// in rocks_trace_store_write.cc, reads in rocks_trace_store_read.cc.

#include "storage/rocks_trace_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/table_properties.h"
#include "rocksdb/transaction_log.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"

namespace tailtrace::storage {
namespace {

// chunk_seq values are reserved (persisted) this far ahead of the last one handed out, so the
// reservation is written about once a minute with the real clock.
constexpr uint64_t kChunkSeqReserveWindow = 60ull * 1'000'000'000;

// Below this RocksDB's memtables make no sense; it is far below any sane configuration.
constexpr uint64_t kMinWriteBufferBytes = 64 << 10;
constexpr uint64_t kMetaWriteBufferBytes = 8 << 20;

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

}  // namespace

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

RocksTraceStore::RocksTraceStore(std::string path, Clock* clock)
    : path_(std::move(path)), clock_(clock) {}

RocksTraceStore::~RocksTraceStore() {
  absl::Status s = Close();
  if (!s.ok()) spdlog::warn("storage: closing {}: {}", path_, s.ToString());
}

absl::StatusOr<std::unique_ptr<RocksTraceStore>> RocksTraceStore::Open(const StoreOptions& options,
                                                                       Clock* clock) {
  if (clock == nullptr) return absl::InvalidArgumentError("RocksTraceStore::Open: clock is null");
  if (options.path.empty()) return absl::InvalidArgumentError("storage.path is empty");
  if (options.write_buffer_bytes < kMinWriteBufferBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage write_buffer_bytes ", options.write_buffer_bytes,
                     " is too small (minimum ", kMinWriteBufferBytes, ")"));
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

  const CompressionChoice compression = ChooseCompression();
  std::shared_ptr<rocksdb::Cache> cache;
  if (options.block_cache_bytes > 0) cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // "meta" is written rarely; without this its memtable would keep old WAL files alive until the
  // default limit of 4x the sum of all write buffers.
  db_options.max_total_wal_size = 2 * options.write_buffer_bytes;
  db_options.keep_log_file_num = 5;
  db_options.max_log_file_size = 16 << 20;
  db_options.bytes_per_sync = 1 << 20;

  // "spans": looked up by trace ID prefix only, so the bloom filter covers the 16-byte prefix.
  rocksdb::ColumnFamilyOptions spans_options = BaseColumnFamilyOptions(options, compression);
  spans_options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kTraceIdBytes));
  spans_options.memtable_prefix_bloom_size_ratio = 0.02;
  rocksdb::BlockBasedTableOptions spans_table = BaseTableOptions(cache);
  spans_table.whole_key_filtering = false;
  spans_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(spans_table));

  // "meta" and "default": small, read by whole key or short prefix scans.
  rocksdb::ColumnFamilyOptions small_options = BaseColumnFamilyOptions(options, compression);
  small_options.write_buffer_size =
      std::min<uint64_t>(options.write_buffer_bytes, kMetaWriteBufferBytes);
  small_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(BaseTableOptions(cache)));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {kSpansColumnFamily, spans_options},
      {kMetaColumnFamily, small_options},
  };

  std::unique_ptr<RocksTraceStore> store(new RocksTraceStore(path, clock));
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
  store->spans_cf_ = handles[1];
  store->meta_cf_ = handles[2];

  if (absl::Status init = store->Init(); !init.ok()) return init;  // ~RocksTraceStore closes
  spdlog::info("storage: opened {} (compression {} upper levels, {} bottommost)", path,
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
      return absl::FailedPreconditionError(absl::StrCat(where, " holds store format version '",
                                                        value, "'; this build reads version ",
                                                        kStoreFormatVersion));
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

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  std::lock_guard lock(meta_mu_);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    known_meta_keys_.insert(it->key().ToString());
  }
  return FromRocks(it->status(), absl::StrCat("loading services and operations of ", where));
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

absl::Status RocksTraceStore::CheckOpen() const {
  if (closed_.load(std::memory_order_acquire) || db_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("trace store at storage.path ", path_, " is closed"));
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::Close() {
  if (db_ == nullptr || closed_.exchange(true)) return absl::OkStatus();
  for (rocksdb::ColumnFamilyHandle* h : {default_cf_, spans_cf_, meta_cf_}) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  default_cf_ = spans_cf_ = meta_cf_ = nullptr;
  rocksdb::Status s = db_->Close();
  delete db_;
  db_ = nullptr;
  return FromRocks(s, absl::StrCat("closing RocksDB store at storage.path ", path_));
}

absl::Status RocksTraceStore::Flush() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  rocksdb::FlushOptions fo;
  fo.wait = true;
  rocksdb::Status s = db_->Flush(fo, {default_cf_, spans_cf_, meta_cf_});
  return FromRocks(s, absl::StrCat("flushing RocksDB store at storage.path ", path_));
}

StoreStats RocksTraceStore::Stats() const {
  StoreStats stats;
  stats.traces_written = traces_written_.load(std::memory_order_relaxed);
  stats.spans_written = spans_written_.load(std::memory_order_relaxed);
  if (!CheckOpen().ok()) return stats;
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
  for (rocksdb::ColumnFamilyHandle* h : {default_cf_, spans_cf_, meta_cf_}) {
    rocksdb::Status s = db_->CompactRange(options, h, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "CompactForTest");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RocksTraceStore::SpanFileCompressionsForTest() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  rocksdb::TablePropertiesCollection props;
  rocksdb::Status s = db_->GetPropertiesOfAllTables(spans_cf_, &props);
  if (!s.ok()) return FromRocks(s, "SpanFileCompressionsForTest");
  std::vector<std::string> out;
  for (const auto& [file, p] : props) out.push_back(p->compression_name);
  return out;
}

}  // namespace tailtrace::storage
