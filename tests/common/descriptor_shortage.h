#pragma once

// Running the test process out of file descriptors for real: the soft RLIMIT_NOFILE lowered a
// little above the highest descriptor in use, the rest filled with /dev/null.

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

// Under the sanitizers a process out of descriptors cannot be tested: UBSan's vptr check probes
// memory through a pipe(2), which then fails with EMFILE, and it reports every virtual call as on
// an object of the wrong type. These tests run in the Release build.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TAILTRACE_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS() \
  GTEST_SKIP() << "out of descriptors under a sanitizer: see descriptor_shortage.h"
#else
#define TAILTRACE_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS() (void)0
#endif

namespace tailtrace::testing {

// The highest descriptor open in this process.
inline int HighestOpenFd() {
  int highest = -1;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  return highest;
}

// Lowers the soft RLIMIT_NOFILE to 16 above the highest descriptor in use and opens /dev/null
// until open() fails with EMFILE. On destruction the limit is restored first (so that descriptors
// are plentiful at once, not one by one) and the fillers closed.
class DescriptorShortage {
 public:
  DescriptorShortage() {
    ok_ = ::getrlimit(RLIMIT_NOFILE, &saved_) == 0;
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(HighestOpenFd() + 16);
    ok_ = ok_ && lowered.rlim_cur < saved_.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
    while (ok_) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ok_ = errno == EMFILE;
        break;
      }
      fillers_.push_back(fd);
    }
  }
  ~DescriptorShortage() { End(); }
  DescriptorShortage(const DescriptorShortage&) = delete;
  DescriptorShortage& operator=(const DescriptorShortage&) = delete;

  // Whether the process is out of descriptors (until Release or End).
  bool ok() const { return ok_; }
  // Closes `n` of the fillers.
  void Release(size_t n) {
    for (; n > 0 && !fillers_.empty(); --n) {
      ::close(fillers_.back());
      fillers_.pop_back();
    }
  }
  // Restores the limit and closes every filler. Idempotent.
  void End() {
    if (ended_) return;
    ended_ = true;
    ::setrlimit(RLIMIT_NOFILE, &saved_);
    Release(fillers_.size());
  }

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
  bool ok_ = false;
  bool ended_ = false;
};

// Polls `done` every millisecond for up to 5 s.
inline bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace tailtrace::testing
