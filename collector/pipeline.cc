#include "collector/pipeline.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "collector/shard.h"
#include "common/thread_name.h"
#include "pipeline_internal.h"
#include "spdlog/spdlog.h"

namespace tailtrace::collector {

namespace {

struct PipelineMetrics {
  Counter* stored_traces;
  Counter* stored_spans;
  Counter* store_errors;
  Counter* late_kept;
  Counter* late_dropped;
  Counter* early_memory;
  Counter* early_trace_count;
  Counter* early_trace_size;
  Counter* cache_hits_kept;
  Counter* cache_hits_dropped;
  Gauge* buffered_traces;
  Gauge* buffered_bytes;
  Histogram* write_latency;
};

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Kept spans decided per store write: bounds the memory of decided traces waiting to be written.
constexpr uint64_t kWriteBatchSpans = 16384;

namespace {

// A request handed to the shards, with the log record it came from: unpinned once every shard
// that got some of its spans took them.
struct LoggedRequest {
  LoggedRequest(WireRequest&& r, uint64_t l, SpanLog* g) : request(std::move(r)), lsn(l), log(g) {}
  ~LoggedRequest() {
    if (log != nullptr && lsn != kNoLsn) log->Unpin(lsn);
  }
  LoggedRequest(const LoggedRequest&) = delete;
  LoggedRequest& operator=(const LoggedRequest&) = delete;

  WireRequest request;
  uint64_t lsn;
  SpanLog* log;
};

}  // namespace

// One sampler shard: a thread that owns a ShardCore. Other threads talk to it only through its
// queue (admission is accounted in bytes so that the queue is bounded).
class Shard {
 public:
  // `log` (null: no write-ahead log) must outlive the shard. While `*replaying` is set the shard
  // buffers what it is given and decides nothing, so that a trace replayed from the log is
  // decided on all of its spans there, not on those of its first record.
  Shard(uint32_t index, const PipelineOptions& options, const ShardOptions& shard_options,
        std::unique_ptr<Sampler> sampler, storage::TraceStore* store, Clock* clock,
        PipelineMetrics metrics, SpanLog* log, const std::atomic<bool>* replaying)
      : index_(index),
        options_(options),
        core_(shard_options, std::move(sampler)),
        store_(store),
        clock_(clock),
        metrics_(metrics),
        log_(log),
        replaying_(replaying) {
    thread_ = std::thread([this] {
      SetCurrentThreadName(absl::StrCat("tt-shard-", index_));
      Run();
    });
  }

  ~Shard() { Stop(); }

  // Reserves room for `bytes` in the queue; false when it is full. An empty queue admits any
  // single request, so one request larger than the bound is not refused forever.
  bool TryReserve(uint64_t bytes) {
    uint64_t current = queued_bytes_.load(std::memory_order_relaxed);
    while (true) {
      if (current != 0 && current + bytes > options_.max_queue_bytes_per_shard) return false;
      if (queued_bytes_.compare_exchange_weak(current, current + bytes,
                                              std::memory_order_acq_rel)) {
        return true;
      }
    }
  }
  void Release(uint64_t bytes) { queued_bytes_.fetch_sub(bytes, std::memory_order_acq_rel); }

  // Reserves room for `bytes`, waiting for the shard to work off its queue while it is full.
  // For replay, which must not refuse what the log holds.
  void Reserve(uint64_t bytes) {
    while (!TryReserve(bytes)) Sync();
  }

