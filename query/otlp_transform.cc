#include "otlp_transform_internal.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "proto/otlp_json.h"

namespace tailtrace::query::internal {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;

// One trace being assembled: where its spans of the current resource and scope go.
struct Assembly {
  storage::StoredTrace trace;
  int resource = -1;  // the request's resource_spans index its last ResourceSpans copies
  int scope = -1;     // the same for scope_spans
  ScopeSpans* spans = nullptr;
};

ScopeSpans* SpansFor(Assembly& a, const ResourceSpans& rs, int r, const ScopeSpans& ss, int s) {
  if (a.resource != r) {
    ResourceSpans* copy = a.trace.data.add_resource_spans();
    *copy->mutable_resource() = rs.resource();
    copy->set_schema_url(rs.schema_url());
    a.resource = r;
    a.scope = -1;
  }
  if (a.scope != s) {
    ResourceSpans* last =
        a.trace.data.mutable_resource_spans(a.trace.data.resource_spans_size() - 1);
    a.spans = last->add_scope_spans();
    *a.spans->mutable_scope() = ss.scope();
    a.spans->set_schema_url(ss.schema_url());
    a.scope = s;
  }
  return a.spans;
}

}  // namespace

absl::StatusOr<std::vector<storage::StoredTrace>> TracesOfOtlpJson(std::string_view body) {
  ExportTraceServiceRequest request;
  if (absl::Status s = otlp_json::ParseExportRequest(body, &request); !s.ok()) return s;
  std::vector<Assembly> traces;
  absl::flat_hash_map<std::string, size_t> index;  // trace ID bytes -> traces
  for (int r = 0; r < request.resource_spans_size(); ++r) {
    const ResourceSpans& rs = request.resource_spans(r);
    for (int s = 0; s < rs.scope_spans_size(); ++s) {
      const ScopeSpans& ss = rs.scope_spans(s);
      for (int k = 0; k < ss.spans_size(); ++k) {
        const auto& span = ss.spans(k);
        if (span.trace_id().size() != kTraceIdBytes) {
          return absl::InvalidArgumentError(
              absl::StrCat("resourceSpans[", r, "].scopeSpans[", s, "].spans[", k,
                           "].traceId: missing (every span needs its trace's ID)"));
        }
        const auto [it, added] = index.try_emplace(span.trace_id(), traces.size());
        if (added) {
          traces.emplace_back();
          traces.back().trace.trace_id = TraceId::FromBytes(span.trace_id());
          traces.back().trace.sample_rate = 0;  // not sampled here: no sampling tags
        }
        *SpansFor(traces[it->second], rs, r, ss, s)->add_spans() = span;
      }
    }
  }
  std::vector<storage::StoredTrace> out;
  out.reserve(traces.size());
  for (Assembly& a : traces) out.push_back(std::move(a.trace));
  return out;
}

}  // namespace tailtrace::query::internal
