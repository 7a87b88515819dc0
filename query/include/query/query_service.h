#pragma once

// The query API over a TraceReader (trace_reader.h): Jaeger's HTTP JSON API (/api/...) and the
// OTLP-JSON API (/api/v3/...). Transport-neutral: it maps an http::Request to an http::Response;
// the daemon mounts it on an HttpServer.
//
// A single node reads its TraceStore; a cluster node reads a cluster::ClusterReader, which asks
// every live member. Parts of a read that failed while the rest answered (a member down or too
// slow) do not fail the request: the answer is 200 with what was found, and the failures are
// listed, once per failed part —
//   Jaeger API: in the envelope's "errors", as {"code":503,"msg":"member ...: ..."} (no traceID);
//   /api/v3:    in a top-level "partialErrors" array next to the result, each shaped like the
//               v3 "error" object ({"grpcCode":14,"httpCode":503,"message":..,"httpStatus":..}).
//   /api/metrics/{calls,errors,latencies} (no envelope): one `Warning: 199 tailtrace "..."`
//               header per failure, and a warning in the log; the rates then miss those members.
// Without partial failures the responses are exactly the single-node ones.

#include <memory>
#include <string_view>

#include "common/clock.h"
#include "common/http_server.h"
#include "query/options.h"
#include "query/trace_reader.h"
#include "storage/trace_store.h"

namespace tailtrace::query {

class QueryService {
 public:
  // Reads `store` (a single node). `store` and `clock` must outlive the service. Of `options`,
  // max_trace_spans and span_metrics_enabled apply.
  QueryService(storage::TraceStore* store, Clock* clock, const QueryOptions& options = {})
      : owned_reader_(std::make_unique<StoreTraceReader>(store)),
        reader_(owned_reader_.get()),
        clock_(clock),
        max_trace_spans_(options.max_trace_spans),
        span_metrics_enabled_(options.span_metrics_enabled) {}

  // Reads through `reader` (e.g. a cluster::ClusterReader in cluster mode). `reader` and `clock`
  // must outlive the service.
  QueryService(TraceReader* reader, Clock* clock, const QueryOptions& options = {})
      : reader_(reader),
        clock_(clock),
        max_trace_spans_(options.max_trace_spans),
        span_metrics_enabled_(options.span_metrics_enabled) {}

  // Thread-safe.
  http::Response Handle(const http::Request& request) const {
    return Handle(request, request.path);
  }
  // As Handle(request), routed by `path` instead of request.path: the path below the query
  // port's base path (QueryPort::ApiHandler).
  http::Response Handle(const http::Request& request, std::string_view path) const;

 private:
  std::unique_ptr<StoreTraceReader> owned_reader_;  // null when the reader was given
  TraceReader* reader_;
  Clock* clock_;
  uint64_t max_trace_spans_;
  bool span_metrics_enabled_;
};

// What every query path answers when the daemon has no store (storage.enabled: false): 503 with
// `message`, in the error envelope of the API asked by `path` (/api/v3/... or Jaeger's /api/...,
// below the base path), so that the Jaeger UI and Grafana show the message instead of an empty
// result.
http::Response NoStoreResponse(std::string_view path, std::string_view message);

}  // namespace tailtrace::query
