#include "query/query_service.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api_responses_internal.h"
#include "jaeger_envelope.h"
#include "json_indent_internal.h"
#include "otlp_transform_internal.h"
#include "proto/otlp_ids.h"
#include "proto/otlp_json.h"
#include "query/jaeger_json.h"
#include "search_params.h"
#include "spdlog/spdlog.h"
#include "spm.h"
#include "spm_route_internal.h"
#include "tag_route_internal.h"

// Routes (GET, but for POST /api/transform and POST /api/archive; another method on a known path
// is 405):
//   Jaeger API, envelope {"data","total","limit","offset","errors"}:
//     /api/traces?service=&tags=&...     trace search (search_params.h): full traces, newest first
//     /api/traces?traceID=..&traceID=..  these traces; missing ones are listed in "errors"
//     /api/traces/{traceID}              one trace (jaeger_json.h)
//     /api/services                      service names
//     /api/services/{service}/operations operation names, deduplicated and sorted
//     /api/operations?service=&spanKind= [{"name","spanKind"}]
//     /api/dependencies?endTs=&lookback= [{"parent","child","callCount"}]
//     POST /api/transform                an OTLP/JSON body as Jaeger traces (the UI's upload)
//     POST /api/archive/{traceID}        archives the trace (the UI's "Archive Trace"): as Jaeger,
//                                        {"data":[],"total":0,"limit":0,"offset":0,"errors":[]}
//     GET /api/archive/{traceID}         the archived copy, as /api/traces/{traceID} (not Jaeger's)
//   Jaeger SPM API (spm.h), the Monitor tab's: a MetricFamily without the envelope (errors are in
//   the Jaeger error envelope):
//     /api/metrics/{calls,errors,latencies}?service=&...  span metrics history as rates
//     /api/metrics/minstep               {"data":1,...} in the envelope
//     501 for all four when span metrics are off (QueryOptions::span_metrics_enabled)
//   OTLP-JSON API (jaeger api_v3 HTTP gateway), errors as {"error":{"grpcCode","httpCode",
//   "message","httpStatus"}}:
//     /api/v3/traces?query.service_name=&...  {"result":{"resourceSpans":[...]}}, every resource
//                                        span of the found traces, newest trace first
//     /api/v3/trace-summaries?(same)     {"summaries":[...]}: summaries only, no span is loaded
//     /api/v3/traces/{traceID}           {"result":{"resourceSpans":[...]}}
//     /api/v3/services                   {"services":[...]}
//     /api/v3/operations?service=&span_kind=  {"operations":[{"name","spanKind"}]}
//     /api/v3/tag-keys?service=&...      {"tagKeys":[...]}: tag suggestions (tag_route_internal.h)
//     /api/v3/tag-values?key=&service=&...  {"tagValues":[...]}
// A trace read by ID (/api/traces/{traceID}, ?traceID=, /api/v3/traces/{traceID}, and a searched
// trace that retention removed meanwhile) that is not in the store is looked up in the archive, as
// Jaeger's query service does when it has an archive; searches do not look into the archive.
// A bad parameter is a 400 naming it; a search that matches nothing (e.g. an unknown service) is
// an empty result, not an error.

namespace tailtrace::query {
namespace {

constexpr std::string_view kJaegerPrefix = "/api/";
constexpr std::string_view kV3Prefix = "/api/v3/";

using internal::Api;
using internal::BeginJaegerOk;
using internal::JsonResponse;
using internal::MessageOf;
using internal::V3PartialErrorsMember;
using internal::WriteString;
using internal::WriteSummary;
using internal::WriteV3PartialErrors;

class Router {
 public:
  Router(TraceReader* reader, Clock* clock, uint64_t max_trace_spans, bool span_metrics_enabled)
      : reader_(reader),
        clock_(clock),
        max_trace_spans_(max_trace_spans),
        span_metrics_enabled_(span_metrics_enabled) {}

