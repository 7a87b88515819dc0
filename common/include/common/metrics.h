#pragma once

// A minimal metrics registry rendered in the Prometheus text exposition format. Metric objects
// are owned by the registry, live as long as it, and are safe to update from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace tailtrace {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative histogram with fixed upper bounds (in the metric's unit, e.g. seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Snapshot: per-bucket (non-cumulative) counts, one more than bounds for +Inf; sum; count.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> counts;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Snap() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the metric with that name and labels, creating it on first use. The same name must
  // always be used with the same kind. Pointers stay valid for the registry's lifetime.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});
  // A gauge whose value is read from `fn` at render time (e.g. bytes on disk). `fn` must stay
  // callable for the registry's lifetime or until the same name/labels are registered again.
  void SetCallbackGauge(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> fn);
  // The same for a counter (rendered with `# TYPE counter`): a total that another component
  // keeps. `fn` must never decrease.
  void SetCallbackCounter(const std::string& name, const std::string& help, const Labels& labels,
                          std::function<double()> fn);
  // Removes the callback series of that name and labels (e.g. of a peer that left): it is no
  // longer rendered, and its `fn` is no longer called once this returns. The family's HELP and
  // TYPE lines stay. No-op when there is no such series.
  void RemoveCallback(const std::string& name, const Labels& labels);

  // The Prometheus text format (version 0.0.4) of every metric, sorted by name.
  std::string RenderPrometheus() const;

  // Default latency buckets in seconds, 0.5 ms .. 10 s.
  static std::vector<double> LatencyBuckets();

 private:
  enum class Kind { kCounter, kGauge, kHistogram, kCallback, kCallbackCounter };
  struct Family {
    Kind kind;
    std::string help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
    std::map<Labels, std::function<double()>> callbacks;
  };
  Family& FamilyLocked(const std::string& name, const std::string& help, Kind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace
