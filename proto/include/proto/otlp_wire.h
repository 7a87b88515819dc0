#pragma once

// An OTLP ExportTraceServiceRequest read straight from its protobuf wire bytes, without making
// protobuf objects: one pass checks that the bytes are what protobuf would parse, validates each
// span's IDs and records where every span, resource and scope is, and the few span fields that
// span metrics and the service graph count. The collector routes and buffers spans as these byte
// ranges and parses them into objects only when a trace is decided.
//
// TracesData has the same encoding as ExportTraceServiceRequest (field 1, repeated
// ResourceSpans), so the ranges can be reassembled into either.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "proto/otlp_ids.h"
#include "proto/otlp_wire_fields.h"

namespace tailtrace {

// One valid span of a scanned request.
struct WireSpan {
  TraceId trace_id;
  // Index into WireRequest::groups of the (resource, scope) the span came in.
  uint32_t group = 0;
  // The span's message bytes (the payload of its ScopeSpans.spans entry, without the tag and
  // length): WireRequest::bytes.substr(offset, size).
  uint32_t offset = 0;
  uint32_t size = 0;
  // Whether parent_span_id is set (not empty): a span without a parent is a trace's root.
  bool has_parent = false;
  // Span.kind and Span.status.code as numbers (open enums: any value may come).
  int32_t kind = 0;
  int32_t status_code = 0;
  // The span and parent IDs' 8 bytes as they are (memcpy); parent 0 when it has none.
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;
  // Span.start_time_unix_nano and end_time_unix_nano.
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  // Span.name: bytes.substr(offset + name_offset, name_size).
  uint32_t name_offset = 0;
  uint32_t name_size = 0;

  // The span's name, in `request_bytes` (its WireRequest's bytes).
  std::string_view Name(std::string_view request_bytes) const {
    return request_bytes.substr(offset + name_offset, name_size);
  }
};

// Sets the fields of `span` that come from its message bytes (kind, status code, IDs, times, name)
// from `fields`, read from `message` (the span's bytes, which `fields`' views point into).
void SetWireSpanFields(std::string_view message, const WireSpanFields& fields, WireSpan* span);

// One ScopeSpans of a scanned request that has at least one valid span.
struct WireGroup {
  // Index into WireRequest::resources.
  uint32_t resource = 0;
  // The ScopeSpans wire bytes without its `spans` fields (scope, schema_url and any unknown
  // fields, in their order): parsing them as a ScopeSpans gives the group without spans.
  std::string scope;
};

// A scanned ExportTraceServiceRequest. Move-only in spirit (the ranges point into `bytes`).
struct WireRequest {
  // The request's wire bytes; every range below points into them.
  std::string bytes;
  // The size of `bytes` as scanned: bytes.substr(0, scanned_size) is the request itself
  // (ApplySpanLimits appends rewritten spans after it), which scans again to the same spans.
  size_t scanned_size = 0;
  // Per ResourceSpans that has at least one valid span: its wire bytes without its
  // `scope_spans` fields (resource, schema_url and any unknown fields, in their order).
  std::vector<std::string> resources;
  // Per ScopeSpans that has at least one valid span, in request order.
  std::vector<WireGroup> groups;
  // The valid spans, in request order.
  std::vector<WireSpan> spans;
  // Spans left out because their IDs are invalid: trace ID not 16 bytes or all zero, span ID
  // not 8 bytes or all zero, parent span ID neither empty nor 8 bytes.
  int64_t rejected_spans = 0;
  // Indices into `spans` of the spans that may exceed the SpanLimits given to the scan (a span
  // counted over a limit; for attributes per event or link the count is per span, so a span
  // listed here may be within the limits after all). Usually empty; see ApplySpanLimits.
  std::vector<uint32_t> spans_over_limits;
  // Empty when nothing was rejected. Otherwise names the first three problems with their
  // positions, as "resource_spans[0].scope_spans[1].spans[7]: span_id must be 8 bytes, got 4",
  // joined by "; ", followed by " (and N more invalid spans)" when there are more.
  std::string error_message;
};

// Limits on a span's size, as the OpenTelemetry SDK defines them (SpanLimits): above a limit,
// attributes, events and links are dropped (and counted in the span's dropped_*_count fields)
// and string values are cut, never the span refused. 0 means no limit.
struct SpanLimits {
  // Default: 128 (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)
  uint32_t max_attributes_per_span = 128;
  // Bytes of a string attribute value (and of each string in an array value), cut at a UTF-8
  // character boundary; applies to span, event and link attributes.
  // Default: 0, no limit (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT)
  uint32_t max_attribute_value_length = 0;
  // Default: 128 (OTEL_SPAN_EVENT_COUNT_LIMIT)
  uint32_t max_events_per_span = 128;
  // Default: 128 (OTEL_SPAN_LINK_COUNT_LIMIT)
  uint32_t max_links_per_span = 128;
  // Default: 128 (OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT)
  uint32_t max_attributes_per_event = 128;
  // Default: 128 (OTEL_LINK_ATTRIBUTE_COUNT_LIMIT)
  uint32_t max_attributes_per_link = 128;

