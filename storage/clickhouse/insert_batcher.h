#pragma once

// Private to storage/clickhouse/: group commit. Concurrent writers' rows gather into one INSERT
// (ClickHouse wants few, large inserts: each makes a part per partition, and too many parts
// stall merges), and each writer learns the result of the INSERT that carried its rows.
//
// A batch is sent once it holds `max_rows` rows, or once `flush_interval_ns` has passed (by the
// clock) since its first rows arrived. The first writer of a batch sends it; the others wait for
// its result. While a batch is being sent, new rows gather into the next one.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/clock.h"

namespace tailtrace::storage::clickhouse {

// Thread-safe.
class InsertBatcher {
 public:
  // Sends one batch: its rows' bytes, concatenated in arrival order.
  using Send = std::function<absl::Status(std::string_view rows)>;

  struct Options {
    uint64_t max_rows = 100'000;
    // 0: every Submit sends its rows at once (its own batch).
    int64_t flush_interval_ns = 0;
  };

  // `clock` is not owned and must outlive the batcher.
  InsertBatcher(Options options, Clock* clock, Send send);

  // Adds `rows` (`count` rows of bytes) to the open batch and returns once that batch was sent:
  // the Send's status (the rows are not stored when it failed).
  [[nodiscard]] absl::Status Submit(std::string_view rows, uint64_t count);

 private:
  struct Batch {
    std::string rows;
    uint64_t count = 0;
    int64_t opened_ns = 0;
    bool sent = false;
    absl::Status status;
  };

  // Run by the batch's first writer: waits until the batch is full or due, then sends it.
  absl::Status Lead(std::unique_lock<std::mutex>& lock, const std::shared_ptr<Batch>& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  Clock* const clock_;
  const Send send_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Batch> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::storage::clickhouse
