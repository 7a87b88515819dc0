#pragma once

// Rendering of stored traces into the JSON model of Jaeger's query HTTP API (the model the Jaeger
// UI and Grafana's Jaeger data source read from /api/traces). Pure functions, thread-safe.
//
// Mapping from OTLP (follows the OpenTelemetry Collector's OTLP -> Jaeger translation):
// - trace:   {"traceID", "spans", "processes", "warnings": null}; traceID is 32 lower-case hex.
// - process: one per distinct resource ("p1", "p2", ... in order of first appearance); resources
//            with the same service.name and the same other attributes (in any order) share one.
//            {"serviceName": service.name or "unknown_service", "tags": other resource
//            attributes, sorted by key}.
// - span:    {"traceID", "spanID", "operationName", "references", "startTime" (µs since epoch),
//            "duration" (µs), "tags", "logs", "processID", "warnings": null, "flags"}; spans are
//            sorted by start time (stable). Nanoseconds are truncated to microseconds, like Jaeger.
//            "flags" is the W3C trace-flags byte of the OTLP span flags.
// - references: CHILD_OF the parent span (first, when there is one), then FOLLOWS_FROM for each
//            link (the link's own trace ID).
// - span tags: the span attributes in order, then the derived tags the index searches too
//            (storage/span_tags.h, in its order: "otel.scope.name" / "otel.scope.version",
//            "span.kind", "otel.status_code", "error": true, "otel.status_description",
//            "w3c.tracestate"), and on root spans only (no parent,
//            or a parent not in the trace) "sampling.policy" (when not empty) and "sampling.rate"
//            (for every trace tailtraced sampled, so counts can be extrapolated; not for a
//            trace of sample_rate 0, e.g. one POST /api/transform shows).
// - logs:    one per event, {"timestamp": µs, "fields": [{"key":"event", ...name} (when the
//            name is not empty), ...event attributes]}.
// - tag values: string/bool/int64/float64 keep their type; bytes are base64 with type "binary";
//            arrays and key-value lists become a string holding their plain JSON (["a",1],
//            {"k":"v"}, as the Collector's AsString renders them); non-finite doubles become the
//            strings "NaN", "Infinity", "-Infinity"; an empty value becomes "".

#include <optional>
#include <string>
#include <string_view>

#include "proto/span_kind.h"
#include "query/json_buffer.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "storage/trace_store.h"

namespace tailtrace::query {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Appends `trace` as one Jaeger trace object to `out`, without a separator (the hot path: the
// query service writes its responses with JsonBuffer).
void AppendJaegerTrace(const storage::StoredTrace& trace, JsonBuffer& out);

// About the bytes AppendJaegerTrace writes for `trace` (an upper estimate for plain text; strings
// needing many escapes can exceed it). Walks the spans and attributes, no rendering.
size_t EstimateJaegerTraceBytes(const storage::StoredTrace& trace);

// Writes `trace` as one Jaeger trace object into `writer` (e.g. as an element of an array being
// written by the caller). The same bytes as AppendJaegerTrace.
void WriteJaegerTrace(const storage::StoredTrace& trace, JsonWriter& writer);

// `trace` as a Jaeger trace object.
std::string RenderJaegerTrace(const storage::StoredTrace& trace);

// The Jaeger span-kind name of an OTLP SpanKind number: "internal", "server", "client",
// "producer", "consumer"; "" for unspecified or unknown numbers.
std::string_view SpanKindName(int otlp_span_kind);

// ParseSpanKind, its inverse, is proto/span_kind.h's.
using ::tailtrace::ParseSpanKind;

}  // namespace tailtrace::query
