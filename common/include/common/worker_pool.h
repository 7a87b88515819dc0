#pragma once

// A fixed set of threads running queued tasks, with a bounded queue. The cluster's query server
// runs its store reads here rather than on gRPC's callback threads (which also serve the OTLP
// receiver on the same port and must not wait behind a slow search); the query API reads the
// traces of a search here in parallel.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace tailtrace {

// Thread-safe.
class WorkerPool {
 public:
  // max(`threads`, 1) threads, named `thread_name` (thread_name.h); at most `max_queued` tasks
  // wait for one.
  WorkerPool(int threads, size_t max_queued, std::string thread_name);
  // Runs the tasks still queued, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and `task` is dropped) when max_queued tasks are already waiting.
  bool TrySubmit(std::function<void()> task);

  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Run();

  const size_t max_queued_;
  const std::string thread_name_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace tailtrace
