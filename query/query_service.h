#pragma once

// The query API over a TraceStore: Jaeger's HTTP JSON API (/api/...) and the OTLP-JSON API
// (/api/v3/...). Transport-neutral: it maps an http::Request to an http::Response; the daemon
// mounts it on an HttpServer.

#include <string_view>

#include "common/clock.h"
#include "common/http_server.h"
#include "query/options.h"
#include "storage/trace_store.h"

namespace tailtrace::query {

class QueryService {
 public:
  // `store` and `clock` must outlive the service. Of `options`, max_trace_spans applies.
  QueryService(storage::TraceStore* store, Clock* clock, const QueryOptions& options = {})
      : store_(store), clock_(clock), max_trace_spans_(options.max_trace_spans) {}

  // Thread-safe.
  http::Response Handle(const http::Request& request) const;

 private:
  storage::TraceStore* store_;
  Clock* clock_;
  uint64_t max_trace_spans_;
};

// What every query path answers when the daemon has no store (storage.enabled: false): 503 with
// `message`, in the error envelope of the API asked (/api/v3/... or Jaeger's /api/...), so that
// the Jaeger UI and Grafana show the message instead of an empty result.
http::Response NoStoreResponse(const http::Request& request, std::string_view message);

}  // namespace tailtrace::query