  // `path`: request.path below the base path.
  http::Response Route(const http::Request& request, std::string_view path) const {
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    const Api api = (path == "/api/v3" || path.starts_with(kV3Prefix)) ? Api::kV3 : Api::kJaeger;
    const bool get = request.method == "GET";
    auto method_not_allowed = [&] {
      http::Response r = Error(api, 405,
                               absl::StrCat("method ", request.method, " not allowed on ",
                                            std::string(path), "; use GET"));
      r.headers.emplace_back("Allow", "GET");
      return r;
    };

    if (api == Api::kV3) {
      const std::string_view rest = path.substr(std::min(path.size(), kV3Prefix.size()));
      if (rest == "services") return get ? V3Services() : method_not_allowed();
      if (rest == "operations") return get ? V3Operations(request) : method_not_allowed();
      if (rest == "traces") return get ? V3Search(request) : method_not_allowed();
      if (rest == "trace-summaries") return get ? V3Summaries(request) : method_not_allowed();
      if (rest == "tag-keys" || rest == "tag-values") {
        if (!get) return method_not_allowed();
        return internal::TagSuggestionsResponse(rest == "tag-values", request, reader_, &partial_,
                                                clock_->UnixNanos());
      }
      if (std::optional<std::string_view> id = Segment(rest, "traces/")) {
        return get ? V3Trace(*id) : method_not_allowed();
      }
      return V3Error(404, absl::StrCat("unknown path ", std::string(path)));
    }

    if (path.starts_with(kJaegerPrefix)) {
      const std::string_view rest = path.substr(kJaegerPrefix.size());
      if (rest == "services") return get ? JaegerServices() : method_not_allowed();
      if (rest == "operations") return get ? JaegerOperations(request) : method_not_allowed();
      if (rest == "traces") return get ? JaegerSearch(request) : method_not_allowed();
      if (rest == "dependencies") return get ? JaegerDependencies(request) : method_not_allowed();
      if (std::optional<std::string_view> name = MetricsSegment(rest)) {
        return get ? JaegerMetrics(*name, request) : method_not_allowed();
      }
      if (rest == "transform") {
        if (request.method == "POST") return JaegerTransform(request);
        http::Response r = JaegerError(405, absl::StrCat("method ", request.method,
                                                         " not allowed on /api/transform; use POST "
                                                         "with an OTLP/JSON body"));
        r.headers.emplace_back("Allow", "POST");
        return r;
      }
      if (std::optional<std::string_view> id = Segment(rest, "traces/")) {
        return get ? JaegerTrace(*id) : method_not_allowed();
      }
      if (std::optional<std::string_view> id = Segment(rest, "archive/")) {
        return ArchiveRoute(request, path, *id);
      }
      if (std::optional<std::string_view> service = ServiceOfOperationsPath(rest)) {
        return get ? JaegerServiceOperations(*service) : method_not_allowed();
      }
    }
    return JaegerError(404, absl::StrCat("unknown path ", std::string(path)));
  }

 private:
  // `rest` = "services/{service}/operations" with a non-empty service (which may contain '/', from
  // a percent-encoded %2F): the service.
  static std::optional<std::string_view> ServiceOfOperationsPath(std::string_view rest) {
    constexpr std::string_view kBegin = "services/";
    constexpr std::string_view kEnd = "/operations";
    if (rest.size() <= kBegin.size() + kEnd.size() || !rest.starts_with(kBegin) ||
        !rest.ends_with(kEnd)) {
      return std::nullopt;
    }
    return rest.substr(kBegin.size(), rest.size() - kBegin.size() - kEnd.size());
  }

  // `rest` = "metrics/{calls,errors,latencies,minstep}": the last segment.
  static std::optional<std::string_view> MetricsSegment(std::string_view rest) {
    const std::optional<std::string_view> name = Segment(rest, "metrics/");
    if (!name.has_value() || (!SpmMetricOfName(*name).has_value() && *name != "minstep")) {
      return std::nullopt;
    }
    return name;
  }

