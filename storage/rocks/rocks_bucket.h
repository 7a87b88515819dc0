#pragma once

// Private to the RocksTraceStore implementation (includes RocksDB): one retention bucket, i.e. one
// column family "bucket-<start_ns>-<end_ns>" and what the store keeps in memory about it.

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"

namespace tailtrace::storage {

// Shared by the store's bucket list and by calls in progress, so that a bucket dropped by
// retention stays readable until the last call using it returns; the column family handle (and
// with it the dropped bucket's files) is released by the destructor.
class RocksBucket {
 public:
  RocksBucket(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* handle, BucketRange range,
              const IndexSegments::Options& segment_options = {})
      : db_(db), handle_(handle), range_(range), segments_(segment_options) {}
  ~RocksBucket() { db_->DestroyColumnFamilyHandle(handle_).PermitUncheckedError(); }

  RocksBucket(const RocksBucket&) = delete;
  RocksBucket& operator=(const RocksBucket&) = delete;

  rocksdb::ColumnFamilyHandle* handle() const { return handle_; }
  const BucketRange& range() const { return range_; }

  // The bucket's unsealed index segments.
  IndexSegments& segments() { return segments_; }
  const IndexSegments& segments() const { return segments_; }

  // The trace starts indexed in this bucket lie within [min_start(), max_start()] (a superset:
  // the range only grows). Empty (min > max) when no trace was written.
  int64_t min_start() const { return min_start_.load(std::memory_order_acquire); }
  int64_t max_start() const { return max_start_.load(std::memory_order_acquire); }
  bool has_traces() const { return min_start() <= max_start(); }
  void ExtendStartRange(int64_t start_ns) {
    int64_t cur = min_start_.load(std::memory_order_relaxed);
    while (start_ns < cur && !min_start_.compare_exchange_weak(cur, start_ns)) {
    }
    cur = max_start_.load(std::memory_order_relaxed);
    while (start_ns > cur && !max_start_.compare_exchange_weak(cur, start_ns)) {
    }
  }

  // Whether the bucket holds index segments of store format 4 (service tag streams, keys.h), as
  // found when the store opened it: a bucket this build wrote holds none.
  bool has_format4_segments() const { return format4_segments_.load(std::memory_order_acquire); }
  void set_has_format4_segments() { format4_segments_.store(true, std::memory_order_release); }

  // The service and operation name keys stored in this bucket.
  bool HasName(const std::string& key) const {
    std::lock_guard lock(names_mu_);
    return names_.contains(key);
  }
  void AddName(std::string key) {
    std::lock_guard lock(names_mu_);
    names_.insert(std::move(key));
  }
  template <typename Fn>
  void ForEachName(Fn&& fn) const {
    std::lock_guard lock(names_mu_);
    for (const std::string& key : names_) fn(key);
  }

 private:
  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const handle_;
  const BucketRange range_;
  IndexSegments segments_;
  std::atomic<int64_t> min_start_{std::numeric_limits<int64_t>::max()};
  std::atomic<int64_t> max_start_{std::numeric_limits<int64_t>::min()};
  std::atomic<bool> format4_segments_{false};
  mutable std::mutex names_mu_;
  absl::flat_hash_set<std::string> names_ ABSL_GUARDED_BY(names_mu_);
};

// The column family options of every bucket (prefix bloom on tag + trace ID, the dependency
// count merge operator, compression), built once at Open.
struct RocksBucketOptions {
  rocksdb::ColumnFamilyOptions cf;
};

}  // namespace tailtrace::storage
