#pragma once

// Private to cluster/: waits for a number of asynchronous gRPC calls to complete (their
// callbacks count down on gRPC's threads). Each call has a deadline, so a Wait is bounded by it.

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace tailtrace::cluster::internal {

// Thread-safe.
class Latch {
 public:
  explicit Latch(size_t count) : count_(count) {}
  Latch(const Latch&) = delete;
  Latch& operator=(const Latch&) = delete;

  void CountDown() {
    std::lock_guard lock(mu_);
    if (--count_ == 0) done_.notify_all();
  }
  // Returns once CountDown was called `count` times (at once for 0).
  void Wait() {
    std::unique_lock lock(mu_);
    done_.wait(lock, [this] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  size_t count_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::cluster::internal