  // Queues the spans of `request` at indices `spans` (all of traces this shard owns). Requires
  // a successful TryReserve(bytes). `arrival_ns` (monotonic) starts the traces' wait; `lsn` is
  // the request's write-ahead log record (0: none); the traces in `assume_kept` were stored
  // before (see ShardCore::AssumeKept).
  void Push(std::shared_ptr<const WireRequest> request, std::vector<uint32_t>&& spans,
            uint64_t bytes, int64_t arrival_ns, uint64_t lsn,
            std::vector<KnownKept>&& assume_kept = {}) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Batch{std::move(request), std::move(spans), bytes, arrival_ns, lsn,
                             std::move(assume_kept)});
    }
    cv_.notify_one();
  }

  void Sync() {
    std::promise<void> done;
    std::future<void> future = done.get_future();
    {
      std::lock_guard lock(mu_);
      if (draining_) return;
      queue_.push_back(Barrier{&done});
    }
    cv_.notify_one();
    future.wait();
  }

  // Decides everything, writes (retrying until `deadline_ns` of SteadyNanos()), joins.
  absl::Status Drain(int64_t deadline_ns) {
    {
      std::lock_guard lock(mu_);
      drain_deadline_ns_ = deadline_ns;
      draining_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    return drain_status_;
  }

  void Stop() {
    if (thread_.joinable()) (void)Drain(SteadyNanos());
  }

 private:
  struct Batch {
    // Shared by the shards that own some of its spans; freed (and its log record unpinned) when
    // the last one is done.
    std::shared_ptr<const WireRequest> request;
    std::vector<uint32_t> spans;
    uint64_t bytes;
    int64_t arrival_ns;
    uint64_t lsn;
    std::vector<KnownKept> assume_kept;
  };
  struct Barrier {
    std::promise<void>* done;
  };
  using Item = std::variant<Batch, Barrier>;

  void Run() {
    std::deque<Item> items;
    while (true) {
      bool draining = false;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::nanoseconds(options_.tick_interval_ns),
                     [this] { return !queue_.empty() || draining_; });
        items.swap(queue_);
        draining = draining_;
      }
      std::vector<Barrier> barriers;
      for (Item& item : items) {
        if (auto* batch = std::get_if<Batch>(&item)) {
          for (const KnownKept& k : batch->assume_kept) {
            core_.AssumeKept(k.trace_id, k.policy, k.sample_rate);
          }
          core_.Add(*batch->request, batch->spans, batch->arrival_ns, &ready_, batch->lsn);
          Release(batch->bytes);
        } else {
          barriers.push_back(std::get<Barrier>(item));
        }
      }
      // The shard holds the records it took before their pins go with the requests.
      PublishOldestHeld();
      items.clear();
      const int64_t now = clock_->MonotonicNanos();
      // Decided traces are parsed back into objects several times their buffered size, so they
      // are decided and written a bounded batch at a time.
      // A failed write leaves ready_ non-empty: the rest waits for the next tick.
      bool more = false;
      if (!replaying_->load(std::memory_order_acquire)) more = DecideAndWrite(now, draining);
      PublishStats();
      PublishOldestHeld();
      if (log_ != nullptr) log_->Truncate();
      for (Barrier& b : barriers) b.done->set_value();
      if (draining) {
        // The shutdown deadline is operational wall time, not the injected clock.
        while ((more || !ready_.empty()) && SteadyNanos() < drain_deadline_ns_) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          WriteReady();
          if (ready_.empty()) more = DecideAndWrite(now, /*all=*/true);
        }
        if (more || !ready_.empty()) {
          uint64_t spans = 0;
          for (const DecidedTrace& t : ready_) spans += t.span_count;
          const std::string undecided =
              more ? absl::StrCat(" and ", core_.buffered_traces(), " undecided traces") : "";
          drain_status_ = absl::UnavailableError(
              absl::StrCat("shard ", index_, ": ", ready_.size(), " traces (", spans, " spans)",
                           undecided, " could not be written before the shutdown deadline: ",
                           std::string(last_write_error_.message())));
        }
        PublishOldestHeld();
        // Anyone still waiting on a barrier is released.
        std::lock_guard lock(mu_);
        for (Item& item : queue_) {
          if (auto* b = std::get_if<Barrier>(&item)) b->done->set_value();
        }
        queue_.clear();
        return;
      }
    }
  }

  // Decides due traces (every trace with `all`) and writes the kept ones, a batch of at most
  // kWriteBatchSpans kept spans at a time, until none is due or a write fails. Returns whether
  // traces that are due are left undecided.
  bool DecideAndWrite(int64_t now, bool all) {
    while (true) {
      const bool more = all ? core_.DecideAll(now, &ready_, kWriteBatchSpans)
                            : core_.DecideDue(now, &ready_, kWriteBatchSpans);
      WriteReady();
      if (!more || !ready_.empty()) return more;
    }
  }

  void WriteReady() {
    if (ready_.empty()) return;
    std::vector<storage::TraceWrite> writes;
    writes.reserve(ready_.size());
    uint64_t spans = 0;
    for (const DecidedTrace& t : ready_) {
      const auto* parsed = t.spans_parsed ? &t.spans : nullptr;
      writes.push_back(
          storage::TraceWrite{t.trace_id, parsed, t.policy, t.sample_rate, t.spans_bytes});
      spans += t.span_count;
    }
    const int64_t start = clock_->MonotonicNanos();
    absl::Status status = store_->Write(writes);
    metrics_.write_latency->Observe(static_cast<double>(clock_->MonotonicNanos() - start) / 1e9);
    if (!status.ok()) {
      // Acknowledged spans are never dropped: keep them and retry on the next tick. The buffer
      // grows meanwhile and backpressure reaches the clients.
      metrics_.store_errors->Increment();
      if (last_write_error_.ok() || last_write_error_.code() != status.code()) {
        spdlog::error("shard {}: store write of {} traces failed, will retry: {}", index_,
                      ready_.size(), std::string(status.message()));
      }
      last_write_error_ = status;
      return;
    }
    if (!last_write_error_.ok()) spdlog::info("shard {}: store writes succeed again", index_);
    last_write_error_ = absl::OkStatus();
    metrics_.stored_traces->Increment(ready_.size());
    metrics_.stored_spans->Increment(spans);
    for (const DecidedTrace& t : ready_) core_.Written(t);
    ready_.clear();
  }

  void PublishOldestHeld() {
    if (log_ != nullptr) log_->SetOldestHeld(index_, core_.oldest_held_lsn());
  }

  void PublishStats() {
    const ShardStats& s = core_.stats();
    metrics_.late_kept->Increment(s.late_spans_kept - published_.late_spans_kept);
    metrics_.late_dropped->Increment(s.late_spans_dropped - published_.late_spans_dropped);
    metrics_.early_memory->Increment(s.early_decisions_memory - published_.early_decisions_memory);
    metrics_.early_trace_count->Increment(s.early_decisions_trace_count -
                                          published_.early_decisions_trace_count);
    metrics_.early_trace_size->Increment(s.early_decisions_trace_size -
                                         published_.early_decisions_trace_size);
    metrics_.cache_hits_kept->Increment(s.decision_cache_hits_kept -
                                        published_.decision_cache_hits_kept);
    metrics_.cache_hits_dropped->Increment(s.decision_cache_hits_dropped -
                                           published_.decision_cache_hits_dropped);
    published_ = s;
    const auto traces = static_cast<int64_t>(core_.buffered_traces());
    const auto bytes = static_cast<int64_t>(core_.buffered_bytes());
    metrics_.buffered_traces->Add(traces - published_traces_);
    metrics_.buffered_bytes->Add(bytes - published_bytes_);
    published_traces_ = traces;
    published_bytes_ = bytes;
  }

  const uint32_t index_;
  const PipelineOptions options_;
  ShardCore core_;  // only touched by thread_
  storage::TraceStore* store_;
  Clock* clock_;
  PipelineMetrics metrics_;
  SpanLog* const log_;
  const std::atomic<bool>* const replaying_;

  std::atomic<uint64_t> queued_bytes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // guarded by mu_
  bool draining_ = false;   // guarded by mu_
  int64_t drain_deadline_ns_ = 0;

  // Owned by thread_.
  std::vector<DecidedTrace> ready_;
  absl::Status last_write_error_;
  absl::Status drain_status_;
  ShardStats published_;
  int64_t published_traces_ = 0;
  int64_t published_bytes_ = 0;

  std::thread thread_;
};

