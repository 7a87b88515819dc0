#pragma once

#include <cstdint>
#include <string>

namespace tailtrace::query {

struct QueryOptions {
  // host:port of the query API (Jaeger /api, /api/v3).
  // Default: 0.0.0.0:16686
  std::string endpoint = "0.0.0.0:16686";
  // I/O threads of the query HTTP server.
  // Default: 2
  int num_threads = 2;
  // A trace with more spans is not answered (HTTP 422 naming the limit; in a search it is left
  // out and named in "errors"), so that reading one huge trace cannot take GiBs. Like Jaeger's
  // max trace size. 0: no limit.
  // Default: 100000
  uint64_t max_trace_spans = 100'000;
};

}  // namespace tailtrace::query