  // No limit at all.
  static SpanLimits None() { return SpanLimits{0, 0, 0, 0, 0, 0}; }
};

// The deepest nesting of messages ScanExportRequest accepts, counting the request itself as 1
// (a span's attribute value is at depth 6; each array level adds 2, each key-value list level 3;
// an unknown group is one level). Below protobuf's recursion limit of 100, so whatever is
// accepted parses back.
inline constexpr int kMaxWireNestingDepth = 64;

// Scans `bytes` (an ExportTraceServiceRequest) into `out` (cleared first; `bytes` is moved into
// out->bytes). InvalidArgument, naming what is wrong and where (e.g.
// "resource_spans[0].scope_spans[2].spans[5]: field 9: truncated length-delimited value"), when
// protobuf would refuse to parse the bytes as an ExportTraceServiceRequest: malformed wire
// format, a string field that is not valid UTF-8, or nesting deeper than kMaxWireNestingDepth.
// Spans with invalid IDs are not an error: they are left out and counted (see WireRequest).
// The position is the path of fields down to the innermost message, with the index of each
// resource_spans, scope_spans and spans entry (counted as protobuf counts them: entries with
// their declared wire type), e.g. "resource_spans[0].scope_spans[0].spans[3].attributes.value:
// field 1: invalid UTF-8 in a string field"; errors in the request itself have no position. On
// error out->bytes still holds the bytes and resources, groups and spans are empty.
//
// Reuse one WireRequest per receiving thread: its vectors keep their capacity. Not thread-safe on
// one `out`; thread-compatible otherwise. Requests of 2 GiB or more are refused (protobuf refuses
// them too). Cost: one pass over the bytes, no allocation per span or field; the resource and
// scope keys are the only copies.
//
// Follows protobuf's parsing rules: unknown fields, and known fields with an unexpected wire
// type, are skipped (kept in the resource and scope bytes); for a repeated singular field the
// last occurrence counts. Whatever this accepts, protobuf parses, and the spans it lists are the
// spans protobuf would give, in the same order.
[[nodiscard]] absl::Status ScanExportRequest(std::string bytes, WireRequest* out);

// As above, and lists in out->spans_over_limits the spans that may exceed `limits` (counting
// costs one increment per attribute, event and link; the spans are not changed here).
[[nodiscard]] absl::Status ScanExportRequest(std::string bytes, const SpanLimits& limits,
                                             WireRequest* out);

// What ApplySpanLimits changed.
struct SpanLimitsApplied {
  int64_t spans = 0;               // spans rewritten
  int64_t dropped_attributes = 0;  // of spans, events and links
  int64_t dropped_events = 0;
  int64_t dropped_links = 0;
  int64_t truncated_values = 0;  // string values cut
};

// Rewrites the spans listed in request->spans_over_limits (after a scan with the same `limits`)
// so that they are within them: the attributes, events and links past a limit are dropped, in
// their order, and the span's (event's, link's) dropped_attributes_count, dropped_events_count
// and dropped_links_count grow by the number dropped; long string values are cut at a UTF-8
// boundary. A rewritten span's bytes are appended to request->bytes and its WireSpan points
// there. Clears spans_over_limits. The rare path: it parses only those spans.
SpanLimitsApplied ApplySpanLimits(const SpanLimits& limits, WireRequest* request);

// A new request holding only the spans `indices` (into request.spans, ascending) of `request`:
// its bytes are an ExportTraceServiceRequest with one ResourceSpans (with one ScopeSpans) per run
// of listed spans that share a group, in order, and its ranges point into them as a scan of those
// bytes would (scanned_size = bytes.size(); nothing rejected, nothing over limits). Used to split
// a request between the members of a cluster: each gets its share as a request of its own. Cost:
// one copy of the listed spans' bytes.
WireRequest SelectSpans(const WireRequest& request, std::span<const uint32_t> indices);

}  // namespace tailtrace
