#pragma once

// The OTLP/JSON mapping of trace data (OTLP specification, "JSON Protobuf Encoding"):
// lowerCamelCase field names, trace and span IDs as hex (case-insensitive on input), enums as
// integers, 64-bit integers as decimal strings (numbers also accepted on input), bytes as base64,
// unknown fields ignored. Thread-safe: every function is pure.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace::otlp_json {

// Parses an OTLP/JSON ExportTraceServiceRequest body into `out` (cleared first). On error returns
// InvalidArgument whose message names the JSON path of the offending field, e.g.
// "resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex digits, got 30".
[[nodiscard]] absl::Status ParseExportRequest(
    std::string_view json,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* out);

// {"resourceSpans":[...]} for the given data.
std::string TracesDataToJson(const opentelemetry::proto::trace::v1::TracesData& data);

// The same rendering for a request (the body an OTLP/HTTP JSON client sends).
std::string ExportRequestToJson(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request);

// {"partialSuccess":{...}} or {} when there is nothing to report.
std::string ExportResponseToJson(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse& response);

// {"code":3,"message":"..."} (google.rpc.Status), the OTLP/HTTP error body in JSON.
std::string RpcStatusToJson(const google::rpc::Status& status);

}  // namespace tailtrace::otlp_json
