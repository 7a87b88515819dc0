#pragma once

// A small HTTP/1.1 server (Boost.Beast underneath, kept private) that hands each complete request
// to one synchronous handler. Used by the OTLP/HTTP receiver, the query API and the admin
// endpoints. Keep-alive, many concurrent connections, a body-size limit (413 above it).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/api/traces?service=a"
  std::string path;    // percent-decoded path, without the query string
  // Percent-decoded query parameters in order of appearance ('+' decodes to a space).
  std::vector<std::pair<std::string, std::string>> query;
  // Header names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header of that (lower-case) name, or "" if absent.
  std::string_view Header(std::string_view lower_name) const;
  // The first query parameter of that name, or nullopt.
  std::optional<std::string_view> Param(std::string_view name) const;
  // Every query parameter of that name, in order.
  std::vector<std::string_view> Params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Called on a server I/O thread, concurrently with other calls: must be thread-safe.
using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  // host:port to listen on; port 0 picks a free port (see HttpServer::port()).
  // Default: 0.0.0.0:0
  std::string endpoint = "0.0.0.0:0";
  // Largest request body accepted as received on the wire; above it the server answers 413.
  // Default: 64 MiB
  uint64_t max_body_bytes = 64ull << 20;
  // I/O threads running handlers.
  // Default: 2
  int num_threads = 2;
  // Idle keep-alive connections are closed after this long.
  // Default: 60 s
  int64_t idle_timeout_ms = 60'000;
  // Used in log lines.
  // Default: "http"
  std::string name = "http";
};

class HttpServer {
 public:
  // Binds and starts serving. Fails (with the endpoint named) if the address is malformed or
  // cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> Create(HttpServerOptions options,
                                                                          Handler handler);
  virtual ~HttpServer() = default;

  // The bound port (useful with port 0).
  virtual int port() const = 0;
  // Stops accepting, lets requests in flight finish, closes connections and joins the threads.
  // Idempotent. After it returns the handler is never called again.
  virtual void Shutdown() = 0;
};

}  // namespace tailtrace::http
