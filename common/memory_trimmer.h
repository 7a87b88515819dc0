#pragma once

// Gives freed heap memory back to the operating system now and then (glibc's malloc_trim).
// glibc keeps what a burst freed in its per-thread arenas: after one request with 2M distinct
// attribute keys the daemon's RSS stayed at 1.2 GiB, 0.8 GiB of it free heap memory, until
// malloc_trim returned it. Elsewhere than glibc it does nothing.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace tailtrace {

struct MemoryTrimmerOptions {
  // How often the heap is trimmed. Each trim walks the heap's free lists (milliseconds for
  // GiBs of heap).
  // Default: 10 s
  int64_t interval_ms = 10'000;
};

class MemoryTrimmer {
 public:
  // Starts the background thread; Stop() or the destructor ends it.
  explicit MemoryTrimmer(const MemoryTrimmerOptions& options);
  ~MemoryTrimmer();
  MemoryTrimmer(const MemoryTrimmer&) = delete;
  MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

  // Trims once, now: true when memory was given back. Thread-safe.
  static bool TrimNow();

  // Ends the thread (idempotent).
  void Stop();

 private:
  void Run();

  const MemoryTrimmerOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tailtrace
