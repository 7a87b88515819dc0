#pragma once

#include <string>

namespace tailtrace::query {

struct QueryOptions {
  // host:port of the query API (Jaeger /api, /api/v3).
  // Default: 0.0.0.0:16686
  std::string endpoint = "0.0.0.0:16686";
  // I/O threads of the query HTTP server.
  // Default: 2
  int num_threads = 2;
};

}  // namespace tailtrace::query
