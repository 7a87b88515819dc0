#include "common/memory_trimmer.h"

#include <unistd.h>

#include <chrono>
#include <fstream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/thread_name.h"

namespace tailtrace {

MemoryTrimmer::MemoryTrimmer(const MemoryTrimmerOptions& options)
    : options_(options), thread_([this] { Run(); }) {}

MemoryTrimmer::~MemoryTrimmer() { Stop(); }

bool MemoryTrimmer::TrimNow() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

uint64_t MemoryTrimmer::IdleResidentBytes() {
#if defined(__GLIBC__)
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  const uint64_t resident = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const struct mallinfo2 info = mallinfo2();
  const uint64_t in_use = info.uordblks + info.hblkhd;
  return resident > in_use ? resident - in_use : 0;
#else
  return 0;
#endif
}

bool MemoryTrimmer::TrimIfIdle(uint64_t min_idle_bytes) {
  return IdleResidentBytes() >= min_idle_bytes && TrimNow();
}

void MemoryTrimmer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MemoryTrimmer::Run() {
  SetCurrentThreadName("tt-mem-trimmer");
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                         [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; })) {
    lock.unlock();
    TrimIfIdle(options_.min_idle_bytes);
    lock.lock();
  }
}

}  // namespace tailtrace
