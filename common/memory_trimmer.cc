#include "common/memory_trimmer.h"

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <optional>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/thread_name.h"

// jemalloc's control interface, when the process links jemalloc (tailtraced does, CMake's
// TAILTRACE_JEMALLOC): a weak reference, null otherwise. With jemalloc, glibc's malloc_trim and
// mallinfo2 see an empty heap of their own.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace tailtrace {
namespace {

bool Jemalloc() { return mallctl != nullptr; }

// Bytes jemalloc has handed out (stats.allocated, refreshed); nullopt when it cannot say.
std::optional<uint64_t> JemallocAllocatedBytes() {
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  if (mallctl("epoch", &epoch, &size, &epoch, sizeof(epoch)) != 0) return std::nullopt;
  size_t allocated = 0;
  size = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0) return std::nullopt;
  return allocated;
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

MemoryTrimmer::MemoryTrimmer(const MemoryTrimmerOptions& options)
    : options_(options), thread_([this] { Run(); }) {}

MemoryTrimmer::~MemoryTrimmer() { Stop(); }

bool MemoryTrimmer::TrimNow() {
  if (Jemalloc()) {
    // Every arena's unused pages back to the system (MALLCTL_ARENAS_ALL is 4096).
    return mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;
  }
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

uint64_t MemoryTrimmer::IdleResidentBytes() {
  uint64_t in_use = 0;
  if (Jemalloc()) {
    const std::optional<uint64_t> allocated = JemallocAllocatedBytes();
    if (!allocated.has_value()) return 0;
    in_use = *allocated;
  } else {
#if defined(__GLIBC__)
    const struct mallinfo2 info = mallinfo2();
    in_use = info.uordblks + info.hblkhd;
#else
    return 0;
#endif
  }
  const uint64_t resident = ResidentBytes();
  return resident > in_use ? resident - in_use : 0;
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
