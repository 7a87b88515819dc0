#pragma once

// The production TraceStore: an embedded RocksDB database in StoreOptions::path. The key layout is
// documented in storage/keys.h. RocksDB headers stay out of this header.
//
// Durability: every Write goes through the write-ahead log before it returns OK, so acknowledged
// spans survive a crash of the process (the WAL is not fsynced per write: a power loss may lose
// the last writes since the most recent Flush() or background flush).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "common/clock.h"
#include "storage/options.h"
#include "storage/trace_store.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Status;
}  // namespace rocksdb

namespace tailtrace::storage {

// Thread-safe, except that Close() (and destruction) must not run concurrently with other calls.
class RocksTraceStore final : public TraceStore {
 public:
  // Opens (creating if missing) the store at options.path. `clock` is not owned and must outlive
  // the store. Errors: FailedPrecondition when the path is a regular file or another process (or
  // another store in this process) holds the RocksDB LOCK; PermissionDenied when the directory
  // cannot be created or written; DataLoss for a corrupt database; each naming the path.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RocksTraceStore>> Open(
      const StoreOptions& options, Clock* clock);

  // Closes the database if Close() was not called.
  ~RocksTraceStore() override;

  RocksTraceStore(const RocksTraceStore&) = delete;
  RocksTraceStore& operator=(const RocksTraceStore&) = delete;

  absl::Status Write(std::span<const TraceWrite> traces) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override;
  absl::StatusOr<std::vector<std::string>> GetServices() override;
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind = -1) override;
  absl::Status Flush() override;
  // traces_written and spans_written count since Open; disk_bytes is the live SST files of all
  // column families plus the WAL files.
  StoreStats Stats() const override;

  // Releases the database (and its LOCK). Idempotent. Afterwards every other method returns
  // FailedPrecondition (Stats() returns the counters with disk_bytes 0).
  [[nodiscard]] absl::Status Close();

  const std::string& path() const { return path_; }

  // Compacts every column family down to its last level (so bottommost compression applies).
  [[nodiscard]] absl::Status CompactForTest();
  // The compression algorithm names ("LZ4", "ZSTD", ...) of the live SST files of the "spans"
  // column family, one entry per file.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> SpanFileCompressionsForTest();

 private:
  RocksTraceStore(std::string path, Clock* clock);

  // Reads or writes the format version and the chunk_seq reservation; loads known meta keys.
  absl::Status Init();
  // Returns the first of `n` consecutive new chunk sequence numbers.
  absl::StatusOr<uint64_t> AllocateChunkSeqs(uint64_t n);
  absl::Status CheckOpen() const;
  // Maps a RocksDB status to absl: retryable failures (I/O, no space, busy, timed out, try again)
  // to Unavailable, Corruption to DataLoss; the message is `context`: RocksDB's message.
  static absl::Status FromRocks(const rocksdb::Status& s, std::string_view context);

  const std::string path_;
  Clock* const clock_;

  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* spans_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  std::atomic<bool> closed_{false};

  std::mutex seq_mu_;
  uint64_t last_seq_ ABSL_GUARDED_BY(seq_mu_) = 0;
  // Persisted upper bound of handed-out sequence numbers (kChunkSeqReservedKey).
  uint64_t reserved_seq_ ABSL_GUARDED_BY(seq_mu_) = 0;

  // Encoded "meta" keys known to be stored, so a write only Puts new ones.
  std::mutex meta_mu_;
  absl::flat_hash_set<std::string> known_meta_keys_ ABSL_GUARDED_BY(meta_mu_);

  std::atomic<uint64_t> traces_written_{0};
  std::atomic<uint64_t> spans_written_{0};
};

}  // namespace tailtrace::storage