Pipeline::Pipeline(const PipelineOptions& options, storage::TraceStore* store, Clock* clock,
                   MetricsRegistry* metrics)
    : options_(options),
      store_(store),
      clock_(clock),
      refused_spans_(metrics->GetCounter("tailtrace_pipeline_refused_spans_total",
                                         "Spans refused because the pipeline was full.")) {}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(const PipelineOptions& options,
                                                           storage::TraceStore* store,
                                                           SamplerFactory sampler_factory,
                                                           Clock* clock, MetricsRegistry* metrics,
                                                           TraceObserver* observer) {
  if (store == nullptr || clock == nullptr || metrics == nullptr) {
    return absl::InvalidArgumentError("pipeline: store, clock and metrics are required");
  }
  if (options.decision_wait_ns <= 0) {
    return absl::InvalidArgumentError("sampling.decision_wait must be positive");
  }
  uint32_t n = options.num_shards;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  if (!sampler_factory) {
    sampler_factory = [](uint32_t, uint32_t) { return std::make_unique<KeepAllSampler>(); };
  }
  PipelineMetrics m{
      metrics->GetCounter("tailtrace_stored_traces_total",
                          "Trace writes to the store (late spans of a kept trace count again)."),
      metrics->GetCounter("tailtrace_stored_spans_total", "Spans written to the store."),
      metrics->GetCounter("tailtrace_store_write_errors_total",
                          "Failed store writes (retried; nothing acknowledged is dropped)."),
      metrics->GetCounter("tailtrace_sampler_late_spans_total",
                          "Spans that arrived after their trace was decided.",
                          {{"decision", "kept"}}),
      metrics->GetCounter("tailtrace_sampler_late_spans_total",
                          "Spans that arrived after their trace was decided.",
                          {{"decision", "dropped"}}),
      metrics->GetCounter("tailtrace_sampler_early_decisions_total",
                          "Traces decided before their time.", {{"cause", "memory"}}),
      metrics->GetCounter("tailtrace_sampler_early_decisions_total",
                          "Traces decided before their time.", {{"cause", "trace_count"}}),
      metrics->GetCounter("tailtrace_sampler_early_decisions_total",
                          "Traces decided before their time.", {{"cause", "trace_size"}}),
      metrics->GetCounter("tailtrace_sampler_decision_cache_hits_total",
                          "Late spans whose trace's decision was found in the cache.",
                          {{"decision", "kept"}}),
      metrics->GetCounter("tailtrace_sampler_decision_cache_hits_total",
                          "Late spans whose trace's decision was found in the cache.",
                          {{"decision", "dropped"}}),
      metrics->GetGauge("tailtrace_sampler_traces_buffered", "Undecided traces held."),
      metrics->GetGauge("tailtrace_sampler_buffered_bytes", "Bytes of undecided spans held."),
      metrics->GetHistogram("tailtrace_store_write_duration_seconds",
                            "Latency of one store write batch.", MetricsRegistry::LatencyBuckets()),
  };
  ShardOptions shard_options;
  shard_options.decision_wait_ns = options.decision_wait_ns;
  shard_options.decision_wait_after_root_received_ns = options.decision_wait_after_root_received_ns;
  shard_options.max_buffer_bytes = std::max<uint64_t>(1, options.max_buffer_bytes / n);
  shard_options.max_traces = std::max<uint64_t>(1, options.num_traces / n);
  shard_options.maximum_trace_size_bytes = options.maximum_trace_size_bytes;
  shard_options.sampled_cache_size = options.sampled_cache_size / n;
  shard_options.non_sampled_cache_size = options.non_sampled_cache_size / n;
  shard_options.decision_latency =
      metrics->GetHistogram("tailtrace_sampler_decision_latency_seconds",
                            "Time from a trace's first span to its sampling decision.",
                            {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60});
  shard_options.observer = observer;

  std::unique_ptr<Pipeline> pipeline(new Pipeline(options, store, clock, metrics));
  pipeline->options_.num_shards = n;
  if (!options.durability.wal_dir.empty()) {
    auto log = SpanLog::Create(options.durability, n, metrics);
    if (!log.ok()) return log.status();
    pipeline->log_ = *std::move(log);
  }
  for (uint32_t i = 0; i < n; ++i) {
    pipeline->shards_.push_back(
        std::make_unique<Shard>(i, pipeline->options_, shard_options, sampler_factory(i, n), store,
                                clock, m, pipeline->log_.get(), &pipeline->replaying_));
  }
  if (pipeline->log_ != nullptr) {
    pipeline->replaying_.store(true, std::memory_order_release);
    absl::Status s = pipeline->OpenLog(metrics);
    pipeline->replaying_.store(false, std::memory_order_release);
    if (!s.ok()) return s;
  }
  return pipeline;
}

