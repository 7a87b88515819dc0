// Start-up replay of the write-ahead log into the sampler shards (see pipeline.h).

#include <algorithm>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "collector/pipeline.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "pipeline_internal.h"
#include "spdlog/spdlog.h"

namespace tailtrace::collector {

// What replay learned so far.
struct Pipeline::ReplayState {
  // A trace the store had when its spans were first met in the log.
  struct Stored {
    std::string policy;
    double sample_rate = 1.0;
    absl::flat_hash_set<std::string> span_ids;
  };
  // Every trace met in the log; null when the store did not have it.
  absl::flat_hash_map<TraceId, std::unique_ptr<Stored>> traces;
  uint64_t spans = 0;
  uint64_t skipped_spans = 0;
  uint64_t unreadable_records = 0;
  bool lookup_failed = false;

  // The stored trace `id`, looked up in `store` the first time, or null.
  const Stored* Find(const TraceId& id, storage::TraceStore* store);
};

const Pipeline::ReplayState::Stored* Pipeline::ReplayState::Find(const TraceId& id,
                                                                 storage::TraceStore* store) {
  auto [it, fresh] = traces.try_emplace(id);
  if (!fresh) return it->second.get();
  absl::StatusOr<std::optional<storage::StoredTrace>> found = store->GetTrace(id);
  if (!found.ok()) {
    // Replay goes on: at worst such a trace's stored spans are written a second time.
    if (!lookup_failed) {
      spdlog::warn("wal replay: cannot look up trace {} in the store: {}", id.Hex(),
                   std::string(found.status().message()));
    }
    lookup_failed = true;
    return nullptr;
  }
  if (!found->has_value()) return nullptr;
  auto stored = std::make_unique<Stored>();
  stored->policy = (*found)->sampling_policy;
  stored->sample_rate = (*found)->sample_rate;
  for (const auto& rs : (*found)->data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) stored->span_ids.insert(span.span_id());
    }
  }
  it->second = std::move(stored);
  return it->second.get();
}

absl::Status Pipeline::OpenLog(MetricsRegistry* metrics) {
  ReplayState state;
  absl::Status opened =
      log_->Open([&](uint64_t lsn, int64_t arrival_unix_ns, std::string_view bytes) {
        Replay(lsn, arrival_unix_ns, bytes, &state);
      });
  if (!opened.ok()) return opened;
  metrics
      ->GetCounter("tailtrace_wal_replayed_spans_total",
                   "Spans read back from the write-ahead log into the sampler on start-up.")
      ->Increment(state.spans);
  metrics
      ->GetCounter("tailtrace_wal_replay_skipped_spans_total",
                   "Spans read back from the write-ahead log that the store already had.")
      ->Increment(state.skipped_spans);
  if (state.spans + state.skipped_spans > 0 || state.unreadable_records > 0) {
    spdlog::info(
        "wal replay: {} spans of {} traces back in the sampler (decided on their original "
        "schedule), {} spans skipped as already stored, {} unreadable records",
        state.spans, state.traces.size(), state.skipped_spans, state.unreadable_records);
  }
  return absl::OkStatus();
}

void Pipeline::Replay(uint64_t lsn, int64_t arrival_unix_ns, std::string_view bytes,
                      ReplayState* state) {
  WireRequest request;
  // The same scan and limits as on arrival (see SpanLog: a record is the request as it came).
  absl::Status scanned = ScanExportRequest(std::string(bytes), options_.span_limits, &request);
  if (!scanned.ok()) {
    log_->Unpin(lsn);
    ++state->unreadable_records;
    spdlog::error("wal replay: record {} does not scan: {}", lsn, std::string(scanned.message()));
    return;
  }
  if (!request.spans_over_limits.empty()) (void)ApplySpanLimits(options_.span_limits, &request);
  std::vector<std::vector<KnownKept>> assume_kept(shards_.size());
  SkipStored(&request, &assume_kept, state);
  if (request.spans.empty()) {
    log_->Unpin(lsn);
    return;
  }
  state->spans += request.spans.size();
  ShardParts split = SplitByShard(request);
  ReserveWaiting(split);
  // The wait for a decision continues from the original arrival.
  const int64_t age = std::max<int64_t>(0, clock_->UnixNanos() - arrival_unix_ns);
  Push(std::move(request), lsn, clock_->MonotonicNanos() - age, std::move(split),
       std::move(assume_kept));
}

void Pipeline::SkipStored(WireRequest* request, std::vector<std::vector<KnownKept>>* assume_kept,
                          ReplayState* state) {
  absl::flat_hash_set<TraceId> announced;
  size_t kept = 0;
  for (const WireSpan& span : request->spans) {
    const ReplayState::Stored* stored = state->Find(span.trace_id, store_);
    if (stored != nullptr) {
      opentelemetry::proto::trace::v1::Span parsed;
      // Scanned bytes parse (ScanExportRequest checked them).
      (void)parsed.ParseFromArray(request->bytes.data() + span.offset, static_cast<int>(span.size));
      if (stored->span_ids.contains(parsed.span_id())) {
        ++state->skipped_spans;
        continue;
      }
      // The rest of a stored trace joins it as late spans of a kept trace.
      if (announced.insert(span.trace_id).second) {
        (*assume_kept)[ShardOf(span.trace_id)].push_back(
            KnownKept{span.trace_id, stored->policy, stored->sample_rate});
      }
    }
    request->spans[kept++] = span;
  }
  request->spans.resize(kept);
}

}  // namespace tailtrace::collector
