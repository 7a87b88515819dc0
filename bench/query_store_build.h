#pragma once

// Private to tailtrace-bench-query (header-only, included by query_bench.cc alone): builds the
// store the query benchmark measures, as a daemon would have written it after receiving the
// workload's traces at a steady rate:
//   - several writer threads (the daemon runs one sampler shard per hardware thread) each write
//     batches of whole kept traces, at most 16384 spans per TraceStore::Write as a shard does;
//     batches are claimed in trace order, so traces are written roughly in start-time order, as a
//     daemon decides them;
//   - the store runs on a DataClock that follows the data: a batch is written at the start of its
//     newest trace + 2 s (the sampler decides a trace 2 s after its root arrives), so retention
//     buckets and index segments (sealed at 4096 traces or 5 s of age, storage/keys.h "The search
//     index") come out as in that daemon's store, however fast the benchmark writes. With the
//     real clock, segment sizes would depend on the benchmark's own write speed instead.
//     (A ClickHouse store runs on the real clock instead: query_bench.cc OpenStore says why.)

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_util.h"
#include "bench/workload.h"
#include "common/clock.h"
#include "proto/otlp_ids.h"
#include "storage/trace_store.h"

namespace tailtrace::bench {

// The most spans a sampler shard writes in one TraceStore::Write (collector/pipeline.cc).
inline constexpr int kShardWriteSpans = 16384;
// A kept trace is written this long after it starts: the sampler decides a trace 2 s after its
// root arrives (collector ShardOptions::decision_wait_after_root_received_ns).
inline constexpr int64_t kDecisionDelayNs = 2'000'000'000;
// The most data time (trace starts) one build write covers by default: a daemon at a slow rate
// writes a few traces per tick, and bigger writes would seal index segments later than it does.
inline constexpr int64_t kMaxBatchDataNs = 2'000'000'000;

// The store's clock while building: the time the daemon would write the newest trace written so
// far (moved by AdvanceTo). Never goes backwards. Thread-safe.
class DataClock final : public Clock {
 public:
  explicit DataClock(int64_t unix_ns) : unix_ns_(unix_ns), base_ns_(unix_ns) {}
  int64_t MonotonicNanos() const override {
    return unix_ns_.load(std::memory_order_acquire) - base_ns_ + 1'000'000'000;
  }
  int64_t UnixNanos() const override { return unix_ns_.load(std::memory_order_acquire); }
  void AdvanceTo(int64_t unix_ns) {
    int64_t cur = unix_ns_.load(std::memory_order_acquire);
    while (cur < unix_ns && !unix_ns_.compare_exchange_weak(cur, unix_ns)) {
    }
  }

 private:
  std::atomic<int64_t> unix_ns_;
  const int64_t base_ns_;
};

// Traces per write by default for `w` (its trace_spacing_ns set): kShardWriteSpans' worth, or
// fewer when they would start more than kMaxBatchDataNs apart; at least 1.
inline int DefaultBatchTraces(const WorkloadOptions& w) {
  const int64_t by_spans = kShardWriteSpans / std::max(1, w.spans_per_trace);
  const int64_t by_time = kMaxBatchDataNs / std::max<int64_t>(1, w.trace_spacing_ns);
  return static_cast<int>(std::clamp<int64_t>(std::min(by_spans, by_time), 1, kShardWriteSpans));
}

struct QueryBuildOptions {
  // Traces 0 .. traces - 1 of the generator are written.
  // Default: 0
  uint64_t traces = 0;
  // Writer threads.
  // Default: 1
  int writers = 1;
  // Traces per TraceStore::Write.
  // Default: 1
  int batch_traces = 1;
  // Stop claiming batches after this many wall seconds; 0 = no limit.
  // Default: 0
  double budget_seconds = 0;
};

struct QueryBuildResult {
  uint64_t written_traces = 0;      // traces 0 .. written_traces - 1 are stored
  double wall_seconds = 0;          // writing and the final Flush
  double cpu_seconds = 0;           // of the whole process, RocksDB background threads included
                                    // (not a ClickHouse server's)
  double generate_cpu_seconds = 0;  // writer threads generating traces
  double write_cpu_seconds = 0;     // writer threads in TraceStore::Write
};

// Writes the traces of `gen` to `store` (not owned) from options.writers threads, moving `clock`
// (not owned; may be the store's clock or unused by it) to each batch's write time, then flushes
// the store. Errors: the first failed Write or the Flush's error.
inline absl::StatusOr<QueryBuildResult> BuildQueryStore(const TraceGenerator& gen,
                                                        storage::TraceStore* store,
                                                        DataClock* clock,
                                                        const QueryBuildOptions& options) {
  using opentelemetry::proto::trace::v1::TracesData;
  const WorkloadOptions& w = gen.options();
  const uint64_t batch = static_cast<uint64_t>(std::max(1, options.batch_traces));
  const double cpu0 = ProcessCpuSeconds();
  const double wall0 = WallSeconds();
  const double deadline = options.budget_seconds > 0 ? wall0 + options.budget_seconds : 0;
  std::atomic<bool> failed{false};
  absl::Status first_error;
  std::mutex mu;
  // Batches are claimed in order, so the traces written are always 0 .. written_traces - 1.
  std::atomic<uint64_t> next_batch{0};
  QueryBuildResult result;
  auto writer = [&]() {
    std::vector<TracesData> data(batch);
    std::vector<storage::TraceWrite> writes;
    double generate_cpu = 0;
    double write_cpu = 0;
    while (!failed) {
      if (deadline > 0 && WallSeconds() >= deadline) break;
      const uint64_t first = next_batch.fetch_add(1) * batch;
      if (first >= options.traces) break;
      const double c0 = ThreadCpuSeconds();
      writes.clear();
      const uint64_t last = std::min<uint64_t>(options.traces, first + batch);
      for (uint64_t k = first; k < last; ++k) {
        TracesData& d = data[k - first];
        gen.BuildTracesData(k, &d);
        writes.push_back(
            storage::TraceWrite{TraceId::FromBytes(gen.TraceIdBytes(k)), &d, "", 1.0, {}});
      }
      const double c1 = ThreadCpuSeconds();
      clock->AdvanceTo(w.start_unix_ns + w.trace_spacing_ns * static_cast<int64_t>(last - 1) +
                       kDecisionDelayNs);
      absl::Status s = store->Write(writes);
      generate_cpu += c1 - c0;
      write_cpu += ThreadCpuSeconds() - c1;
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (!failed.exchange(true)) first_error = s;
      }
    }
    std::lock_guard lock(mu);
    result.generate_cpu_seconds += generate_cpu;
    result.write_cpu_seconds += write_cpu;
  };
  std::vector<std::thread> running;
  for (int t = 0; t < std::max(1, options.writers); ++t) running.emplace_back(writer);
  for (auto& th : running) th.join();
  if (failed) return first_error;
  // A thread that found the deadline passed claimed nothing; one that claimed past the end wrote
  // nothing: the claimed batches below `traces` were all written.
  result.written_traces = std::min<uint64_t>(options.traces, next_batch.load() * batch);
  if (absl::Status s = store->Flush(); !s.ok()) return s;
  result.wall_seconds = WallSeconds() - wall0;
  result.cpu_seconds = ProcessCpuSeconds() - cpu0;
  return result;
}

}  // namespace tailtrace::bench
