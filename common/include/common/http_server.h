#pragma once

// A small HTTP/1.1 server (Boost.Beast underneath, kept private) that hands each complete request
// to one handler (synchronous, or answering later). Used by the OTLP/HTTP receiver, the query API
// and the admin endpoints. Keep-alive, many concurrent connections, a body-size limit (413 above
// it), optional TLS (OpenSSL via Boost.Asio, kept private; mTLS and certificate reload),
// bearer-token authentication (401 before the body is read), CORS, a connection limit and a bound
// on the body bytes in flight across connections (503 + Retry-After above it).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "common/listener_security.h"
#include "common/metrics.h"

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

// Called once with the response to a request, from any thread.
using Respond = absl::AnyInvocable<void(Response) &&>;
// A handler that may answer later (e.g. once other servers answered): it must not block, and
// must call `respond` exactly once, now or later, from any thread. `request` is valid only
// during the call. Thread-safe, as Handler.
using AsyncHandler = std::function<void(const Request& request, Respond respond)>;

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
  // Used in log lines and as the `listener` label of the connection metrics.
  // Default: "http"
  std::string name = "http";
  // TLS, bearer-token authentication and CORS (see common/listener_security.h).
  // Default: all off
  security::ListenerSecurity security;
  // Paths served without authentication (exact match), e.g. /healthz.
  // Default: none
  std::vector<std::string> open_paths;
  // Also served without authentication: the (percent-decoded) paths for which this returns true,
  // e.g. a web UI's static files (query/query_port.h). Called on the I/O threads: thread-safe.
  // Default: none
  std::function<bool(std::string_view path)> is_open_path;
  // Open connections at most; a connection accepted beyond it is closed at once (and counted).
  // 0 = no limit.
  // Default: 0
  int64_t max_connections = 0;
  // Request body bytes being received or handled across all connections at most (by
  // Content-Length; a chunked body counts as max_body_bytes, or as this bound if smaller); a
  // request that would exceed it gets 503 with Retry-After, unread. 0 = no limit.
  // Default: 0
  uint64_t max_inflight_body_bytes = 0;
  // When set, the server exports tailtrace_http_connections{listener} and
  // tailtrace_http_connections_refused_total{listener,reason}. Must outlive the server.
  // Default: null
  MetricsRegistry* metrics = nullptr;
};

class HttpServer {
 public:
  // Binds and starts serving. Fails (with the endpoint named) if the address is malformed or
  // cannot be bound, or (naming the file) if a TLS or token file cannot be read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> Create(HttpServerOptions options,
                                                                          Handler handler);
  // As Create, with a handler that answers when it is ready. The connection waits for its answer
  // (reading nothing more); Shutdown waits for answers up to its grace period.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpServer>> CreateAsync(
      HttpServerOptions options, AsyncHandler handler);
  virtual ~HttpServer() = default;

  // The bound port (useful with port 0).
  virtual int port() const = 0;
  // Stops accepting, lets requests in flight finish, closes connections and joins the threads.
  // Idempotent. After it returns the handler is never called again.
  virtual void Shutdown() = 0;
  // Checks the TLS files now and loads them if they changed (as reload_interval does).
  virtual void ReloadTlsForTest() = 0;
};

}  // namespace tailtrace::http
