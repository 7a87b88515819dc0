#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "api_responses_internal.h"
#include "common/utf8.h"
#include "spdlog/spdlog.h"

namespace tailtrace::query::internal {

std::string_view HttpStatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 422:
      return "Unprocessable Entity";
    case 405:
      return "Method Not Allowed";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

int GrpcCodeOf(int http_status) {
  switch (http_status) {
    case 400:
      return 3;  // INVALID_ARGUMENT
    case 404:
      return 5;  // NOT_FOUND
    case 422:
      return 8;  // RESOURCE_EXHAUSTED (a trace over query.max_trace_spans)
    case 405:
    case 501:
      return 12;  // UNIMPLEMENTED
    case 503:
      return 14;  // UNAVAILABLE
    default:
      return 13;  // INTERNAL
  }
}

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

http::Response JsonResponse(int status, const rapidjson::StringBuffer& buf) {
  http::Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body.assign(buf.GetString(), buf.GetSize());
  return response;
}

std::string_view MessageOf(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

namespace {

// The entries of a Jaeger "errors" array for the failed parts of a read (no traceID).
void WriteJaegerPartialErrors(JsonWriter& w, const std::vector<std::string>& partial) {
  for (const std::string& message : partial) {
    w.StartObject();
    w.Key("code");
    w.Int(503);
    w.Key("msg");
    WriteString(w, SanitizeUtf8(message));  // it may quote a member's error
    w.EndObject();
  }
}

// The envelope's "total", "limit" and "offset" (the API does no paging: limit and offset are 0).
void WriteJaegerCounts(JsonWriter& w, size_t total) {
  w.Key("total");
  w.Uint64(total);
  w.Key("limit");
  w.Int(0);
  w.Key("offset");
  w.Int(0);
}

void WriteV3ErrorObject(JsonWriter& w, int status, std::string_view message) {
  w.StartObject();
  w.Key("grpcCode");
  w.Int(GrpcCodeOf(status));
  w.Key("httpCode");
  w.Int(status);
  w.Key("message");
  WriteString(w, SanitizeUtf8(message));  // it may quote request bytes or a member's error
  w.Key("httpStatus");
  WriteString(w, HttpStatusText(status));
  w.EndObject();
}

}  // namespace

http::Response JaegerError(int status, std::string_view message,
                           const std::vector<std::string>& partial) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("data");
  w.Null();
  WriteJaegerCounts(w, 0);
  w.Key("errors");
  w.StartArray();
  w.StartObject();
  w.Key("code");
  w.Int(status);
  w.Key("msg");
  WriteString(w, SanitizeUtf8(message));  // it may quote request bytes
  w.EndObject();
  WriteJaegerPartialErrors(w, partial);
  w.EndArray();
  w.EndObject();
  return JsonResponse(status, buf);
}

http::Response V3Error(int status, std::string_view message,
                       const std::vector<std::string>& partial) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("error");
  WriteV3ErrorObject(w, status, message);
  WriteV3PartialErrors(w, partial);
  w.EndObject();
  return JsonResponse(status, buf);
}

void WriteV3PartialErrors(JsonWriter& w, const std::vector<std::string>& partial) {
  if (partial.empty()) return;
  w.Key("partialErrors");
  w.StartArray();
  for (const std::string& message : partial) WriteV3ErrorObject(w, 503, message);
  w.EndArray();
}

std::string V3PartialErrorsMember(const std::vector<std::string>& partial) {
  if (partial.empty()) return "";
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  // Written as an object's members, then unwrapped: `,"partialErrors":[...]`.
  w.StartObject();
  WriteV3PartialErrors(w, partial);
  w.EndObject();
  std::string member(buf.GetString() + 1, buf.GetSize() - 2);
  return absl::StrCat(",", member);
}

http::Response Error(Api api, int status, std::string_view message,
                     const std::vector<std::string>& partial) {
  return api == Api::kV3 ? V3Error(status, message, partial)
                         : JaegerError(status, message, partial);
}

