#include "storage/testing/in_memory_trace_store.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "storage/index/keys.h"
#include "storage/trace_merge.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;

bool InRange(int64_t v, const std::optional<int64_t>& min, const std::optional<int64_t>& max) {
  return (!min || v >= *min) && (!max || v <= *max);
}

// The trace start: the earliest span start.
int64_t StartOf(const TracesData& data) {
  int64_t start = std::numeric_limits<int64_t>::max();
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) start = std::min(start, SpanStartNs(span));
    }
  }
  return start;
}

// Whether the trace matches every condition of `query` except the time range and the sampling
// tags (trace_store.h).
bool Matches(const TracesData& data, const TraceQuery& query, const IndexOptions& options) {
  bool service_seen = false;
  bool operation_seen = query.operation.empty();
  const bool want_duration = query.duration_min_ns || query.duration_max_ns;
  bool duration_seen = !want_duration;
  std::vector<bool> tag_seen(query.attributes.size(), false);
  for (size_t i = 0; i < query.attributes.size(); ++i) {
    if (IsSamplingTag(query.attributes[i].first)) tag_seen[i] = true;  // not a span's tag
  }
  for (const auto& rs : data.resource_spans()) {
    const std::string service = ServiceNameOf(rs);
    if (!query.service.empty() && service != query.service) continue;
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        service_seen = true;
        const bool operation_match = query.operation.empty() || span.name() == query.operation;
        if (operation_match) operation_seen = true;
        if (want_duration && operation_match &&
            InRange(SpanDurationNs(span), query.duration_min_ns, query.duration_max_ns)) {
          duration_seen = true;
        }
        if (query.attributes.empty()) continue;
        ForEachSpanTag(rs, ss, span, [&](std::string_view key, std::string_view value) {
          if (!IsIndexedTag(key, value, options)) return;
          for (size_t i = 0; i < query.attributes.size(); ++i) {
            if (query.attributes[i].first == key && query.attributes[i].second == value) {
              tag_seen[i] = true;
            }
          }
        });
      }
    }
  }
  return service_seen && operation_seen && duration_seen &&
         std::all_of(tag_seen.begin(), tag_seen.end(), [](bool b) { return b; });
}

}  // namespace

absl::Status InMemoryTraceStore::Write(std::span<const TraceWrite> traces) {
  std::lock_guard lock(mu_);
  if (!write_failure_.ok()) return write_failure_;
  // Every write's spans, parsed from spans_bytes when not given as objects, before any is stored.
  std::deque<TracesData> parsed;
  absl::StatusOr<std::vector<const TracesData*>> spans = SpansOfWrites(traces, &parsed);
  if (!spans.ok()) return spans.status();
  const std::vector<const TracesData*>& data = *spans;
  for (size_t i = 0; i < traces.size(); ++i) {
    const TraceWrite& w = traces[i];
    const uint64_t spans = SpanCountOf(*data[i]);
    // As in RocksTraceStore: a write without spans stores nothing.
    if (spans == 0) continue;
    auto [it, first] = traces_.try_emplace(w.trace_id);
    StoredTrace& t = it->second;
    t.trace_id = w.trace_id;
    if (first) {
      t.sampling_policy = w.sampling_policy;
      t.sample_rate = w.sample_rate;
    } else {
      MergeSamplingDecision(w.sampling_policy, w.sample_rate, &t.sampling_policy, &t.sample_rate);
    }
    for (const auto& rs : data[i]->resource_spans()) {
      *t.data.add_resource_spans() = rs;
      auto& ops = operations_[ServiceNameOf(rs)];
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          ops.insert(Operation{span.name(), static_cast<int>(span.kind())});
          ++stats_.spans_written;
        }
      }
    }
    ++stats_.traces_written;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StoredTrace>> InMemoryTraceStore::GetTrace(const TraceId& id) {
  std::lock_guard lock(mu_);
  auto it = traces_.find(id);
  if (it == traces_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<std::string>> InMemoryTraceStore::GetServices() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [service, ops] : operations_) out.push_back(service);
  return out;
}

absl::StatusOr<std::vector<Operation>> InMemoryTraceStore::GetOperations(const std::string& service,
                                                                         int span_kind) {
  std::lock_guard lock(mu_);
  std::vector<Operation> out;
  auto it = operations_.find(service);
  if (it == operations_.end()) return out;
  for (const Operation& op : it->second) {
    if (span_kind < 0 || op.span_kind == span_kind) out.push_back(op);
  }
  return out;
}

absl::StatusOr<std::vector<TraceSummary>> InMemoryTraceStore::FindTraces(const TraceQuery& query) {
  if (absl::Status valid = ValidateTraceQuery(query, index_options_); !valid.ok()) return valid;
  std::lock_guard lock(mu_);
  std::vector<TraceSummary> found;
  for (const auto& [id, trace] : traces_) {
    if (!InRange(StartOf(trace.data), query.start_time_min_ns, query.start_time_max_ns)) continue;
    if (!SamplingTagMatches(query, trace.sampling_policy, trace.sample_rate)) continue;
    if (!Matches(trace.data, query, index_options_)) continue;
    const TracesData* data = &trace.data;
    TraceSummary& summary = found.emplace_back(ComputeSummary(id, TraceChunks(&data, 1)));
    summary.sampling_policy = trace.sampling_policy;
    summary.sample_rate = trace.sample_rate;
  }
  std::sort(found.begin(), found.end(), [](const TraceSummary& a, const TraceSummary& b) {
    if (a.start_ns != b.start_ns) return a.start_ns > b.start_ns;
    return a.trace_id > b.trace_id;
  });
  if (found.size() > static_cast<size_t>(query.limit)) found.resize(query.limit);
  return found;
}

