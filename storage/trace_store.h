#pragma once

// The storage seam: everything the collector writes and the query API reads goes through
// TraceStore. The RocksDB implementation is RocksTraceStore (rocks_trace_store.h); unit tests use
// InMemoryTraceStore (in_memory_trace_store.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"

namespace tailtrace::storage {

// Spans of one trace to be written, grouped by resource and scope as OTLP groups them. Writing
// the same trace again (late spans) adds to it; nothing is overwritten.
struct TraceWrite {
  TraceId trace_id;
  // Every span in here belongs to trace_id. Not owned; must outlive the Write call.
  const opentelemetry::proto::trace::v1::TracesData* spans = nullptr;
  // The sampling policy that kept the trace ("" when none applies).
  std::string sampling_policy;
  // 1 / probability of keeping such a trace; 1 keeps all.
  double sample_rate = 1.0;
};

// A trace read back: all spans ever written for it, grouped by resource and scope.
struct StoredTrace {
  TraceId trace_id;
  opentelemetry::proto::trace::v1::TracesData data;
  std::string sampling_policy;
  double sample_rate = 1.0;
};

struct Operation {
  std::string name;
  // OTLP SpanKind number (0 unspecified .. 5 consumer).
  int span_kind = 0;
  friend bool operator==(const Operation&, const Operation&) = default;
  friend auto operator<=>(const Operation&, const Operation&) = default;
};

struct StoreStats {
  uint64_t traces_written = 0;  // trace writes (a late-span write counts again)
  uint64_t spans_written = 0;
  uint64_t disk_bytes = 0;  // live SST + WAL bytes on disk
};

// Thread-safe: every method may be called concurrently.
class TraceStore {
 public:
  virtual ~TraceStore() = default;

  // Writes several traces atomically (one batch). Unavailable for a retryable failure (e.g. disk
  // full), another code for a permanent one; on error nothing of the batch is stored.
  [[nodiscard]] virtual absl::Status Write(std::span<const TraceWrite> traces) = 0;

  // The whole trace, or nullopt if no span of it is stored.
  [[nodiscard]] virtual absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) = 0;

  // Every service name seen, sorted.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> GetServices() = 0;

  // The operations of `service`, sorted by name then kind; `span_kind` < 0 means every kind.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Operation>> GetOperations(
      const std::string& service, int span_kind = -1) = 0;

  // Makes everything written so far durable (memtables flushed).
  [[nodiscard]] virtual absl::Status Flush() = 0;

  virtual StoreStats Stats() const = 0;
};

}  // namespace tailtrace::storage
