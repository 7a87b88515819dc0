#pragma once

// Parsing of the query parameters of the search endpoints (pure functions, thread-safe). Every
// error is InvalidArgument with a message naming the parameter, e.g.
//   malformed parameter minDuration: "fast" is not a duration (e.g. "1.2s", "100ms", "1m")
//
// Jaeger  GET /api/traces
//   service, operation            the service and operation (operation requires service)
//   tags                          JSON map {"key":"value",...} (repeatable); numbers and booleans
//                                 are taken as their JSON text
//   tag                           key:value, split at the first ':' (repeatable)
//   minDuration, maxDuration      Go durations: "1.2s", "100ms", "1m30s", "500us"/"500µs", "0"
//   start, end                    microseconds since the epoch; end includes its whole
//                                 microsecond. Defaults: end = now, start = end - lookback
//   lookback                      when start is absent: a duration ("1h", "2d"); "custom" or ""
//                                 means the default of 2 days
//   limit                         1..kMaxSearchLimit, default kDefaultSearchLimit
//   traceID                       hex trace ID (repeatable): fetch these traces, ignore the rest
// OTLP    GET /api/v3/traces and /api/v3/trace-summaries (snake_case and camelCase names, as the
//         Jaeger api_v3 gateway accepts them)
//   query.service_name | query.serviceName, query.operation_name | query.operationName
//   query.attributes              JSON map, or key:value (repeatable)
//   query.start_time_min | query.startTimeMin, query.start_time_max | query.startTimeMax
//                                 RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed).
//                                 Defaults: max = now, min = max - 2 days
//   query.duration_min | query.durationMin, query.duration_max | query.durationMax   Go durations
//   query.num_traces | query.search_depth | query.searchDepth   like limit
// OTLP    GET /api/v3/tag-keys and /api/v3/tag-values (tag suggestions)
//   service                       only tags of this service's spans (optional)
//   key                           tag-values: whose values (required)
//   start_time_min | startTimeMin, start_time_max | startTimeMax   RFC 3339, defaults as above
//   limit                         1..kMaxTagSuggestionLimit, default kDefaultTagSuggestionLimit
// Jaeger  GET /api/dependencies
//   endTs                         milliseconds since the epoch, default now
//   lookback                      milliseconds, default 24 h
//   service                       only links from or to this service (optional)

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "proto/otlp_ids.h"
#include "storage/trace_store.h"

namespace tailtrace::query {

inline constexpr int kDefaultSearchLimit = 100;
inline constexpr int kMaxSearchLimit = 10'000;
inline constexpr int64_t kDefaultSearchLookbackNs = 2 * 24 * 3600 * 1'000'000'000ll;
inline constexpr int64_t kDefaultDependencyLookbackNs = 24 * 3600 * 1'000'000'000ll;
inline constexpr int kDefaultTagSuggestionLimit = 100;
inline constexpr int kMaxTagSuggestionLimit = 1'000;

// A Go time.ParseDuration string ("1.5h", "2m30s", "100ms", "500us", "500µs", "0") in
// nanoseconds. With `allow_days_and_weeks` (the Jaeger UI's lookback values), "d" (24 h) and
// "w" (7 d) are units too. Negative durations are refused. The error does not name a parameter.
absl::StatusOr<int64_t> ParseGoDuration(std::string_view text, bool allow_days_and_weeks = false);

// An RFC 3339 timestamp in nanoseconds since the epoch. The error does not name a parameter.
absl::StatusOr<int64_t> ParseRfc3339(std::string_view text);

// A trace ID of 1 to 32 hex digits (shorter ones left-padded with zeros, as Jaeger does).
absl::StatusOr<TraceId> ParseTraceIdParam(std::string_view hex, std::string_view param_name);

struct JaegerSearch {
  // Non-empty: fetch exactly these traces and ignore `query`.
  std::vector<TraceId> trace_ids;
  storage::TraceQuery query;
};
absl::StatusOr<JaegerSearch> ParseJaegerSearch(const http::Request& request, int64_t now_ns);

absl::StatusOr<storage::TraceQuery> ParseV3Search(const http::Request& request, int64_t now_ns);

struct DependenciesQuery {
  int64_t end_ns = 0;
  int64_t lookback_ns = 0;
  std::string service;  // "" = every link
};
absl::StatusOr<DependenciesQuery> ParseDependenciesQuery(const http::Request& request,
                                                         int64_t now_ns);

// GET /api/v3/tag-keys (`values` false) and /api/v3/tag-values (`values` true).
absl::StatusOr<storage::TagSuggestionQuery> ParseTagSuggestionQuery(const http::Request& request,
                                                                    bool values, int64_t now_ns);

// Jaeger GET /api/operations (spanKind) and GET /api/services/{service}/operations (span_kind).
struct OperationsQuery {
  std::string service;
  int span_kind = -1;  // -1: every kind
};
// `service` (required) and the span-kind filter named `kind_param` (optional; absent or empty
// means every kind).
absl::StatusOr<OperationsQuery> ParseOperationsQuery(const http::Request& request,
                                                     std::string_view kind_param);

}  // namespace tailtrace::query
