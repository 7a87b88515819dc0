#pragma once

// Gives freed heap memory back to the operating system now and then (glibc's malloc_trim, or
// jemalloc's purge of every arena when the process links jemalloc, as tailtraced does).
// glibc keeps what a burst freed in its per-thread arenas: after one request with 2M distinct
// attribute keys the daemon's RSS stayed at 1.2 GiB, 0.8 GiB of it free heap memory, until
// malloc_trim returned it. Elsewhere than glibc it does nothing.
//
// A trim is not free: it madvises every free page of every arena away (each call a TLB shootdown
// across the process's CPUs), and the next allocations fault the pages back in. Trimming every
// 10 s under load cost a node up to 0.2 CPU-s per trim, a third of the page faults it took; so
// the trimmer trims only when a lot of resident memory is not in use.

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
  // Trims only when IdleResidentBytes() is at least this.
  // Default: 256 MiB
  uint64_t min_idle_bytes = 256ull << 20;
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

  // Trims when IdleResidentBytes() >= `min_idle_bytes`: true when it trimmed and memory was
  // given back. Thread-safe.
  static bool TrimIfIdle(uint64_t min_idle_bytes);

  // The process's resident memory minus what malloc has handed out (glibc's mallinfo2, or
  // jemalloc's stats.allocated): mostly freed heap memory not yet given back (plus code, thread
  // stacks and the like, some tens of MiB). 0 with another allocator.
  static uint64_t IdleResidentBytes();

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