  // `rest` = prefix + one non-empty segment without '/': that segment.
  static std::optional<std::string_view> Segment(std::string_view rest, std::string_view prefix) {
    if (!rest.starts_with(prefix)) return std::nullopt;
    const std::string_view segment = rest.substr(prefix.size());
    if (segment.empty() || segment.find('/') != std::string_view::npos) return std::nullopt;
    return segment;
  }

  // The trace, read no further than max_trace_spans (StoredTrace::truncated then). A trace the
  // store does not hold (e.g. retention removed it) is looked up in the archive, as Jaeger's
  // query service does; a store without an archive has nothing archived.
  absl::StatusOr<std::optional<storage::StoredTrace>> LoadTrace(const TraceId& id) const {
    absl::StatusOr<std::optional<storage::StoredTrace>> trace =
        reader_->GetTrace(id, max_trace_spans_, &partial_);
    if (!trace.ok() || trace->has_value()) return trace;
    absl::StatusOr<std::optional<storage::StoredTrace>> archived =
        reader_->GetArchivedTrace(id, max_trace_spans_, &partial_);
    if (absl::IsUnimplemented(archived.status())) return std::nullopt;
    return archived;
  }

  // Answered (HTTP 422) for a trace LoadTrace left truncated; `done` is what was not done to it.
  std::string TooLargeMessage(const TraceId& id, std::string_view done = "shown",
                              std::string_view to_do = "read") const {
    return absl::StrCat("trace ", id.Hex(), " has more than ", max_trace_spans_,
                        " spans (query.max_trace_spans); it is not ", std::string(done),
                        ". Raise query.max_trace_spans to ", std::string(to_do), " it");
  }

  // /api/archive/{traceID}: POST archives, GET reads the archived copy.
  http::Response ArchiveRoute(const http::Request& request, std::string_view path,
                              std::string_view id) const {
    if (request.method == "POST") return JaegerArchive(id);
    if (request.method == "GET") return JaegerArchivedTrace(id);
    http::Response r = JaegerError(
        405, absl::StrCat("method ", request.method, " not allowed on ", std::string(path),
                          "; use POST to archive the trace or GET to read the archived copy"));
    r.headers.emplace_back("Allow", "GET, POST");
    return r;
  }

  // The Jaeger UI's "Archive Trace": the trace as /api/traces/{traceID} reads it goes into the
  // archive of this node's store (trace_reader.h), merged with what is archived already.
  http::Response JaegerArchive(std::string_view id_hex) const {
    absl::StatusOr<TraceId> id = ParseTraceIdParam(id_hex, "traceID");
    if (!id.ok()) return JaegerError(400, MessageOf(id.status()));
    absl::StatusOr<std::optional<storage::StoredTrace>> trace = LoadTrace(*id);
    if (!trace.ok()) return StoreError(Api::kJaeger, "reading a trace", trace.status());
    if (!trace->has_value()) return JaegerError(404, "trace not found");
    if ((*trace)->truncated) return JaegerError(422, TooLargeMessage(*id, "archived", "archive"));
    if (absl::Status archived = reader_->ArchiveTrace(**trace); !archived.ok()) {
      return StoreError(Api::kJaeger, "archiving a trace", archived);
    }
    return internal::JaegerArchivedOk(Partial());
  }

  // The archived copy alone (not the trace in the store), rendered as /api/traces/{traceID}.
  http::Response JaegerArchivedTrace(std::string_view id_hex) const {
    absl::StatusOr<TraceId> id = ParseTraceIdParam(id_hex, "traceID");
    if (!id.ok()) return JaegerError(400, MessageOf(id.status()));
    absl::StatusOr<std::optional<storage::StoredTrace>> trace =
        reader_->GetArchivedTrace(*id, max_trace_spans_, &partial_);
    if (!trace.ok()) return StoreError(Api::kJaeger, "reading an archived trace", trace.status());
    if (!trace->has_value()) return JaegerError(404, "trace not found in the archive");
    if ((*trace)->truncated) return JaegerError(422, TooLargeMessage(*id));
    JaegerTracesWriter out(1);
    out.Add(**trace);
    return FinishTraces(out);
  }

