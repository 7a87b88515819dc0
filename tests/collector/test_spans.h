#pragma once

// Builders of OTLP requests for collector tests.

#include <cstdint>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tailtrace::collector::testing {

// A 16-byte trace ID whose bytes are derived from `n` (never all zero).
inline std::string TestTraceId(uint64_t n) {
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) id[15 - i] = static_cast<char>((n + 1) >> (8 * i));
  id[0] = 0x42;
  return id;
}

inline std::string TestSpanId(uint64_t n) {
  std::string id(8, '\0');
  for (int i = 0; i < 8; ++i) id[7 - i] = static_cast<char>((n + 1) >> (8 * i));
  return id;
}

// Appends a span to `request` under a resource with service.name `service` (one ResourceSpans
// per call). `parent` 0 makes a root span.
inline opentelemetry::proto::trace::v1::Span* AddSpan(
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* request,
    const std::string& service, uint64_t trace, uint64_t span, uint64_t parent,
    const std::string& name = "op") {
  auto* rs = request->add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("test-scope");
  auto* s = ss->add_spans();
  s->set_trace_id(TestTraceId(trace));
  s->set_span_id(TestSpanId(span));
  if (parent != 0) s->set_parent_span_id(TestSpanId(parent));
  s->set_name(name);
  s->set_start_time_unix_nano(1'700'000'000'000'000'000ull + span * 1000);
  s->set_end_time_unix_nano(1'700'000'000'000'000'000ull + span * 1000 + 500);
  return s;
}

inline int CountSpans(const opentelemetry::proto::trace::v1::TracesData& data) {
  int n = 0;
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

}  // namespace tailtrace::collector::testing
