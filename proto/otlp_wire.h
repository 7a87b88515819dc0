#pragma once

// An OTLP ExportTraceServiceRequest read straight from its protobuf wire bytes, without making
// protobuf objects: one pass checks that the bytes are what protobuf would parse, validates each
// span's IDs and records where every span, resource and scope is. The collector routes and
// buffers spans as these byte ranges and parses them into objects only when a trace is decided.
//
// TracesData has the same encoding as ExportTraceServiceRequest (field 1, repeated
// ResourceSpans), so the ranges can be reassembled into either.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/otlp_ids.h"

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
};

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
  // Empty when nothing was rejected. Otherwise names the first three problems with their
  // positions, as "resource_spans[0].scope_spans[1].spans[7]: span_id must be 8 bytes, got 4",
  // joined by "; ", followed by " (and N more invalid spans)" when there are more.
  std::string error_message;
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

}  // namespace tailtrace
