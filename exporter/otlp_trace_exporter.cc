#include "exporter/otlp_trace_exporter.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/thread_name.h"
#include "exporter/backoff.h"
#include "proto/wire_traces.h"
#include "spdlog/spdlog.h"

namespace tailtrace::exporter {
namespace {

// At most one "dropped" log line per interval; the others are summed into the next one.
constexpr int64_t kDropLogIntervalNs = 10'000'000'000;
// Longest single wait of the exporter thread while work is pending, so that a test's FakeClock
// moving forward is noticed without a notification.
constexpr int64_t kMaxWaitSliceNs = 100'000'000;

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* ReasonLabel(int reason) {
  static constexpr const char* kLabels[] = {"queue_full", "send_failed", "rejected", "shutdown"};
  return kLabels[reason];
}

absl::Status ValidateOptions(const OtlpExporterOptions& o) {
  const auto bad = [](std::string_view key, std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("exporters.otlp.", std::string(key), ": ", std::string(what)));
  };
  if (o.timeout_ns <= 0) return bad("timeout", "must be greater than 0");
  if (o.queue_size_bytes == 0) return bad("sending_queue.queue_size", "must be at least 1 byte");
  const RetryOptions& r = o.retry;
  if (r.initial_interval_ns <= 0) return bad("retry_on_failure.initial_interval", "must be > 0");
  if (r.max_interval_ns < r.initial_interval_ns) {
    return bad("retry_on_failure.max_interval", "must be at least initial_interval");
  }
  if (r.max_elapsed_time_ns < 0) return bad("retry_on_failure.max_elapsed_time", "is negative");
  if (!(r.multiplier >= 1)) return bad("retry_on_failure.multiplier", "must be at least 1");
  if (!(r.randomization_factor >= 0 && r.randomization_factor <= 1)) {
    return bad("retry_on_failure.randomization_factor", "must be from 0 to 1");
  }
  if (o.batch.max_spans == 0 || o.batch.max_bytes == 0 || o.batch.timeout_ns <= 0) {
    return absl::InvalidArgumentError("exporter: batch bounds must be greater than 0");
  }
  return absl::OkStatus();
}

}  // namespace

struct OtlpTraceExporter::Metrics {
  explicit Metrics(MetricsRegistry* registry) {
    const Labels exporter = {{"exporter", "otlp"}};
    sent = registry->GetCounter("otelcol_exporter_sent_spans", "Spans the backend acknowledged.",
                                exporter);
    send_failed = registry->GetCounter(
        "otelcol_exporter_send_failed_spans",
        "Spans of requests that failed for good (permanent error or retries exhausted).", exporter);
    for (int r = 0; r < 4; ++r) {
      dropped[r] = registry->GetCounter("tailtrace_exporter_dropped_spans_total",
                                        "Kept spans that were not exported, by reason.",
                                        {{"reason", ReasonLabel(r)}});
    }
    for (auto [i, outcome] : {std::pair{0, "ok"}, {1, "retryable"}, {2, "permanent"}}) {
      requests[i] =
          registry->GetCounter("tailtrace_exporter_requests_total",
                               "Export request attempts, by outcome.", {{"outcome", outcome}});
    }
    latency = registry->GetHistogram("tailtrace_exporter_send_duration_seconds",
                                     "Duration of one export request attempt.",
                                     MetricsRegistry::LatencyBuckets());
    queue_bytes = registry->GetGauge("tailtrace_exporter_queue_bytes",
                                     "Bytes of kept traces waiting to be exported.");
    queue_capacity = registry->GetGauge("tailtrace_exporter_queue_capacity_bytes",
                                        "exporters.otlp.sending_queue.queue_size.");
  }

  Counter* sent;
  Counter* send_failed;
  Counter* dropped[4];
  Counter* requests[3];
  Histogram* latency;
  Gauge* queue_bytes;
  Gauge* queue_capacity;
};