Pipeline::~Pipeline() { (void)Shutdown(0); }

uint32_t Pipeline::ShardOf(const TraceId& id) const {
  // Fibonacci hashing of the random low half of the ID.
  const uint64_t h = id.Low64() * 0x9E3779B97F4A7C15ull;
  return static_cast<uint32_t>((h >> 32) % shards_.size());
}

Pipeline::ShardParts Pipeline::SplitByShard(const WireRequest& request) const {
  // Each shard gets the indices of its spans in the one shared request. A shard's queue is
  // charged the wire bytes of its spans (the request's other bytes, its resources and scopes, are
  // small and shared).
  const size_t n = shards_.size();
  ShardParts split{std::vector<std::vector<uint32_t>>(n), std::vector<uint64_t>(n, 0)};
  const auto total = static_cast<uint32_t>(request.spans.size());
  for (uint32_t i = 0; i < total; ++i) {
    const WireSpan& span = request.spans[i];
    const uint32_t s = n == 1 ? 0 : ShardOf(span.trace_id);
    if (split.spans[s].empty()) split.spans[s].reserve(total / n + 16);
    split.spans[s].push_back(i);
    split.bytes[s] += span.size;
  }
  return split;
}

bool Pipeline::TryReserve(const ShardParts& split, size_t* full_shard) {
  const size_t n = shards_.size();
  size_t reserved = 0;
  for (; reserved < n; ++reserved) {
    if (split.spans[reserved].empty()) continue;
    if (!shards_[reserved]->TryReserve(split.bytes[reserved])) break;
  }
  if (reserved == n) return true;
  Release(split, reserved);
  *full_shard = reserved;
  return false;
}

