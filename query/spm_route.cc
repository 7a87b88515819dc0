#include "spm_route_internal.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api_responses_internal.h"
#include "jaeger_envelope.h"
#include "spm.h"

namespace tailtrace::query::internal {
namespace {

http::Response MinStep(const std::vector<std::string>& partial) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  BeginJaegerOk(w);
  w.Int64(kSpmMinStepMs);
  return EndJaegerOk(w, buf, 0, partial);
}

http::Response Spm(SpmMetric metric, const http::Request& request, TraceReader* reader,
                   PartialErrors* partial, int64_t now_ns) {
  absl::StatusOr<SpmQuery> query = ParseSpmQuery(metric, request, now_ns);
  if (!query.ok()) return JaegerError(400, MessageOf(query.status()), partial->messages());
  absl::StatusOr<std::vector<storage::MetricPoint>> points =
      reader->ReadMetricPoints(SpmReadRange(*query), partial);
  if (!points.ok()) {
    if (absl::IsUnimplemented(points.status())) {
      return JaegerError(501,
                         absl::StrCat("trace metrics are not available: ",
                                      std::string(MessageOf(points.status()))),
                         partial->messages());
    }
    if (absl::IsInvalidArgument(points.status())) {
      return JaegerError(400, MessageOf(points.status()), partial->messages());
    }
    return StoreError(Api::kJaeger, "reading span metrics", points.status(), partial->messages());
  }
  absl::StatusOr<std::vector<SpmSeries>> series = ComputeSpm(*query, *points);
  if (!series.ok()) return JaegerError(422, MessageOf(series.status()), partial->messages());
  http::Response response;
  response.body = RenderSpm(*query, *series);
  AddPartialWarnings(response, partial->messages());
  return response;
}

}  // namespace

http::Response SpmResponse(std::string_view name, const http::Request& request, TraceReader* reader,
                           PartialErrors* partial, int64_t now_ns, bool span_metrics_enabled) {
  if (!span_metrics_enabled) {
    return JaegerError(501,
                       "trace metrics are currently disabled: span metrics are off in this "
                       "tailtrace (metrics.enabled: false)",
                       partial->messages());
  }
  const std::optional<SpmMetric> metric = SpmMetricOfName(name);
  if (!metric.has_value()) return MinStep(partial->messages());  // "minstep"
  return Spm(*metric, request, reader, partial, now_ns);
}

}  // namespace tailtrace::query::internal