http::Response StoreError(Api api, std::string_view what, const absl::Status& status,
                          const std::vector<std::string>& partial) {
  const bool retryable = absl::IsUnavailable(status) || absl::IsResourceExhausted(status) ||
                         absl::IsDeadlineExceeded(status) || absl::IsAborted(status);
  const std::string message =
      absl::StrCat("trace store failed while ", std::string(what), ": ", status.ToString());
  spdlog::warn("query: {}", message);
  return Error(api, retryable ? 503 : 500, message, partial);
}

void BeginJaegerOk(JsonWriter& w) {
  w.StartObject();
  w.Key("data");
}

http::Response EndJaegerOk(JsonWriter& w, const rapidjson::StringBuffer& buf, size_t total,
                           const std::vector<std::string>& partial) {
  WriteJaegerCounts(w, total);
  w.Key("errors");
  if (partial.empty()) {
    w.Null();
  } else {
    w.StartArray();
    WriteJaegerPartialErrors(w, partial);
    w.EndArray();
  }
  w.EndObject();
  return JsonResponse(200, buf);
}

http::Response JaegerArchivedOk(const std::vector<std::string>& partial) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  BeginJaegerOk(w);
  w.StartArray();
  w.EndArray();
  WriteJaegerCounts(w, 0);
  // An empty array, not null, as Jaeger answers.
  w.Key("errors");
  w.StartArray();
  WriteJaegerPartialErrors(w, partial);
  w.EndArray();
  w.EndObject();
  return JsonResponse(200, buf);
}

std::vector<JaegerTraceError> JaegerPartialErrors(const std::vector<std::string>& partial) {
  std::vector<JaegerTraceError> errors;
  errors.reserve(partial.size());
  for (const std::string& message : partial) errors.push_back({std::nullopt, 503, message});
  return errors;
}

http::Response SearchError(Api api, const absl::Status& status,
                           const std::vector<std::string>& partial) {
  if (absl::IsInvalidArgument(status)) return Error(api, 400, MessageOf(status), partial);
  return StoreError(api, "searching traces", status, partial);
}

void AddPartialWarnings(http::Response& response, const std::vector<std::string>& partial) {
  for (const std::string& message : partial) {
    spdlog::warn("query: span metrics answer is incomplete: {}", message);
    std::string quoted = "199 tailtrace \"";
    for (const char c : message) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
    }
    quoted.push_back('"');
    response.headers.emplace_back("Warning", std::move(quoted));
  }
}

void WriteSummary(JsonWriter& w, const storage::TraceSummary& s) {
  w.StartObject();
  w.Key("traceId");
  WriteString(w, s.trace_id.Hex());
  w.Key("rootServiceName");
  WriteString(w, s.root_service);
  w.Key("rootOperationName");
  WriteString(w, s.root_operation);
  // Nanosecond strings, as OTLP JSON writes 64-bit integers.
  w.Key("minStartTimeUnixNano");
  WriteString(w, std::to_string(s.start_ns));
  w.Key("maxEndTimeUnixNano");
  WriteString(w, std::to_string(s.start_ns + s.duration_ns));
  w.Key("durationNano");
  WriteString(w, std::to_string(s.duration_ns));
  w.Key("spanCount");
  w.Uint(s.span_count);
  w.Key("errorSpanCount");
  w.Uint(s.error_count);
  w.Key("orphanSpanCount");
  w.Uint(s.orphan_span_count);
  // As the Jaeger view's sampling.policy and sampling.rate tags: only when known.
  if (storage::HasSamplingPolicyTag(s.sampling_policy)) {
    w.Key("samplingPolicy");
    WriteString(w, s.sampling_policy);
  }
  if (storage::HasSamplingRateTag(s.sample_rate) && std::isfinite(s.sample_rate)) {  // JSON
    w.Key("samplingRate");
    w.Double(s.sample_rate);
  }
  w.Key("services");
  w.StartArray();
  for (const storage::ServiceSummary& svc : s.services) {
    w.StartObject();
    w.Key("name");
    WriteString(w, svc.name);
    w.Key("spanCount");
    w.Uint(svc.span_count);
    w.Key("errorSpanCount");
    w.Uint(svc.error_count);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace tailtrace::query::internal
