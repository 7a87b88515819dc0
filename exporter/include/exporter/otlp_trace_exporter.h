#pragma once

// The OTLP trace exporter: every kept trace handed to Enqueue is sent to another OTLP backend
// (otelcol, Jaeger, Tempo, Honeycomb, ...) over OTLP/gRPC or OTLP/HTTP protobuf.
//
// - Queue: Enqueue copies the trace's serialized spans into a queue bounded in bytes
//   (queue_size_bytes) and returns at once. A trace that does not fit is dropped, counted in
//   tailtrace_exporter_dropped_spans_total{reason="queue_full"} and logged (at most every 10 s):
//   a slow or absent backend never slows the sampler down.
// - Batches: one thread takes traces off the queue into a request of at most batch.max_spans
//   spans / batch.max_bytes bytes, sent once full or once its oldest trace waited batch.timeout.
//   Serialized TracesData and ExportTraceServiceRequest share their wire format (field 1:
//   repeated ResourceSpans), so a request is the traces' bytes concatenated: no re-encoding.
// - Retries: a retryable failure (see OtlpSender) is retried with exponential backoff
//   (backoff.h), or after the backend's own RetryInfo / Retry-After delay, until
//   retry.max_elapsed_time after the first attempt; then, or on a permanent failure, the request
//   is dropped (reason="send_failed"). Requests go one at a time, in order: while one is retried
//   the queue fills and, once full, drops.
// - Shutdown drains the queue, retrying until its deadline; what is left then is dropped
//   (reason="shutdown") and reported. A request in flight at the deadline may take up to one
//   `timeout` more.
//
// Metrics (in `metrics`): otelcol_exporter_sent_spans{exporter="otlp"},
// otelcol_exporter_send_failed_spans{exporter="otlp"},
// tailtrace_exporter_dropped_spans_total{reason="queue_full"|"send_failed"|"rejected"|"shutdown"},
// tailtrace_exporter_requests_total{outcome="ok"|"retryable"|"permanent"} (attempts),
// tailtrace_exporter_send_duration_seconds, tailtrace_exporter_queue_bytes,
// tailtrace_exporter_queue_capacity_bytes. One exporter per registry.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "exporter/options.h"
#include "exporter/otlp_sender.h"
#include "exporter/trace_exporter.h"

namespace tailtrace::exporter {

class OtlpTraceExporter final : public TraceExporter {
 public:
  // Starts the exporter's thread. Fails (InvalidArgument naming the key) for options out of
  // range or an endpoint / TLS file the sender refuses. `clock` (batch timeouts, the retry
  // schedule, log rate limits) and `metrics` must outlive the exporter.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OtlpTraceExporter>> Create(
      const OtlpExporterOptions& options, Clock* clock, MetricsRegistry* metrics);
  // The same over a given transport (tests: a fake backend). `options.endpoint` is only named in
  // log lines.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<OtlpTraceExporter>> Create(
      const OtlpExporterOptions& options, std::unique_ptr<OtlpSender> sender, Clock* clock,
      MetricsRegistry* metrics);
  // Shutdown(0) unless it was called: whatever is still queued is dropped and counted.
  ~OtlpTraceExporter() override;

  void Enqueue(const storage::TraceWrite& trace) override;
  absl::Status Shutdown(int64_t deadline_ms) override;
  ExporterStats Stats() const override;

 private:
  struct QueuedTrace {
    std::string bytes;  // a serialized TracesData
    uint64_t spans = 0;
    int64_t enqueued_ns = 0;  // clock_
  };
  // One request: ExportTraceServiceRequest bytes.
  struct Batch {
    std::string bytes;
    uint64_t spans = 0;
  };
  enum class DropReason { kQueueFull, kSendFailed, kRejected, kShutdown };
  struct Metrics;

  OtlpTraceExporter(const OtlpExporterOptions& options, std::unique_ptr<OtlpSender> sender,
                    Clock* clock, MetricsRegistry* metrics);

  void Run();
  // Waits for a batch to be due and takes it off the queue; false once stopping with an empty
  // queue.
  bool NextBatch(Batch* batch);
  void TakeBatch(Batch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendWithRetries(const Batch& batch);
  // The time one attempt may take: `timeout`, cut to what is left of the shutdown deadline
  // (<= 0: none left).
  int64_t AttemptTimeoutNs();
  // Waits until `retry_at_ns` (clock_); false when the shutdown deadline comes first.
  bool WaitUntilRetry(int64_t retry_at_ns);
  // Waits on cv_ for at most `ns`, in slices, so that an injected clock is re-read.
  void WaitFor(std::unique_lock<std::mutex>& lock, int64_t ns);
  void Drop(DropReason reason, uint64_t spans, std::string_view why);
  void NoteOutcome(const SendResult& result, uint64_t spans);

  const OtlpExporterOptions options_;
  const std::unique_ptr<OtlpSender> sender_;
  Clock* const clock_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedTrace> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t queued_spans_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t stop_deadline_ns_ ABSL_GUARDED_BY(mu_) = 0;  // steady clock (operational time)

  std::mutex shutdown_mu_;  // serializes Shutdown calls
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  absl::Status shutdown_status_ ABSL_GUARDED_BY(shutdown_mu_);

  std::mutex log_mu_;
  int64_t next_drop_log_ns_ ABSL_GUARDED_BY(log_mu_) = 0;
  uint64_t unlogged_dropped_spans_ ABSL_GUARDED_BY(log_mu_) = 0;

  // Owned by thread_.
  std::mt19937_64 random_;
  std::string last_error_;  // of the current failing streak; "" while sends succeed

  std::thread thread_;
};

}  // namespace tailtrace::exporter
