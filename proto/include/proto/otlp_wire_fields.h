#pragma once

// The few fields of a scanned span (and its resource's service name) that span metrics, the
// service graph and the store's index (proto/wire_traces.h) need, read straight from the wire
// bytes, without parsing the span (the scan keeps them in each WireSpan, proto/otlp_wire.h). They
// agree with what protobuf would parse: for a field that occurs more than once the last
// occurrence wins, and a message field's occurrences merge.

#include <cstdint>
#include <string_view>

namespace tailtrace {

// The resource attribute that names a span's service, and the service name of a resource
// without it as a string attribute (the SDKs' default).
inline constexpr std::string_view kServiceNameKey = "service.name";
inline constexpr std::string_view kUnknownServiceName = "unknown_service";

struct WireSpanFields {
  std::string_view span_id;         // Span.span_id (points into the span's bytes)
  std::string_view parent_span_id;  // Span.parent_span_id (points into the span's bytes)
  std::string_view name;            // Span.name (points into the span's bytes)
  int kind = 0;                     // Span.kind (SpanKind number; 0 unspecified)
  int status_code = 0;              // Span.status.code (0 unset, 1 ok, 2 error)
  uint64_t start_ns = 0;            // Span.start_time_unix_nano
  uint64_t end_ns = 0;              // Span.end_time_unix_nano
  std::string_view trace_state;     // Span.trace_state (points into the span's bytes)
  std::string_view status_message;  // Span.status.message (points into the span's bytes)
};

// Reads them from a span's message bytes (WireRequest::bytes.substr(span.offset, span.size)).
// False when the bytes are malformed, which a span that ScanExportRequest accepted never is.
bool ReadWireSpanFields(std::string_view span, WireSpanFields* out);

// The value of the first service.name resource attribute whose value is a string, or
// kUnknownServiceName: `resource_spans` is a WireRequest::resources entry (a ResourceSpans'
// bytes without its scope_spans). Points into `resource_spans` (or is the constant).
std::string_view WireServiceName(std::string_view resource_spans);

}  // namespace tailtrace
