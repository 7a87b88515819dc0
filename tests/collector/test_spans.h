#pragma once

// Builders of OTLP requests for collector tests.

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "collector/shard.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_wire.h"

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

// `request` as the receivers hand it on: serialized and scanned. Fails the test if it does not
// scan.
inline WireRequest Scanned(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request) {
  WireRequest wire;
  const absl::Status status = ScanExportRequest(request.SerializeAsString(), &wire);
  EXPECT_TRUE(status.ok()) << status;
  return wire;
}

// The indices of every span of `request`.
inline std::vector<uint32_t> AllSpans(const WireRequest& request) {
  std::vector<uint32_t> all(request.spans.size());
  std::iota(all.begin(), all.end(), 0u);
  return all;
}

// The request `wire` was scanned from, with only its valid spans: what a sink received.
inline opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest Unscanned(
    const WireRequest& wire) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  opentelemetry::proto::trace::v1::ResourceSpans* rs = nullptr;
  opentelemetry::proto::trace::v1::ScopeSpans* ss = nullptr;
  uint32_t group = UINT32_MAX;
  for (const WireSpan& span : wire.spans) {
    if (span.group != group) {
      const WireGroup& g = wire.groups[span.group];
      if (group == UINT32_MAX || g.resource != wire.groups[group].resource) {
        rs = request.add_resource_spans();
        EXPECT_TRUE(rs->ParseFromString(wire.resources[g.resource]));
      }
      ss = rs->add_scope_spans();
      EXPECT_TRUE(ss->ParseFromString(g.scope));
      group = span.group;
    }
    EXPECT_TRUE(ss->add_spans()->ParseFromArray(wire.bytes.data() + span.offset,
                                                static_cast<int>(span.size)));
  }
  return request;
}

// Hands `request` to `core` as the pipeline does: scanned, every span.
inline void AddRequest(
    ShardCore& core,
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    int64_t now_ns, std::vector<DecidedTrace>* out) {
  const WireRequest wire = Scanned(request);
  core.Add(wire, AllSpans(wire), now_ns, out);
}

}  // namespace tailtrace::collector::testing
