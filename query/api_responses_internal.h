#pragma once

// Private to query/: the JSON bodies QueryService answers with — the Jaeger envelope and error,
// the /api/v3 error, and the pieces both APIs share.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/http_server.h"
#include "jaeger_envelope.h"
#include "proto/otlp_ids.h"
#include "query/jaeger_json.h"
#include "storage/trace_store.h"

namespace tailtrace::query::internal {

enum class Api { kJaeger, kV3 };

// "OK", "Not Found", ... for an HTTP status QueryService answers.
std::string_view HttpStatusText(int status);
// The gRPC status code grpc-gateway reports next to an HTTP status.
int GrpcCodeOf(int http_status);

void WriteString(JsonWriter& w, std::string_view s);
http::Response JsonResponse(int status, const rapidjson::StringBuffer& buf);
// A Status message as std::string_view (Debian's absl::string_view is a distinct type).
std::string_view MessageOf(const absl::Status& status);

// Every error below also lists `partial`, the messages of the failed parts of the read
// (query_service.h says how each API shows them); the responses without them are the single-node
// ones.

// {"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":status,"msg":message}]}
http::Response JaegerError(int status, std::string_view message,
                           const std::vector<std::string>& partial = {});
// {"error":{"grpcCode":..,"httpCode":status,"message":message,"httpStatus":"Not Found"}}
http::Response V3Error(int status, std::string_view message,
                       const std::vector<std::string>& partial = {});
http::Response Error(Api api, int status, std::string_view message,
                     const std::vector<std::string>& partial = {});
// A failed store call: 503 for a retryable failure, 500 otherwise.
http::Response StoreError(Api api, std::string_view what, const absl::Status& status,
                          const std::vector<std::string>& partial = {});
// A failed search: 400 for a query the store refuses, the StoreError mapping otherwise.
http::Response SearchError(Api api, const absl::Status& status,
                           const std::vector<std::string>& partial = {});

// Starts the Jaeger envelope; the caller writes the "data" value next, then calls EndJaegerOk.
void BeginJaegerOk(JsonWriter& w);
// Ends the envelope; "errors" lists `partial` as {"code":503,"msg":..} (null when empty).
http::Response EndJaegerOk(JsonWriter& w, const rapidjson::StringBuffer& buf, size_t total,
                           const std::vector<std::string>& partial = {});
// Jaeger's answer to POST /api/archive/{traceID}: 200 with
// {"data":[],"total":0,"limit":0,"offset":0,"errors":[]}, "errors" listing `partial` as
// {"code":503,"msg":..}.
http::Response JaegerArchivedOk(const std::vector<std::string>& partial = {});
// `partial` as entries of JaegerTracesWriter::Finish's errors.
std::vector<JaegerTraceError> JaegerPartialErrors(const std::vector<std::string>& partial);

// The /api/v3 "partialErrors" member, written into the object `w` is in; nothing when empty.
void WriteV3PartialErrors(JsonWriter& w, const std::vector<std::string>& partial);
// The same as text to append inside an object: `,"partialErrors":[...]`, or "" when empty.
std::string V3PartialErrorsMember(const std::vector<std::string>& partial);

// For an answer without an envelope (/api/metrics/...): one `Warning: 199 tailtrace "<message>"`
// header per entry of `partial` (the message's quotes and backslashes escaped, control bytes as
// spaces), each also logged as a warning.
void AddPartialWarnings(http::Response& response, const std::vector<std::string>& partial);

// One /api/v3 trace summary object (docs/search.md); samplingPolicy and samplingRate only when
// known.
void WriteSummary(JsonWriter& w, const storage::TraceSummary& s);

}  // namespace tailtrace::query::internal
