#pragma once

// Time source for every timeout, decision and retention check, so tests can inject time.

#include <atomic>
#include <cstdint>

namespace tailtrace {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds, for timers and deadlines. Never goes backwards.
  virtual int64_t MonotonicNanos() const = 0;
  // Wall-clock nanoseconds since the Unix epoch, for timestamps that leave the process.
  virtual int64_t UnixNanos() const = 0;

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t unix_nanos = 1'700'000'000'000'000'000) : unix_ns_(unix_nanos) {}
  int64_t MonotonicNanos() const override { return mono_ns_.load(std::memory_order_acquire); }
  int64_t UnixNanos() const override { return unix_ns_.load(std::memory_order_acquire); }
  void Advance(int64_t nanos) {
    mono_ns_.fetch_add(nanos, std::memory_order_acq_rel);
    unix_ns_.fetch_add(nanos, std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> mono_ns_{1'000'000'000};
  std::atomic<int64_t> unix_ns_;
};

}  // namespace tailtrace
