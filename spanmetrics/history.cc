#include "spanmetrics/history.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace tailtrace::spanmetrics {
namespace {

constexpr int64_t kMaxFlushIntervalNs = 10'000'000'000;

// The increase from `before` to `now` of one series (zero `before` for a new series), as a point.
storage::MetricPoint Increase(const storage::MetricSeries& labels,
                              const Histogram::Snapshot& before, const Histogram::Snapshot& now,
                              int64_t slot_ns) {
  storage::MetricPoint point;
  point.series = labels;
  point.time_ns = slot_ns;
  point.bounds_ms = now.bounds;
  point.counts = now.counts;
  const bool same = before.counts.size() == now.counts.size();
  for (size_t i = 0; i < point.counts.size(); ++i) {
    const uint64_t old = same ? before.counts[i] : 0;
    point.counts[i] = point.counts[i] >= old ? point.counts[i] - old : 0;
    point.calls += point.counts[i];
  }
  point.sum_ms = std::max(0.0, now.sum - (same ? before.sum : 0.0));
  return point;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHistory>> MetricsHistory::Create(
    const SpanMetricsOptions& options, SpanMetrics* span_metrics, ServiceGraph* graph,
    storage::TraceStore* store, Clock* clock, MetricsRegistry* metrics) {
  if (options.resolution_ns <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.resolution must be positive, got ", options.resolution_ns, " ns"));
  }
  return std::unique_ptr<MetricsHistory>(
      new MetricsHistory(options.resolution_ns, span_metrics, graph, store, clock, metrics));
}

MetricsHistory::MetricsHistory(int64_t resolution_ns, SpanMetrics* span_metrics,
                               ServiceGraph* graph, storage::TraceStore* store, Clock* clock,
                               MetricsRegistry* metrics)
    : resolution_ns_(resolution_ns),
      flush_interval_ns_(std::min(resolution_ns, kMaxFlushIntervalNs)),
      span_metrics_(span_metrics),
      graph_(graph),
      store_(store),
      clock_(clock),
      write_failures_(metrics->GetCounter(
          "tailtrace_span_metrics_history_write_failures_total",
          "Writes of span metric points to the store that failed (the points are retried).")),
      dropped_points_(metrics->GetCounter(
          "tailtrace_span_metrics_history_dropped_points_total",
          "Span metric points and dependency call counts dropped because the store refused them "
          "for too long.")) {}

MetricsHistory::~MetricsHistory() { Stop().IgnoreError(); }

size_t MetricsHistory::pending_points() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void MetricsHistory::CollectIncreases(int64_t slot_ns) {
  for (SpanMetrics::SeriesTotals& totals : span_metrics_->Totals()) {
    Histogram::Snapshot& last = last_[totals.id];
    storage::MetricPoint point = Increase(totals.labels, last, totals.duration, slot_ns);
    last = std::move(totals.duration);
    if (point.calls == 0) continue;
    auto [it, inserted] = pending_.try_emplace({slot_ns, point.series}, point);
    if (!inserted) storage::AddMetricPoint(it->second, point);
  }
}

void MetricsHistory::DropOldestPending() {
  size_t dropped = 0;
  while (pending_.size() > kMaxPendingPoints) {
    const int64_t oldest = pending_.begin()->first.first;
    while (!pending_.empty() && pending_.begin()->first.first == oldest) {
      pending_.erase(pending_.begin());
      ++dropped;
    }
  }
  if (dropped == 0) return;
  dropped_points_->Increment(dropped);
  spdlog::error(
      "span metrics: dropped {} points of the oldest slots: the store refused them for "
      "too long",
      dropped);
}

absl::Status MetricsHistory::Write() {
  std::lock_guard lock(mu_);
  absl::Status points = WritePoints();
  absl::Status calls = WriteCalls();
  if (!points.ok() || !calls.ok()) write_failures_->Increment();
  return points.ok() ? calls : points;
}

absl::Status MetricsHistory::WritePoints() {
  const int64_t now = std::max<int64_t>(clock_->UnixNanos(), 0);
  CollectIncreases(now - now % resolution_ns_);
  if (pending_.empty()) return absl::OkStatus();
  std::vector<storage::MetricPoint> points;
  points.reserve(pending_.size());
  for (const auto& [key, point] : pending_) points.push_back(point);
  absl::Status written = store_->WriteMetricPoints(points);
  if (written.ok()) {
    pending_.clear();
  } else {
    DropOldestPending();
  }
  return written;
}

absl::Status MetricsHistory::WriteCalls() {
  if (graph_ == nullptr) return absl::OkStatus();
  std::vector<storage::DependencyCalls> taken = graph_->TakeCalls();
  pending_calls_.insert(pending_calls_.end(), std::make_move_iterator(taken.begin()),
                        std::make_move_iterator(taken.end()));
  if (pending_calls_.empty()) return absl::OkStatus();
  absl::Status written = store_->WriteDependencyCalls(pending_calls_);
  if (written.ok()) {
    pending_calls_.clear();
  } else if (pending_calls_.size() > kMaxPendingPoints) {
    const size_t dropped = pending_calls_.size() - kMaxPendingPoints;
    pending_calls_.erase(pending_calls_.begin(), pending_calls_.begin() + dropped);
    dropped_points_->Increment(dropped);
    spdlog::error(
        "service graph: dropped {} dependency call counts: the store refused them for "
        "too long",
        dropped);
  }
  return written;
}

size_t MetricsHistory::pending_calls() const {
  std::lock_guard lock(mu_);
  return pending_calls_.size();
}

void MetricsHistory::Start() {
  std::lock_guard lock(loop_mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void MetricsHistory::Loop() {
  SetCurrentThreadName("tt-metrics-hist");
  std::unique_lock lock(loop_mu_);
  while (!stop_) {
    loop_cv_.wait_for(lock, std::chrono::nanoseconds(flush_interval_ns_), [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    if (absl::Status s = Write(); !s.ok()) {
      spdlog::warn("span metrics: writing the history failed, will retry: {}",
                   std::string(s.message()));
    }
    lock.lock();
  }
}

absl::Status MetricsHistory::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    if (stop_) return absl::OkStatus();
    stop_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return Write();
}

}  // namespace tailtrace::spanmetrics