  http::Response JaegerTrace(std::string_view id_hex) const {
    absl::StatusOr<TraceId> id = ParseTraceIdParam(id_hex, "traceID");
    if (!id.ok()) return JaegerError(400, MessageOf(id.status()));
    absl::StatusOr<std::optional<storage::StoredTrace>> trace = LoadTrace(*id);
    if (!trace.ok()) return StoreError(Api::kJaeger, "reading a trace", trace.status());
    if (!trace->has_value()) return JaegerError(404, "trace not found");
    if ((*trace)->truncated) return JaegerError(422, TooLargeMessage(*id));
    JaegerTracesWriter out(1);
    out.Add(**trace);
    return FinishTraces(out);
  }

  // The Jaeger UI uploads OTLP/JSON files here to show them.
  http::Response JaegerTransform(const http::Request& request) const {
    absl::StatusOr<std::vector<storage::StoredTrace>> traces =
        internal::TracesOfOtlpJson(request.body);
    if (!traces.ok()) {
      return JaegerError(400, absl::StrCat("the body is not an OTLP/JSON trace export: ",
                                           std::string(MessageOf(traces.status()))));
    }
    JaegerTracesWriter out(traces->size());
    for (const storage::StoredTrace& trace : *traces) out.Add(trace);
    return out.Finish();
  }

  http::Response JaegerServices() const {
    absl::StatusOr<std::vector<std::string>> services = reader_->GetServices(&partial_);
    if (!services.ok()) return StoreError(Api::kJaeger, "listing services", services.status());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    BeginJaegerOk(w);
    w.StartArray();
    for (const std::string& s : *services) WriteString(w, s);
    w.EndArray();
    return EndJaegerOk(w, buf, services->size());
  }

  http::Response JaegerServiceOperations(std::string_view service) const {
    absl::StatusOr<std::vector<storage::Operation>> ops =
        reader_->GetOperations(std::string(service), -1, &partial_);
    if (!ops.ok()) return StoreError(Api::kJaeger, "listing operations", ops.status());
    std::vector<std::string_view> names;
    names.reserve(ops->size());
    for (const storage::Operation& op : *ops) names.push_back(op.name);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    BeginJaegerOk(w);
    w.StartArray();
    for (std::string_view name : names) WriteString(w, name);
    w.EndArray();
    return EndJaegerOk(w, buf, names.size());
  }

  static void WriteOperation(JsonWriter& w, const storage::Operation& op) {
    w.StartObject();
    w.Key("name");
    WriteString(w, op.name);
    w.Key("spanKind");
    WriteString(w, SpanKindName(op.span_kind));
    w.EndObject();
  }

  http::Response JaegerOperations(const http::Request& request) const {
    absl::StatusOr<OperationsQuery> query = ParseOperationsQuery(request, "spanKind");
    if (!query.ok()) return JaegerError(400, MessageOf(query.status()));
    absl::StatusOr<std::vector<storage::Operation>> ops =
        reader_->GetOperations(query->service, query->span_kind, &partial_);
    if (!ops.ok()) return StoreError(Api::kJaeger, "listing operations", ops.status());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    BeginJaegerOk(w);
    w.StartArray();
    for (const storage::Operation& op : *ops) WriteOperation(w, op);
    w.EndArray();
    return EndJaegerOk(w, buf, ops->size());
  }

