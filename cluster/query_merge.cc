#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "query_merge_internal.h"
#include "storage/trace_merge.h"

namespace tailtrace::cluster::internal {
namespace {

// Adds `part` (the same trace, another member's spans) into `into`.
void AddSummary(const storage::TraceSummary& part, storage::TraceSummary* into) {
  const int64_t end =
      std::max(into->start_ns + into->duration_ns, part.start_ns + part.duration_ns);
  if (part.start_ns < into->start_ns) {
    into->start_ns = part.start_ns;
    into->root_service = part.root_service;
    into->root_operation = part.root_operation;
  }
  into->duration_ns = end - into->start_ns;
  into->span_count += part.span_count;
  into->error_count += part.error_count;
  into->orphan_span_count += part.orphan_span_count;
  storage::MergeSamplingDecision(part.sampling_policy, part.sample_rate, &into->sampling_policy,
                                 &into->sample_rate);
  std::map<std::string, storage::ServiceSummary> services;
  const std::vector<storage::ServiceSummary>& mine = into->services;
  for (const auto* list : {&mine, &part.services}) {
    for (const storage::ServiceSummary& s : *list) {
      storage::ServiceSummary& merged = services[s.name];
      merged.name = s.name;
      merged.span_count += s.span_count;
      merged.error_count += s.error_count;
    }
  }
  into->services.clear();
  for (auto& [name, s] : services) into->services.push_back(std::move(s));
}

}  // namespace

std::vector<storage::TraceSummary> MergeSummaries(
    std::vector<std::vector<storage::TraceSummary>> parts, int limit) {
  std::vector<storage::TraceSummary> merged;
  absl::flat_hash_map<TraceId, size_t> index;  // trace ID -> position in `merged`
  for (std::vector<storage::TraceSummary>& part : parts) {
    for (storage::TraceSummary& s : part) {
      const auto [it, inserted] = index.emplace(s.trace_id, merged.size());
      if (inserted) {
        merged.push_back(std::move(s));
      } else {
        AddSummary(s, &merged[it->second]);
      }
    }
  }
  std::sort(merged.begin(), merged.end(),
            [](const storage::TraceSummary& a, const storage::TraceSummary& b) {
              if (a.start_ns != b.start_ns) return a.start_ns > b.start_ns;
              return a.trace_id > b.trace_id;
            });
  if (limit >= 0 && merged.size() > static_cast<size_t>(limit)) merged.resize(limit);
  return merged;
}

std::optional<storage::StoredTrace> MergeTraces(
    std::vector<std::optional<storage::StoredTrace>> parts, uint64_t max_spans) {
  std::optional<storage::StoredTrace> merged;
  std::optional<storage::SpanUnion> spans;
  for (std::optional<storage::StoredTrace>& part : parts) {
    if (!part.has_value()) continue;
    if (!merged.has_value()) {
      merged = std::move(part);
      spans.emplace(&merged->data);
      continue;
    }
    merged->truncated = merged->truncated || part->truncated;
    spans->Add(std::move(part->data));
  }
  if (merged.has_value() && max_spans > 0 && storage::SpanCountOf(merged->data) > max_spans) {
    merged->truncated = true;
  }
  return merged;
}

std::vector<std::string> MergeServices(std::vector<std::vector<std::string>> parts) {
  std::set<std::string> all;
  for (std::vector<std::string>& part : parts) {
    for (std::string& s : part) all.insert(std::move(s));
  }
  return {std::make_move_iterator(all.begin()), std::make_move_iterator(all.end())};
}

std::vector<std::string> MergeTagSuggestions(std::vector<std::vector<std::string>> parts,
                                             int limit) {
  std::vector<std::string> merged = MergeServices(std::move(parts));
  if (limit >= 0 && merged.size() > static_cast<size_t>(limit)) merged.resize(limit);
  return merged;
}

std::vector<storage::Operation> MergeOperations(
    std::vector<std::vector<storage::Operation>> parts) {
  std::set<storage::Operation> all;
  for (std::vector<storage::Operation>& part : parts) {
    for (storage::Operation& op : part) all.insert(std::move(op));
  }
  return {std::make_move_iterator(all.begin()), std::make_move_iterator(all.end())};
}

std::vector<storage::DependencyLink> MergeDependencies(
    std::vector<std::vector<storage::DependencyLink>> parts) {
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> counts;
  for (std::vector<storage::DependencyLink>& part : parts) {
    for (storage::DependencyLink& link : part) {
      auto& [calls, errors] = counts[{std::move(link.parent), std::move(link.child)}];
      calls += link.call_count;
      errors += link.error_count;
    }
  }
  std::vector<storage::DependencyLink> merged;
  merged.reserve(counts.size());
  for (auto& [edge, count] : counts) {
    merged.push_back({edge.first, edge.second, count.first, count.second});
  }
  return merged;
}

std::vector<storage::MetricPoint> MergeMetricPoints(
    std::vector<std::vector<storage::MetricPoint>> parts) {
  std::map<std::pair<storage::MetricSeries, int64_t>, storage::MetricPoint> points;
  for (std::vector<storage::MetricPoint>& part : parts) {
    for (storage::MetricPoint& point : part) {
      auto [it, inserted] = points.try_emplace({point.series, point.time_ns}, point);
      if (!inserted) storage::AddMetricPoint(it->second, point);
    }
  }
  std::vector<storage::MetricPoint> merged;
  merged.reserve(points.size());
  for (auto& [key, point] : points) merged.push_back(std::move(point));
  return merged;
}

}  // namespace tailtrace::cluster::internal
