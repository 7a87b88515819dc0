#include "query/jaeger_envelope.h"

#include "query/jaeger_json.h"

namespace tailtrace::query {

JaegerTracesWriter::JaegerTracesWriter(size_t expected_traces) : expected_traces_(expected_traces) {
  out_.Raw(R"({"data":[)");
}

void JaegerTracesWriter::Add(const storage::StoredTrace& trace) {
  if (count_ == 0 && expected_traces_ > 1) {
    out_.Reserve((EstimateJaegerTraceBytes(trace) + 1) * expected_traces_);
  }
  AppendJaegerTrace(trace, out_);
  out_.Char(',');
  ++count_;
}

http::Response JaegerTracesWriter::Finish(const std::vector<TraceId>& missing) {
  out_.Close(']');
  out_.Raw(R"(,"total":)");
  out_.Uint64(count_);
  out_.Raw(R"(,"limit":0,"offset":0,"errors":)");
  if (missing.empty()) {
    out_.Raw("null");
  } else {
    out_.Char('[');
    for (const TraceId& id : missing) {
      out_.Raw(R"({"code":404,"msg":"trace not found","traceID":)");
      out_.HexString(id.view());
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
