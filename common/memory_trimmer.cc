#include "common/memory_trimmer.h"

#include <chrono>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

void MemoryTrimmer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MemoryTrimmer::Run() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                         [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; })) {
    lock.unlock();
    TrimNow();
    lock.lock();
  }
}

}  // namespace tailtrace
