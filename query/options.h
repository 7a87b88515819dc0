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
  // tls, auth and cors.
  // Default: plain text, no authentication, no CORS
  security::ListenerSecurity security;
  // Open connections at most; more are closed at once. 0 = no limit.
  // Default: 1000
  int64_t max_connections = 1000;
};

}  // namespace tailtrace::query
