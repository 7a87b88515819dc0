#pragma once

// Private to cluster/: a fixed set of threads running queued tasks, with a bounded queue.
// The query server runs its store reads here rather than on gRPC's callback threads, which also
// serve the OTLP receiver on the same port and must not wait behind a slow search.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace tailtrace::cluster::internal {

// Thread-safe.
class WorkerPool {
 public:
  // `threads` >= 1 threads; at most `max_queued` tasks wait for one.
  WorkerPool(int threads, size_t max_queued);
  // Runs the tasks still queued, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and `task` is dropped) when max_queued tasks are already waiting.
  bool TrySubmit(std::function<void()> task);

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace tailtrace::cluster::internal
