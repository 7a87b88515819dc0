#pragma once

// Keeps the span metrics' history in the store: every flush interval, what each series counted
// since the last write goes to the store as a point of the current slot (storage/metric_points.h;
// slot = the clock's time rounded down to the resolution), and the calls the service graph counted
// go to the store's dependency calls (storage::TraceStore::WriteDependencyCalls). The store adds up
// the points of a slot, so the history survives restarts: a restarted process counts from zero and
// keeps adding.
//
// Time: spans count in the slot of the write that carries them, i.e. up to one flush interval
// after they were received (never before); the flush interval is at most 10 s and at most the
// resolution. A write the store refuses (unwritable, closed) is kept and tried again with the next
// one, up to kMaxPendingPoints points (and as many dependency call counts); beyond that the oldest
// are dropped, counted in tailtrace_span_metrics_history_dropped_points_total and logged. What is
// still pending when the process dies is lost (at most one flush interval of counts, or the time
// the store was down).

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "spanmetrics/service_graph.h"
#include "spanmetrics/span_metrics.h"
#include "storage/trace_store.h"

namespace tailtrace::spanmetrics {

inline constexpr size_t kMaxPendingPoints = 1'000'000;

class MetricsHistory {
 public:
  // Of `options`, resolution_ns applies (the slot width; InvalidArgument unless > 0). None of the
  // pointers is owned; all must outlive this. `graph` may be null (no dependency calls written).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetricsHistory>> Create(
      const SpanMetricsOptions& options, SpanMetrics* span_metrics, ServiceGraph* graph,
      storage::TraceStore* store, Clock* clock, MetricsRegistry* metrics);
  ~MetricsHistory();
  MetricsHistory(const MetricsHistory&) = delete;
  MetricsHistory& operator=(const MetricsHistory&) = delete;

  // Writes what was counted since the last write (and whatever is still pending) now.
  // The store's error when it refused: what it refused stays pending. Thread-safe.
  absl::Status Write();

  // A thread that calls Write() every flush interval (operational wall time) until Stop().
  void Start();
  // Stops the thread, then writes once more (what was counted up to now). Idempotent.
  absl::Status Stop();

  int64_t flush_interval_ns() const { return flush_interval_ns_; }
  size_t pending_points() const;
  size_t pending_calls() const;

 private:
  MetricsHistory(int64_t resolution_ns, SpanMetrics* span_metrics, ServiceGraph* graph,
                 storage::TraceStore* store, Clock* clock, MetricsRegistry* metrics);
  absl::Status WritePoints() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteCalls() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the increase of every series since the last call to pending_ at slot `slot_ns`.
  void CollectIncreases(int64_t slot_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropOldestPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();

  const int64_t resolution_ns_;
  const int64_t flush_interval_ns_;
  SpanMetrics* const span_metrics_;
  ServiceGraph* const graph_;
  storage::TraceStore* const store_;
  Clock* const clock_;
  Counter* const write_failures_;
  Counter* const dropped_points_;

  mutable std::mutex mu_;
  // The totals of each series at the last collection.
  absl::flat_hash_map<const void*, Histogram::Snapshot> last_ ABSL_GUARDED_BY(mu_);
  // Points not yet written, by (slot, series).
  std::map<std::pair<int64_t, storage::MetricSeries>, storage::MetricPoint> pending_
      ABSL_GUARDED_BY(mu_);
  // Dependency calls not yet written (a write was refused), oldest first.
  std::vector<storage::DependencyCalls> pending_calls_ ABSL_GUARDED_BY(mu_);

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stop_ ABSL_GUARDED_BY(loop_mu_) = false;
  std::thread thread_;
};

}  // namespace tailtrace::spanmetrics
