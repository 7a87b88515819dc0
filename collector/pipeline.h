#pragma once

// Receivers -> router -> sampler shards -> store. The Pipeline is the SpanSink the receivers hand
// spans to: it splits each request by trace ID (hash % num_shards), admits it to every shard's
// bounded queue or to none (a full queue is Unavailable: backpressure, never a silent drop), and
// runs one thread per shard that buffers traces, decides them and writes the kept ones to the
// TraceStore in one batch per tick.

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "collector/options.h"
#include "collector/sampler.h"
#include "collector/span_sink.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "storage/trace_store.h"

namespace tailtrace::collector {

class Shard;

class Pipeline final : public SpanSink {
 public:
  // Starts the shard threads. `store`, `clock` and `metrics` must outlive the pipeline. A null
  // `sampler_factory` keeps every trace.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Pipeline>> Create(
      const PipelineOptions& options, storage::TraceStore* store, SamplerFactory sampler_factory,
      Clock* clock, MetricsRegistry* metrics);
  ~Pipeline() override;

  // Thread-safe, non-blocking. See SpanSink.
  absl::Status Consume(WireRequest&& request) override;

  // Stops accepting spans, decides every buffered trace, writes the kept ones and joins the shard
  // threads. Store writes that keep failing are retried until `deadline_ms` from now; what is
  // still unwritten then is reported in the returned error. Idempotent.
  [[nodiscard]] absl::Status Shutdown(int64_t deadline_ms);

  // Returns once every shard has processed everything queued before the call, decided the traces
  // due at the clock's current time and attempted to write them. For tests with a FakeClock.
  void SyncForTest();

  uint32_t num_shards() const { return static_cast<uint32_t>(shards_.size()); }

 private:
  Pipeline(const PipelineOptions& options, Clock* clock, MetricsRegistry* metrics);
  uint32_t ShardOf(const TraceId& id) const;

  PipelineOptions options_;
  Clock* clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> accepting_{true};
  Counter* refused_spans_;
};

}  // namespace tailtrace::collector
