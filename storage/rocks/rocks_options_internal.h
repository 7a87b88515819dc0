#pragma once

// Private to storage/: how RocksTraceStore configures RocksDB (rocks_options.cc). The column
// families' layout is in keys.h.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"
#include "storage/options.h"

namespace tailtrace::storage {

// LZ4 (fast) for the levels that are rewritten often, ZSTD (small) for the bottommost level that
// holds most data; whatever this RocksDB build supports otherwise.
struct CompressionChoice {
  rocksdb::CompressionType upper = rocksdb::kNoCompression;
  rocksdb::CompressionType bottommost = rocksdb::kNoCompression;
};

// Everything RocksTraceStore::Open hands to RocksDB.
struct RocksConfig {
  rocksdb::DBOptions db;
  rocksdb::ColumnFamilyOptions bucket;   // "bucket-*": traces, indexes, dependency counts
  rocksdb::ColumnFamilyOptions small;    // "default" and "archive"
  rocksdb::ColumnFamilyOptions metrics;  // "span_metrics": points added up by a merge operator
  CompressionChoice compression;
};

// OK, or InvalidArgument naming the option that cannot work.
[[nodiscard]] absl::Status ValidateStoreOptions(const StoreOptions& options);
// Creates `path` if missing. FailedPrecondition when it is a regular file or cannot be created,
// PermissionDenied when it cannot be created or written; each naming the path.
[[nodiscard]] absl::Status PrepareStoreDirectory(const std::string& path);
// `env`: RocksDB's file access (nullptr: the default).
RocksConfig MakeRocksConfig(const StoreOptions& options, rocksdb::Env* env);

const char* CompressionName(rocksdb::CompressionType type);
// Whether `s` says that the RocksDB LOCK of the directory is held (by this or another process).
bool IsLockHeld(const rocksdb::Status& s);
// Maps a RocksDB status to absl: retryable failures (I/O, no space, busy, timed out, try again)
// to Unavailable, Corruption to DataLoss; the message is `context`: RocksDB's message.
absl::Status FromRocksStatus(const rocksdb::Status& s, std::string_view context);
// StoreOptions::min_free_disk_bytes, or its default.
uint64_t MinFreeBytes(const StoreOptions& options);
// Unavailable when the file system holding `path` has less than `reserve` bytes free.
absl::Status FreeSpaceStatus(const std::string& path, uint64_t reserve);

}  // namespace tailtrace::storage
