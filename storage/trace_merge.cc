#include "storage/trace_merge.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tailtrace::storage {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::TracesData;

SpanUnion::SpanUnion(TracesData* base) : base_(base) {
  for (const ResourceSpans& rs : base_->resource_spans()) {
    for (const ScopeSpans& ss : rs.scope_spans()) {
      const uint32_t key = ResourceScopeOf(rs, ss);
      for (const auto& span : ss.spans()) spans_.emplace(key, span.span_id());
    }
  }
}

uint32_t SpanUnion::ResourceScopeOf(const ResourceSpans& rs, const ScopeSpans& ss) {
  const std::string resource = rs.resource().SerializeAsString();
  // Length-prefixed, so that no other (resource, scope) pair has the same key.
  std::string bytes = absl::StrCat(resource.size(), ":", resource, ss.scope().SerializeAsString());
  const auto next = static_cast<uint32_t>(resource_scopes_.size());
  return resource_scopes_.try_emplace(std::move(bytes), next).first->second;
}

uint64_t SpanUnion::Add(TracesData part) {
  uint64_t added = 0;
  for (ResourceSpans& rs : *part.mutable_resource_spans()) {
    for (ScopeSpans& ss : *rs.mutable_scope_spans()) {
      const uint32_t key = ResourceScopeOf(rs, ss);
      auto* spans = ss.mutable_spans();
      spans->erase(std::remove_if(spans->begin(), spans->end(),
                                  [&](const auto& span) {
                                    return !spans_.emplace(key, span.span_id()).second;
                                  }),
                   spans->end());
      added += static_cast<uint64_t>(spans->size());
    }
    auto* scopes = rs.mutable_scope_spans();
    scopes->erase(std::remove_if(scopes->begin(), scopes->end(),
                                 [](const ScopeSpans& ss) { return ss.spans().empty(); }),
                  scopes->end());
    if (!rs.scope_spans().empty()) base_->mutable_resource_spans()->Add(std::move(rs));
  }
  return added;
}

absl::Status ValidateArchiveTrace(const StoredTrace& trace) {
  if (!trace.truncated) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("trace ", trace.trace_id.Hex(),
                                                 " is truncated; only a whole trace is archived"));
}

bool MergeIntoArchive(const StoredTrace& trace, std::optional<StoredTrace>* archived) {
  if (!archived->has_value()) {
    archived->emplace(trace);
    (*archived)->truncated = false;
    return true;
  }
  StoredTrace& copy = **archived;
  bool changed = false;
  if (copy.sampling_policy.empty() && !trace.sampling_policy.empty()) {
    MergeSamplingDecision(trace.sampling_policy, trace.sample_rate, &copy.sampling_policy,
                          &copy.sample_rate);
    changed = true;
  }
  SpanUnion spans(&copy.data);
  if (spans.Add(trace.data) > 0) changed = true;
  return changed;
}

}  // namespace tailtrace::storage