absl::StatusOr<std::vector<std::string>> InMemoryTraceStore::SuggestTags(
    const TagSuggestionQuery& query) {
  if (absl::Status valid = ValidateTagSuggestionQuery(query, index_options_); !valid.ok()) {
    return valid;
  }
  const int64_t min_slot = IndexSlot(query.start_time_min_ns);
  const int64_t max_slot = IndexSlot(query.start_time_max_ns);
  std::set<std::string, std::less<>> names;
  std::lock_guard lock(mu_);
  for (const auto& [id, trace] : traces_) {
    const int64_t slot = IndexSlot(StartOf(trace.data));
    if (slot < min_slot || slot > max_slot) continue;
    for (const auto& rs : trace.data.resource_spans()) {
      if (!query.service.empty() && ServiceNameOf(rs) != query.service) continue;
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          ForEachSpanTag(rs, ss, span, [&](std::string_view key, std::string_view value) {
            if (!IsIndexedTag(key, value, index_options_) || IsSamplingTag(key)) return;
            if (query.key.empty()) {
              if (!key.empty()) names.emplace(key);
            } else if (key == query.key) {
              names.emplace(value);
            }
          });
        }
      }
    }
  }
  std::vector<std::string> out(names.begin(), names.end());
  if (out.size() > static_cast<size_t>(query.limit)) out.resize(query.limit);
  return out;
}

absl::StatusOr<std::vector<DependencyLink>> InMemoryTraceStore::GetDependencies(
    int64_t end_ns, int64_t lookback_ns) {
  absl::StatusOr<DependencySlots> slots = DependencySlotsOf(end_ns, lookback_ns);
  if (!slots.ok()) return slots.status();
  const int64_t first_slot = slots->first;
  const int64_t last_slot = slots->last;
  EdgeCounts sums;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, trace] : traces_) {
      const TracesData* data = &trace.data;
      for (const auto& [key, counts] : ComputeDependencyCalls(TraceChunks(&data, 1))) {
        if (key.slot >= first_slot && key.slot <= last_slot) {
          sums[{key.parent, key.child}] += counts;
        }
      }
    }
    for (const auto& [key, counts] : added_calls_) {
      if (key.slot >= first_slot && key.slot <= last_slot) sums[{key.parent, key.child}] += counts;
    }
  }
  return LinksOf(sums);
}

StoreStats InMemoryTraceStore::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void InMemoryTraceStore::FailWritesForTest(absl::Status status) {
  std::lock_guard lock(mu_);
  write_failure_ = std::move(status);
}

absl::Status InMemoryTraceStore::WriteHealth() const {
  std::lock_guard lock(mu_);
  return write_failure_;
}

absl::Status InMemoryTraceStore::WriteDependencyCalls(std::span<const DependencyCalls> calls) {
  if (absl::Status valid = ValidateDependencyCalls(calls); !valid.ok()) return valid;
  std::lock_guard lock(mu_);
  if (!write_failure_.ok()) return write_failure_;
  for (const DependencyCalls& c : calls) {
    added_calls_[DependencyKey{DependencySlot(c.time_ns), c.parent, c.child}] += CountsOf(c);
  }
  return absl::OkStatus();
}

absl::Status InMemoryTraceStore::WriteMetricPoints(std::span<const MetricPoint> points) {
  for (const MetricPoint& point : points) {
    if (absl::Status valid = ValidateMetricPoint(point); !valid.ok()) return valid;
  }
  std::lock_guard lock(mu_);
  if (!write_failure_.ok()) return write_failure_;
  for (const MetricPoint& point : points) {
    auto& by_time = metric_points_[point.series.service];
    auto [it, inserted] = by_time.try_emplace({point.time_ns, point.series}, point);
    if (!inserted) AddMetricPoint(it->second, point);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MetricPoint>> InMemoryTraceStore::ReadMetricPoints(
    const MetricPointQuery& query) {
  if (absl::Status valid = ValidateMetricPointQuery(query); !valid.ok()) return valid;
  std::lock_guard lock(mu_);
  std::vector<MetricPoint> out;
  for (const std::string& service :
       std::set<std::string>(query.services.begin(), query.services.end())) {
    auto found = metric_points_.find(service);
    if (found == metric_points_.end()) continue;
    for (const auto& [key, point] : found->second) {
      if (key.first >= query.start_ns && key.first <= query.end_ns) out.push_back(point);
    }
  }
  std::sort(out.begin(), out.end(), [](const MetricPoint& a, const MetricPoint& b) {
    return std::tie(a.series, a.time_ns) < std::tie(b.series, b.time_ns);
  });
  return out;
}

absl::Status InMemoryTraceStore::ArchiveTrace(const StoredTrace& trace) {
  if (absl::Status valid = ValidateArchiveTrace(trace); !valid.ok()) return valid;
  if (SpanCountOf(trace.data) == 0) return absl::OkStatus();  // as RocksTraceStore
  std::lock_guard lock(mu_);
  if (!write_failure_.ok()) return write_failure_;
  std::optional<StoredTrace> copy;
  if (auto found = archive_.find(trace.trace_id); found != archive_.end()) {
    copy = std::move(found->second);
  }
  MergeIntoArchive(trace, &copy);
  archive_[trace.trace_id] = *std::move(copy);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StoredTrace>> InMemoryTraceStore::GetArchivedTrace(const TraceId& id) {
  std::lock_guard lock(mu_);
  auto found = archive_.find(id);
  if (found == archive_.end()) return std::nullopt;
  return found->second;
}

}  // namespace tailtrace::storage