absl::StatusOr<std::unique_ptr<OtlpTraceExporter>> OtlpTraceExporter::Create(
    const OtlpExporterOptions& options, Clock* clock, MetricsRegistry* metrics) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<OtlpSender>> sender = MakeOtlpSender(options);
  if (!sender.ok()) return sender.status();
  return Create(options, *std::move(sender), clock, metrics);
}

absl::StatusOr<std::unique_ptr<OtlpTraceExporter>> OtlpTraceExporter::Create(
    const OtlpExporterOptions& options, std::unique_ptr<OtlpSender> sender, Clock* clock,
    MetricsRegistry* metrics) {
  if (sender == nullptr || clock == nullptr || metrics == nullptr) {
    return absl::InvalidArgumentError("exporter: sender, clock or metrics missing");
  }
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  std::unique_ptr<OtlpTraceExporter> exporter(
      new OtlpTraceExporter(options, std::move(sender), clock, metrics));
  exporter->thread_ = std::thread([e = exporter.get()] { e->Run(); });
  return exporter;
}

OtlpTraceExporter::OtlpTraceExporter(const OtlpExporterOptions& options,
                                     std::unique_ptr<OtlpSender> sender, Clock* clock,
                                     MetricsRegistry* metrics)
    : options_(options),
      sender_(std::move(sender)),
      clock_(clock),
      metrics_(std::make_unique<Metrics>(metrics)),
      random_(std::random_device{}()) {
  metrics_->queue_capacity->Set(static_cast<int64_t>(options_.queue_size_bytes));
}

OtlpTraceExporter::~OtlpTraceExporter() {
  {
    // The result of an earlier Shutdown is its caller's to report.
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
  }
  absl::Status s = Shutdown(0);
  if (!s.ok()) spdlog::warn("{}", std::string(s.message()));
}

void OtlpTraceExporter::Enqueue(const storage::TraceWrite& trace) {
  QueuedTrace queued;
  if (trace.spans != nullptr) {
    queued.spans = storage::SpanCountOf(*trace.spans);
  } else {
    // Only the bytes (the pipeline's kept traces): their spans are counted without objects.
    const std::optional<size_t> spans = CountWireSpans(trace.spans_bytes);
    if (!spans) return;  // the store refuses them too
    queued.spans = *spans;
  }
  if (queued.spans == 0) return;
  // Copied outside the lock; the pipeline usually has the wire bytes already.
  if (!trace.spans_bytes.empty()) {
    queued.bytes.assign(trace.spans_bytes.data(), trace.spans_bytes.size());
  } else {
    trace.spans->SerializeToString(&queued.bytes);
  }
  queued.enqueued_ns = clock_->MonotonicNanos();
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    Drop(DropReason::kShutdown, queued.spans, "the exporter is shutting down");
    return;
  }
  if (queued_bytes_ + queued.bytes.size() > options_.queue_size_bytes) {
    lock.unlock();
    Drop(DropReason::kQueueFull, queued.spans,
         absl::StrCat("the ", options_.queue_size_bytes,
                      "-byte queue (exporters.otlp.sending_queue.queue_size) is full: the backend "
                      "takes traces slower than they are kept, or is down"));
    return;
  }
  const bool was_empty = queue_.empty();
  const bool was_full =
      queued_spans_ >= options_.batch.max_spans || queued_bytes_ >= options_.batch.max_bytes;
  queued_bytes_ += queued.bytes.size();
  queued_spans_ += queued.spans;
  metrics_->queue_bytes->Set(static_cast<int64_t>(queued_bytes_));
  queue_.push_back(std::move(queued));
  const bool now_full =
      queued_spans_ >= options_.batch.max_spans || queued_bytes_ >= options_.batch.max_bytes;
  lock.unlock();
  // Wake the thread only when it has something new to do: start a batch timer, or send a batch
  // that just became full.
  if (was_empty || (now_full && !was_full)) cv_.notify_one();
}

