#pragma once

// The process memory limiter: refuses new data while the resident set size is above the soft limit
// (limit - spike limit), as the OpenTelemetry Collector's memory_limiter processor does.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/options.h"
#include "common/clock.h"

namespace tailtrace::collector {

// Where the resident set size comes from (tests inject one). Thread-safe.
class RssSource {
 public:
  virtual ~RssSource() = default;
  [[nodiscard]] virtual absl::StatusOr<uint64_t> RssBytes() = 0;
  // /proc/self/statm. Never null, never destroyed.
  static RssSource* Proc();
};

// The memory the process may use: the cgroup v2 limit (/sys/fs/cgroup/memory.max) when it is a
// number smaller than MemTotal, else MemTotal (/proc/meminfo); 0 if neither can be read.
uint64_t AvailableMemoryBytes();

// Thread-safe. The hot path (Refusing) is a clock read and two atomic loads; the RSS is re-read at
// most once per check_interval_ns (store clock, monotonic), by whichever caller comes first.
class MemoryLimiter {
 public:
  // `available_bytes` is what limit_percentage applies to (AvailableMemoryBytes() in the daemon).
  // InvalidArgument (naming the memory_limiter key) for impossible options: a spike limit not
  // below the limit, a percentage outside 1-100, a limit of 0 bytes. `rss` and `clock` are not
  // owned and must outlive the limiter.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MemoryLimiter>> Create(
      const MemoryLimiterOptions& options, uint64_t available_bytes, RssSource* rss, Clock* clock);

  // Whether new data must be refused now (RSS above the soft limit).
  bool Refusing();
  // OK, or Unavailable naming the RSS and the limit when refusing.
  absl::Status Check();

  uint64_t limit_bytes() const { return limit_bytes_; }
  uint64_t spike_limit_bytes() const { return spike_limit_bytes_; }
  uint64_t soft_limit_bytes() const { return limit_bytes_ - spike_limit_bytes_; }
  // The RSS of the last check (0 before the first).
  uint64_t rss_bytes() const { return rss_bytes_.load(std::memory_order_relaxed); }

 private:
  MemoryLimiter(int64_t interval_ns, uint64_t limit, uint64_t spike, RssSource* rss, Clock* clock);
  void Refresh(int64_t now_ns);

  const int64_t interval_ns_;
  const uint64_t limit_bytes_;
  const uint64_t spike_limit_bytes_;
  RssSource* const rss_;
  Clock* const clock_;
  std::atomic<int64_t> next_check_ns_;
  std::atomic<uint64_t> rss_bytes_{0};
  std::atomic<bool> refusing_{false};
};

}  // namespace tailtrace::collector
