#pragma once

#include <cstdint>
#include <string>

#include "common/listener_security.h"

namespace tailtrace::query {

struct QueryOptions {
  // host:port of the query API (Jaeger /api, /api/v3).
  // Default: localhost:16686 (loopback only)
  std::string endpoint = "localhost:16686";
  // I/O threads of the query HTTP server.
  // Default: 2
  int num_threads = 2;
  // A trace with more spans is not answered (HTTP 422 naming the limit; in a search it is left
  // out and named in "errors"), so that reading one huge trace cannot take GiBs. Like Jaeger's
  // max trace size. 0: no limit.
  // Default: 100000
  uint64_t max_trace_spans = 100'000;
  // tls, auth and cors.
  // Default: plain text, no authentication, no CORS
  security::ListenerSecurity security;
  // Open connections at most; more are closed at once. 0 = no limit.
  // Default: 1000
  int64_t max_connections = 1000;
  // Span metrics are counted and kept (the config sets this from metrics.enabled). Off: every
  // /api/metrics/... endpoint answers 501, as Jaeger's query service without a metrics backend
  // (Jaeger UI up to v2.16 then shows the Monitor tab's setup page; later ones decide from the
  // metricsStorage capability that the server writes into their index.html).
  // Default: true
  bool span_metrics_enabled = true;
};

}  // namespace tailtrace::query