absl::Status OtlpTraceExporter::Shutdown(int64_t deadline_ms) {
  std::lock_guard shutdown_lock(shutdown_mu_);
  if (shut_down_) return shutdown_status_;
  const uint64_t dropped_before =
      metrics_->dropped[static_cast<int>(DropReason::kShutdown)]->Value();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stop_deadline_ns_ = SteadyNanos() + std::max<int64_t>(deadline_ms, 0) * 1'000'000;
  }
  cv_.notify_all();
  thread_.join();
  shut_down_ = true;
  const uint64_t unsent =
      metrics_->dropped[static_cast<int>(DropReason::kShutdown)]->Value() - dropped_before;
  if (unsent > 0) {
    shutdown_status_ = absl::UnavailableError(
        absl::StrCat("exporter: ", unsent, " spans could not be sent to ", options_.endpoint,
                     " before the shutdown deadline",
                     last_error_.empty() ? "" : absl::StrCat(" (last error: ", last_error_, ")")));
  }
  return shutdown_status_;
}

ExporterStats OtlpTraceExporter::Stats() const {
  ExporterStats s;
  s.sent_spans = metrics_->sent->Value();
  s.sent_requests = metrics_->requests[0]->Value();
  s.attempts = s.sent_requests + metrics_->requests[1]->Value() + metrics_->requests[2]->Value();
  s.dropped_queue_full = metrics_->dropped[0]->Value();
  s.dropped_send_failed = metrics_->dropped[1]->Value();
  s.dropped_rejected = metrics_->dropped[2]->Value();
  s.dropped_shutdown = metrics_->dropped[3]->Value();
  std::lock_guard lock(mu_);
  s.queued_bytes = queued_bytes_;
  return s;
}

void OtlpTraceExporter::Run() {
  SetCurrentThreadName("tt-exporter");
  Batch batch;
  while (NextBatch(&batch)) SendWithRetries(batch);
}

bool OtlpTraceExporter::NextBatch(Batch* batch) {
  std::unique_lock lock(mu_);
  while (true) {
    if (queue_.empty()) {
      if (stopping_) return false;
      cv_.wait(lock);
      continue;
    }
    if (stopping_ || queued_spans_ >= options_.batch.max_spans ||
        queued_bytes_ >= options_.batch.max_bytes) {
      break;
    }
    const int64_t due = queue_.front().enqueued_ns + options_.batch.timeout_ns;
    const int64_t now = clock_->MonotonicNanos();
    if (now >= due) break;
    WaitFor(lock, due - now);
  }
  TakeBatch(batch);
  return true;
}

void OtlpTraceExporter::TakeBatch(Batch* batch) {
  batch->bytes.clear();
  batch->spans = 0;
  // Whole traces, at least one (a trace larger than the bounds goes alone).
  while (!queue_.empty()) {
    const QueuedTrace& next = queue_.front();
    if (batch->spans > 0 && (batch->spans + next.spans > options_.batch.max_spans ||
                             batch->bytes.size() + next.bytes.size() > options_.batch.max_bytes)) {
      break;
    }
    batch->bytes += next.bytes;
    batch->spans += next.spans;
    queued_bytes_ -= next.bytes.size();
    queued_spans_ -= next.spans;
    queue_.pop_front();
  }
  metrics_->queue_bytes->Set(static_cast<int64_t>(queued_bytes_));
}

