#pragma once

// The Jaeger query API's success envelope around an array of traces, the response of
// /api/traces/{id} and /api/traces (search or traceID list):
//   {"data":[trace,...],"total":N,"limit":0,"offset":0,"errors":null}
// with "errors" listing the requested trace IDs that were not found, as
//   [{"code":404,"msg":"trace not found","traceID":"<32 hex>"},...],
// and the parts of the read that failed (cluster members that did not answer) without a traceID,
// as {"code":503,"msg":"member ...: ..."}.
// Traces are rendered with AppendJaegerTrace (jaeger_json.h) straight into the response body.
// Not thread-safe: one writer per response.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "proto/otlp_ids.h"
#include "query/json_buffer.h"
#include "storage/trace_store.h"

namespace tailtrace::query {

// An entry of the envelope's "errors": a trace named instead of being in "data", or (without
// trace_id) a failure that concerns no single trace.
struct JaegerTraceError {
  std::optional<TraceId> trace_id;
  int code = 404;
  std::string message;
};

class JaegerTracesWriter {
 public:
  // `expected_traces`: how many traces the caller may Add (a hint: the body is sized for that
  // many traces like the first one, so it is allocated once rather than grown by copies).
  explicit JaegerTracesWriter(size_t expected_traces);

  // Renders `trace` as the next element of "data".
  void Add(const storage::StoredTrace& trace);

  // The traces added so far ("total").
  size_t count() const { return count_; }

  // The 200 response; `errors` are listed in "errors" in order, as {"code", "msg", "traceID"}
  // ("traceID" only when set).
  // Call once.
  [[nodiscard]] http::Response Finish(const std::vector<JaegerTraceError>& errors = {});

 private:
  JsonBuffer out_;
  size_t expected_traces_;
  size_t count_ = 0;
};

}  // namespace tailtrace::query
