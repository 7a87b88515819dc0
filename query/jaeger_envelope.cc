#include "jaeger_envelope.h"

#include <algorithm>

#include "common/utf8.h"
#include "query/jaeger_json.h"

namespace tailtrace::query {

JaegerTracesWriter::JaegerTracesWriter(size_t expected_traces) : expected_traces_(expected_traces) {
  out_.Raw(R"({"data":[)");
}

void JaegerTracesWriter::Add(const storage::StoredTrace& trace) {
  if (count_ == 0 && expected_traces_ > 1) {
    // Capped: a first trace of 100k spans must not reserve GiBs for a search's other traces.
    constexpr size_t kMaxReserveBytes = 64 << 20;
    out_.Reserve(
        std::min(kMaxReserveBytes, (EstimateJaegerTraceBytes(trace) + 1) * expected_traces_));
  }
  AppendJaegerTrace(trace, out_);
  out_.Char(',');
  ++count_;
}

http::Response JaegerTracesWriter::Finish(const std::vector<JaegerTraceError>& errors) {
  out_.Close(']');
  out_.Raw(R"(,"total":)");
  out_.Uint64(count_);
  out_.Raw(R"(,"limit":0,"offset":0,"errors":)");
  if (errors.empty()) {
    out_.Raw("null");
  } else {
    out_.Char('[');
    for (const JaegerTraceError& error : errors) {
      out_.Raw(R"({"code":)");
      out_.Uint64(static_cast<uint64_t>(error.code));
      out_.Raw(R"(,"msg":)");
      out_.String(SanitizeUtf8(error.message));  // it may quote a member's error
      if (error.trace_id.has_value()) {
        out_.Raw(R"(,"traceID":)");
        out_.HexString(error.trace_id->view());
      }
      out_.Raw("},");
    }
    out_.Close(']');
  }
  out_.Char('}');
  http::Response response;
  response.status = 200;
  response.content_type = "application/json";
  response.body = out_.Release();
  return response;
}

}  // namespace tailtrace::query