void OtlpTraceExporter::SendWithRetries(const Batch& batch) {
  const int64_t first_ns = clock_->MonotonicNanos();
  for (int retry = 0;; ++retry) {
    const int64_t timeout_ns = AttemptTimeoutNs();
    if (timeout_ns <= 0) {
      Drop(DropReason::kShutdown, batch.spans, "the shutdown deadline passed");
      return;
    }
    const int64_t start_ns = clock_->MonotonicNanos();
    const SendResult result = sender_->Send(batch.bytes, timeout_ns);
    metrics_->latency->Observe(static_cast<double>(clock_->MonotonicNanos() - start_ns) / 1e9);
    NoteOutcome(result, batch.spans);
    if (result.kind == SendResult::Kind::kOk) return;
    if (result.kind == SendResult::Kind::kPermanent || !options_.retry.enabled) {
      metrics_->send_failed->Increment(batch.spans);
      Drop(DropReason::kSendFailed, batch.spans, result.message);
      return;
    }
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const int64_t delay_ns = result.retry_after_ns >= 0
                                 ? result.retry_after_ns
                                 : BackoffDelayNs(options_.retry, retry, uniform(random_));
    const int64_t retry_at = clock_->MonotonicNanos() + delay_ns;
    const int64_t max_elapsed = options_.retry.max_elapsed_time_ns;
    if (max_elapsed > 0 && retry_at - first_ns > max_elapsed) {
      metrics_->send_failed->Increment(batch.spans);
      Drop(DropReason::kSendFailed, batch.spans,
           absl::StrCat("gave up after ", retry + 1,
                        " attempts (retry_on_failure.max_elapsed_time): ", result.message));
      return;
    }
    if (!WaitUntilRetry(retry_at)) {
      Drop(DropReason::kShutdown, batch.spans,
           absl::StrCat("the shutdown deadline comes before the next retry: ", result.message));
      return;
    }
  }
}

int64_t OtlpTraceExporter::AttemptTimeoutNs() {
  std::lock_guard lock(mu_);
  if (!stopping_) return options_.timeout_ns;
  return std::min(options_.timeout_ns, stop_deadline_ns_ - SteadyNanos());
}

bool OtlpTraceExporter::WaitUntilRetry(int64_t retry_at_ns) {
  std::unique_lock lock(mu_);
  while (true) {
    const int64_t left = retry_at_ns - clock_->MonotonicNanos();
    if (left <= 0) return true;
    if (stopping_ && SteadyNanos() + left > stop_deadline_ns_) return false;
    WaitFor(lock, left);
  }
}

void OtlpTraceExporter::WaitFor(std::unique_lock<std::mutex>& lock, int64_t ns) {
  cv_.wait_for(lock, std::chrono::nanoseconds(std::min(ns, kMaxWaitSliceNs)));
}

void OtlpTraceExporter::NoteOutcome(const SendResult& result, uint64_t spans) {
  metrics_->requests[static_cast<int>(result.kind)]->Increment();
  if (result.kind != SendResult::Kind::kOk) {
    // One line per streak of failures (and when the error changes), not one per attempt.
    if (result.message != last_error_) {
      spdlog::warn("exporter: sending {} spans to {} failed{}: {}", spans, options_.endpoint,
                   result.kind == SendResult::Kind::kRetryable ? " (will retry)" : "",
                   result.message);
    }
    last_error_ = result.message;
    return;
  }
  if (!last_error_.empty()) spdlog::info("exporter: sending to {} works again", options_.endpoint);
  last_error_.clear();
  const uint64_t rejected = std::min<uint64_t>(static_cast<uint64_t>(result.rejected_spans), spans);
  metrics_->sent->Increment(spans - rejected);
  if (rejected > 0) {
    Drop(DropReason::kRejected, rejected,
         absl::StrCat("the backend rejected them (partial success): ", result.message));
  }
}

void OtlpTraceExporter::Drop(DropReason reason, uint64_t spans, std::string_view why) {
  metrics_->dropped[static_cast<int>(reason)]->Increment(spans);
  std::lock_guard lock(log_mu_);
  unlogged_dropped_spans_ += spans;
  const int64_t now = clock_->MonotonicNanos();
  if (now < next_drop_log_ns_) return;
  spdlog::warn("exporter: dropped {} spans since the last such message; latest: {} spans ({}): {}",
               unlogged_dropped_spans_, spans, ReasonLabel(static_cast<int>(reason)),
               std::string(why));
  unlogged_dropped_spans_ = 0;
  next_drop_log_ns_ = now + kDropLogIntervalNs;
}

}  // namespace tailtrace::exporter
