#pragma once

// Receivers -> router -> sampler shards -> store. The Pipeline is the SpanSink the receivers hand
// spans to: it splits each request by trace ID (hash % num_shards), admits it to every shard's
// bounded queue or to none (a full queue is Unavailable: backpressure, never a silent drop), and
// runs one thread per shard that buffers traces, decides them and writes the kept ones to the
// TraceStore in one batch per tick.
//
// With a write-ahead log (PipelineOptions::durability), Consume appends each request to the log
// before it returns OK, and Create first replays what the log holds (collector/span_log.h): spans
// of traces the store already has are skipped, the rest are buffered with their original arrival
// time (so their decision comes when it would have, on all of their spans in the log), and the
// store keeps them once decided.

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "collector/options.h"
#include "collector/sampler.h"
#include "collector/span_log.h"
#include "collector/span_sink.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "storage/trace_store.h"

namespace tailtrace::collector {

class Shard;
class TraceObserver;
struct KnownKept;

class Pipeline final : public SpanSink {
 public:
  // Starts the shard threads and replays the write-ahead log if there is one (failing, naming the
  // directory or file, when it cannot be read). `store`, `clock` and `metrics` must outlive the
  // pipeline. A null `sampler_factory` keeps every trace. `observer` (may be null; must outlive the
  // pipeline) sees every trace at its decision.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Pipeline>> Create(
      const PipelineOptions& options, storage::TraceStore* store, SamplerFactory sampler_factory,
      Clock* clock, MetricsRegistry* metrics, TraceObserver* observer = nullptr);
  ~Pipeline() override;

  // Thread-safe, non-blocking (but for the log's write). See SpanSink. Unavailable also when the
  // write-ahead log cannot be written.
  absl::Status Consume(WireRequest&& request) override;

  // Stops accepting spans, decides every buffered trace, writes the kept ones and joins the shard
  // threads. Store writes that keep failing are retried until `deadline_ms` from now; what is
  // still unwritten then is reported in the returned error (and stays in the write-ahead log for
  // the next start). Idempotent.
  [[nodiscard]] absl::Status Shutdown(int64_t deadline_ms);

  // Returns once every shard has processed everything queued before the call, decided the traces
  // due at the clock's current time and attempted to write them. For tests with a FakeClock.
  void SyncForTest();

  uint32_t num_shards() const { return static_cast<uint32_t>(shards_.size()); }

 private:
  // A request's spans by shard: indices into its spans, and their wire bytes.
  struct ShardParts {
    std::vector<std::vector<uint32_t>> spans;
    std::vector<uint64_t> bytes;
  };
  struct ReplayState;

  Pipeline(const PipelineOptions& options, storage::TraceStore* store, Clock* clock,
           MetricsRegistry* metrics);
  uint32_t ShardOf(const TraceId& id) const;
  ShardParts SplitByShard(const WireRequest& request) const;
  // Reserves queue room in every shard of `split` or in none (then `full_shard` is the first
  // that was full).
  bool TryReserve(const ShardParts& split, size_t* full_shard);
  // Reserves queue room, waiting for full shards to work off their queues.
  void ReserveWaiting(const ShardParts& split);
  // Gives back the room reserved in the first `shards` shards of `split` (all by default).
  void Release(const ShardParts& split, size_t shards = SIZE_MAX);
  // Hands the reserved parts of `request` (log record `lsn`, arrived at monotonic `arrival_ns`)
  // to their shards; `assume_kept` is empty or has one list per shard.
  void Push(WireRequest&& request, uint64_t lsn, int64_t arrival_ns, ShardParts&& split,
            std::vector<std::vector<KnownKept>>&& assume_kept);

  // Replay (pipeline_replay.cc).
  absl::Status OpenLog(MetricsRegistry* metrics);
  void Replay(uint64_t lsn, int64_t arrival_unix_ns, std::string_view bytes, ReplayState* state);
  // Removes from `request` the spans the store has; lists per shard the stored traces that still
  // have spans in it.
  void SkipStored(WireRequest* request, std::vector<std::vector<KnownKept>>* assume_kept,
                  ReplayState* state);

  PipelineOptions options_;
  storage::TraceStore* store_;
  Clock* clock_;
  // Declared before shards_: outlives the shards and the requests they hold.
  std::unique_ptr<SpanLog> log_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> accepting_{true};
  // Set while Create replays the log: the shards decide nothing meanwhile.
  std::atomic<bool> replaying_{false};
  Counter* refused_spans_;
};

}  // namespace tailtrace::collector