  http::Response V3Trace(std::string_view id_hex) const {
    absl::StatusOr<TraceId> id = ParseTraceIdParam(id_hex, "trace_id");
    if (!id.ok()) return V3Error(400, MessageOf(id.status()));
    absl::StatusOr<std::optional<storage::StoredTrace>> trace = LoadTrace(*id);
    if (!trace.ok()) return StoreError(Api::kV3, "reading a trace", trace.status());
    if (!trace->has_value()) return V3Error(404, "trace not found");
    if ((*trace)->truncated) return V3Error(422, TooLargeMessage(*id));
    http::Response response;
    response.content_type = "application/json";
    const std::string data = otlp_json::TracesDataToJson((*trace)->data);
    const std::string partial = V3PartialErrorsMember(Partial());
    response.body.reserve(data.size() + partial.size() + 12);
    response.body.append("{\"result\":").append(data).append(partial).append("}");
    return response;
  }

  http::Response V3Services() const {
    absl::StatusOr<std::vector<std::string>> services = reader_->GetServices(&partial_);
    if (!services.ok()) return StoreError(Api::kV3, "listing services", services.status());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("services");
    w.StartArray();
    for (const std::string& s : *services) WriteString(w, s);
    w.EndArray();
    WriteV3PartialErrors(w, Partial());
    w.EndObject();
    return JsonResponse(200, buf);
  }

  http::Response V3Operations(const http::Request& request) const {
    absl::StatusOr<OperationsQuery> query = ParseOperationsQuery(request, "span_kind");
    if (!query.ok()) return V3Error(400, MessageOf(query.status()));
    absl::StatusOr<std::vector<storage::Operation>> ops =
        reader_->GetOperations(query->service, query->span_kind, &partial_);
    if (!ops.ok()) return StoreError(Api::kV3, "listing operations", ops.status());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("operations");
    w.StartArray();
    for (const storage::Operation& op : *ops) WriteOperation(w, op);
    w.EndArray();
    WriteV3PartialErrors(w, Partial());
    w.EndObject();
    return JsonResponse(200, buf);
  }

  // The traces of `summaries` that are still stored (retention may remove one in between).
  // Stops at the first trace over max_trace_spans and sets `*too_large` to it.
  absl::StatusOr<std::vector<storage::StoredTrace>> LoadTraces(
      const std::vector<storage::TraceSummary>& summaries,
      std::optional<TraceId>* too_large) const {
    std::vector<storage::StoredTrace> traces;
    traces.reserve(summaries.size());
    for (const storage::TraceSummary& s : summaries) {
      absl::StatusOr<std::optional<storage::StoredTrace>> trace = LoadTrace(s.trace_id);
      if (!trace.ok()) return trace.status();
      if (!trace->has_value()) continue;
      if ((*trace)->truncated) {
        *too_large = s.trace_id;
        return traces;
      }
      traces.push_back(std::move(**trace));
    }
    return traces;
  }

  // Adds the trace `id` to `out`, or an entry to `errors` when it is missing or too large.
  // False (with `status` set) when the store failed.
  bool AddJaegerTrace(const TraceId& id, JaegerTracesWriter& out,
                      std::vector<JaegerTraceError>& errors, absl::Status& status) const {
    absl::StatusOr<std::optional<storage::StoredTrace>> trace = LoadTrace(id);
    if (!trace.ok()) {
      status = trace.status();
      return false;
    }
    if (!trace->has_value()) {
      errors.push_back({id, 404, "trace not found"});
    } else if ((*trace)->truncated) {
      errors.push_back({id, 422, TooLargeMessage(id)});
    } else {
      out.Add(**trace);
    }
    return true;
  }

