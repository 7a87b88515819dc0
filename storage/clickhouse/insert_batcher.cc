#include "insert_batcher.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace tailtrace::storage::clickhouse {
namespace {

// How often a waiting leader looks at the clock (which may be a test's fake clock).
constexpr int64_t kClockPollNs = 10'000'000;

}  // namespace

InsertBatcher::InsertBatcher(Options options, Clock* clock, Send send)
    : options_(options), clock_(clock), send_(std::move(send)) {}

absl::Status InsertBatcher::Submit(std::string_view rows, uint64_t count) {
  std::unique_lock lock(mu_);
  std::shared_ptr<Batch> batch = open_;
  const bool leader = batch == nullptr;
  if (leader) {
    batch = std::make_shared<Batch>();
    batch->opened_ns = clock_->MonotonicNanos();
    open_ = batch;
  }
  batch->rows.append(rows);
  batch->count += count;
  if (leader) return Lead(lock, batch);
  cv_.notify_all();  // the leader may be waiting for a full batch
  cv_.wait(lock, [&batch] { return batch->sent; });
  return batch->status;
}

absl::Status InsertBatcher::Lead(std::unique_lock<std::mutex>& lock,
                                 const std::shared_ptr<Batch>& batch) {
  const int64_t due_ns = batch->opened_ns + options_.flush_interval_ns;
  while (batch->count < options_.max_rows) {
    const int64_t left_ns = due_ns - clock_->MonotonicNanos();
    if (left_ns <= 0) break;
    cv_.wait_for(lock, std::chrono::nanoseconds(std::min(left_ns, kClockPollNs)));
  }
  // Rows arriving from now on go into the next batch.
  open_ = nullptr;
  lock.unlock();
  absl::Status status = send_(batch->rows);
  lock.lock();
  batch->status = status;
  batch->sent = true;
  batch->rows = std::string();
  cv_.notify_all();
  return status;
}

}  // namespace tailtrace::storage::clickhouse
