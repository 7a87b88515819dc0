#pragma once

// Kept traces leaving tailtraced for another backend. A TraceExporter takes the spans of each
// kept trace (as written to the TraceStore), queues them and sends them on its own thread(s);
// ExportingTraceStore (exporting_trace_store.h) is how the pipeline feeds it without knowing.

#include <cstdint>

#include "absl/status/status.h"
#include "storage/trace_store.h"

namespace tailtrace::exporter {

// Counts since the exporter was created (also on /metrics, see OtlpTraceExporter).
struct ExporterStats {
  uint64_t sent_spans = 0;           // acknowledged by the backend
  uint64_t sent_requests = 0;        // requests acknowledged
  uint64_t attempts = 0;             // request attempts, retries included
  uint64_t dropped_queue_full = 0;   // spans that found the queue full
  uint64_t dropped_send_failed = 0;  // spans of requests that failed for good
  uint64_t dropped_rejected = 0;     // spans the backend rejected (OTLP partial success)
  uint64_t dropped_shutdown = 0;     // spans still unsent at the shutdown deadline
  uint64_t queued_bytes = 0;         // now
};

// Thread-safe.
class TraceExporter {
 public:
  virtual ~TraceExporter() = default;

  // Queues a copy of `trace`'s spans (the TraceWrite need not outlive the call). Never blocks:
  // a trace that does not fit the queue, or that comes after Shutdown, is dropped and counted.
  virtual void Enqueue(const storage::TraceWrite& trace) = 0;

  // Stops taking traces, sends everything queued (retrying failures) until `deadline_ms` from
  // now, and stops the exporter's threads. Returns an error counting the spans that could not be
  // sent by then. Idempotent.
  [[nodiscard]] virtual absl::Status Shutdown(int64_t deadline_ms) = 0;

  virtual ExporterStats Stats() const = 0;
};

}  // namespace tailtrace::exporter