  http::Response JaegerSearch(const http::Request& request) const {
    absl::StatusOr<query::JaegerSearch> search = ParseJaegerSearch(request, clock_->UnixNanos());
    if (!search.ok()) return JaegerError(400, MessageOf(search.status()));
    if (!search->trace_ids.empty()) {
      JaegerTracesWriter out(search->trace_ids.size());
      std::vector<JaegerTraceError> errors;
      absl::Status status;
      for (const TraceId& id : search->trace_ids) {
        if (!AddJaegerTrace(id, out, errors, status)) {
          return StoreError(Api::kJaeger, "reading a trace", status);
        }
      }
      return FinishTraces(out, std::move(errors));
    }
    absl::StatusOr<std::vector<storage::TraceSummary>> summaries =
        reader_->FindTraces(search->query, &partial_);
    if (!summaries.ok()) return SearchError(Api::kJaeger, summaries.status());
    // Each trace is rendered as soon as it is loaded (and freed before the next is read); a
    // trace retention removed in between is skipped, as LoadTraces does; a trace over
    // max_trace_spans is named in "errors", so the answer holds at most limit x max_trace_spans
    // spans.
    JaegerTracesWriter out(summaries->size());
    std::vector<JaegerTraceError> errors;
    absl::Status status;
    for (const storage::TraceSummary& s : *summaries) {
      if (!AddJaegerTrace(s.trace_id, out, errors, status)) {
        return StoreError(Api::kJaeger, "reading traces", status);
      }
      if (!errors.empty() && errors.back().code == 404) errors.pop_back();
    }
    return FinishTraces(out, std::move(errors));
  }

  http::Response JaegerDependencies(const http::Request& request) const {
    absl::StatusOr<DependenciesQuery> query = ParseDependenciesQuery(request, clock_->UnixNanos());
    if (!query.ok()) return JaegerError(400, MessageOf(query.status()));
    absl::StatusOr<std::vector<storage::DependencyLink>> links =
        reader_->GetDependencies(query->end_ns, query->lookback_ns, &partial_);
    if (!links.ok()) {
      if (absl::IsInvalidArgument(links.status())) {
        return JaegerError(400, MessageOf(links.status()));
      }
      return StoreError(Api::kJaeger, "computing dependencies", links.status());
    }
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    BeginJaegerOk(w);
    w.StartArray();
    size_t total = 0;
    for (const storage::DependencyLink& link : *links) {
      if (!query->service.empty() && link.parent != query->service &&
          link.child != query->service) {
        continue;
      }
      w.StartObject();
      w.Key("parent");
      WriteString(w, link.parent);
      w.Key("child");
      WriteString(w, link.child);
      w.Key("callCount");
      w.Uint64(link.call_count);
      w.Key("errorCount");
      w.Uint64(link.error_count);
      w.EndObject();
      ++total;
    }
    w.EndArray();
    return EndJaegerOk(w, buf, total);
  }

  // /api/metrics/{name} (a name MetricsSegment accepts).
  http::Response JaegerMetrics(std::string_view name, const http::Request& request) const {
    return internal::SpmResponse(name, request, reader_, &partial_, clock_->UnixNanos(),
                                 span_metrics_enabled_);
  }

  http::Response V3Search(const http::Request& request) const {
    absl::StatusOr<storage::TraceQuery> query = ParseV3Search(request, clock_->UnixNanos());
    if (!query.ok()) return V3Error(400, MessageOf(query.status()));
    absl::StatusOr<std::vector<storage::TraceSummary>> summaries =
        reader_->FindTraces(*query, &partial_);
    if (!summaries.ok()) return SearchError(Api::kV3, summaries.status());
    std::optional<TraceId> too_large;
    absl::StatusOr<std::vector<storage::StoredTrace>> traces = LoadTraces(*summaries, &too_large);
    if (!traces.ok()) return StoreError(Api::kV3, "reading traces", traces.status());
    if (too_large) {
      return V3Error(422, absl::StrCat(TooLargeMessage(*too_large), ", or narrow the search"));
    }
    opentelemetry::proto::trace::v1::TracesData all;
    for (storage::StoredTrace& t : *traces) {
      for (auto& rs : *t.data.mutable_resource_spans()) {
        all.mutable_resource_spans()->Add(std::move(rs));
      }
    }
    http::Response response;
    response.content_type = "application/json";
    const std::string data = otlp_json::TracesDataToJson(all);
    const std::string partial = V3PartialErrorsMember(Partial());
    response.body.reserve(data.size() + partial.size() + 12);
    response.body.append("{\"result\":").append(data).append(partial).append("}");
    return response;
  }

