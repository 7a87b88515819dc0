#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/listener_security.h"

namespace tailtrace::query {

struct QueryOptions {
  // host:port of the query API (Jaeger /api, /api/v3) and the built-in UI.
  // Default: localhost:16686 (loopback only)
  std::string endpoint = "localhost:16686";
  // The path prefix of everything the port serves (query.base_path), for a reverse proxy that
  // forwards e.g. https://example.com/tailtrace/ to it: the API at <base_path>/api/..., the UI at
  // <base_path>/. In the form NormalizeBasePath gives: "/" or "/a/b" (no trailing '/').
  // Default: "/"
  std::string base_path = "/";
  // Serve the built-in web UI (query.ui.enabled): every path under base_path but api/.
  // Default: true
  bool ui_enabled = true;
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

// `path` (query.base_path as written) in the form QueryOptions::base_path holds: it must start
// with '/'; trailing '/'s are removed (but from "/" itself); each segment must be non-empty, not
// "." or "..", and of the characters A-Z a-z 0-9 - . _ ~ ! $ ( ) * + , ; = : @ (a URL path that
// needs no percent-encoding and no escaping inside <base href="...">). InvalidArgument names the
// value and what is wrong with it (not the key).
[[nodiscard]] absl::StatusOr<std::string> NormalizeBasePath(std::string_view path);

}  // namespace tailtrace::query