void Pipeline::ReserveWaiting(const ShardParts& split) {
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (!split.spans[i].empty()) shards_[i]->Reserve(split.bytes[i]);
  }
}

void Pipeline::Release(const ShardParts& split, size_t shards) {
  for (size_t i = 0; i < std::min(shards, shards_.size()); ++i) {
    if (!split.spans[i].empty()) shards_[i]->Release(split.bytes[i]);
  }
}

absl::Status Pipeline::Consume(WireRequest&& request) {
  if (!accepting_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("tailtraced is shutting down");
  }
  if (request.spans.empty()) return absl::OkStatus();
  ShardParts split = SplitByShard(request);
  const auto total = static_cast<int64_t>(request.spans.size());
  size_t full_shard = 0;
  if (!TryReserve(split, &full_shard)) {
    refused_spans_->Increment(total);
    return absl::UnavailableError(absl::StrCat("pipeline full: sampler shard ", full_shard,
                                               " is at its queue byte limit; retry later"));
  }
  // Logged before anything is handed on: a request the log did not take is refused whole.
  uint64_t lsn = kNoLsn;
  if (log_ != nullptr) {
    absl::StatusOr<uint64_t> appended = log_->Append(request, clock_->UnixNanos());
    if (!appended.ok()) {
      Release(split);
      refused_spans_->Increment(total);
      return absl::UnavailableError(
          absl::StrCat(std::string(appended.status().message()), "; retry later"));
    }
    lsn = *appended;
  }
  Push(std::move(request), lsn, clock_->MonotonicNanos(), std::move(split), {});
  return absl::OkStatus();
}

void Pipeline::Push(WireRequest&& request, uint64_t lsn, int64_t arrival_ns, ShardParts&& split,
                    std::vector<std::vector<KnownKept>>&& assume_kept) {
  auto logged = std::make_shared<const LoggedRequest>(std::move(request), lsn, log_.get());
  // Aliasing: the shards see the request, the pin goes when the last of them lets go.
  std::shared_ptr<const WireRequest> shared(logged, &logged->request);
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (split.spans[i].empty()) continue;
    std::vector<KnownKept> kept;
    if (!assume_kept.empty()) kept = std::move(assume_kept[i]);
    shards_[i]->Push(shared, std::move(split.spans[i]), split.bytes[i], arrival_ns, lsn,
                     std::move(kept));
  }
}

absl::Status Pipeline::Shutdown(int64_t deadline_ms) {
  accepting_.store(false, std::memory_order_release);
  const int64_t deadline = SteadyNanos() + deadline_ms * 1'000'000;
  absl::Status result;
  for (auto& shard : shards_) {
    absl::Status s = shard->Drain(deadline);
    if (!s.ok() && result.ok()) result = s;
  }
  // Everything written: the log is emptied (what could not be written stays for the next start).
  if (log_ != nullptr) log_->Truncate();
  return result;
}

void Pipeline::SyncForTest() {
  for (auto& shard : shards_) shard->Sync();
}

}  // namespace tailtrace::collector