  http::Response V3Summaries(const http::Request& request) const {
    absl::StatusOr<storage::TraceQuery> query = ParseV3Search(request, clock_->UnixNanos());
    if (!query.ok()) return V3Error(400, MessageOf(query.status()));
    absl::StatusOr<std::vector<storage::TraceSummary>> summaries =
        reader_->FindTraces(*query, &partial_);
    if (!summaries.ok()) return SearchError(Api::kV3, summaries.status());
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("summaries");
    w.StartArray();
    for (const storage::TraceSummary& s : *summaries) WriteSummary(w, s);
    w.EndArray();
    WriteV3PartialErrors(w, Partial());
    w.EndObject();
    return JsonResponse(200, buf);
  }

  // The failed parts of this request's reads, each listed once, in the order they failed.
  const std::vector<std::string>& Partial() const { return partial_.messages(); }

  // The answers of api_responses_internal.h, with this request's partial errors.
  http::Response JaegerError(int status, std::string_view message) const {
    return internal::JaegerError(status, message, Partial());
  }
  http::Response V3Error(int status, std::string_view message) const {
    return internal::V3Error(status, message, Partial());
  }
  http::Response Error(Api api, int status, std::string_view message) const {
    return internal::Error(api, status, message, Partial());
  }
  http::Response StoreError(Api api, std::string_view what, const absl::Status& status) const {
    return internal::StoreError(api, what, status, Partial());
  }
  http::Response SearchError(Api api, const absl::Status& status) const {
    return internal::SearchError(api, status, Partial());
  }
  http::Response EndJaegerOk(JsonWriter& w, const rapidjson::StringBuffer& buf,
                             size_t total) const {
    return internal::EndJaegerOk(w, buf, total, Partial());
  }
  // `errors` (trace entries) followed by the partial errors.
  http::Response FinishTraces(JaegerTracesWriter& out,
                              std::vector<JaegerTraceError> errors = {}) const {
    for (JaegerTraceError& e : internal::JaegerPartialErrors(Partial())) {
      errors.push_back(std::move(e));
    }
    return out.Finish(errors);
  }

  TraceReader* reader_;
  Clock* clock_;
  uint64_t max_trace_spans_;
  bool span_metrics_enabled_;
  // A Router serves one request (QueryService::Handle makes one per request), so the reads of
  // that request share their partial errors (and skip what failed in an earlier read).
  mutable PartialErrors partial_;
};

}  // namespace

http::Response QueryService::Handle(const http::Request& request, std::string_view path) const {
  // The one boundary where a third-party exception (e.g. std::bad_alloc from a huge trace) is
  // turned into an answer instead of taking the server thread down.
  try {
    http::Response response =
        Router(reader_, clock_, max_trace_spans_, span_metrics_enabled_).Route(request, path);
    if (request.Param("prettyPrint") == "true" && response.content_type == "application/json") {
      response.body = internal::IndentJson(response.body);
    }
    return response;
  } catch (const std::exception& e) {
    spdlog::error("query: {} {} failed: {}", request.method, request.path, e.what());
    return internal::JaegerError(500, absl::StrCat("internal error: ", e.what()));
  }
}

http::Response NoStoreResponse(std::string_view path, std::string_view message) {
  const bool v3 = path == "/api/v3" || path.starts_with(kV3Prefix);
  // No Retry-After: waiting changes nothing.
  return internal::Error(v3 ? Api::kV3 : Api::kJaeger, 503, message);
}

}  // namespace tailtrace::query
