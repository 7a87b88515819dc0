#pragma once

// An HTTP/1.1 client: one kept-alive connection to one server, plain text or TLS (OpenSSL, the
// server's name sent as SNI and checked against its certificate), one synchronous round trip at a
// time, each bounded by one deadline. Shared by the OTLP/HTTP exporter and the ClickHouse client;
// Boost.Beast and OpenSSL stay private to http_client/.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::http_client {

using Deadline = std::chrono::steady_clock::time_point;

// A client's TLS settings (the config's `tls` keys of the exporter and of ClickHouse).
struct ClientTlsOptions {
  // PEM CA bundle that verifies the server's certificate.
  // Default: "" (the system's roots)
  std::string ca_file;
  // PEM client certificate chain and key (mutual TLS); set together.
  // Default: "" (no client certificate)
  std::string cert_file;
  std::string key_file;
  // TLS without checking the server's certificate or name (test setups only).
  // Default: false
  bool insecure_skip_verify = false;
};

// A TLS client context (the trusted roots and the client certificate, loaded once), shared by any
// number of connections. Immutable once made: thread-safe.
class ClientTls {
 public:
  // TLS 1.2 or later. InvalidArgument naming `key_prefix` and the key for a file that cannot be
  // loaded, e.g. `exporters.otlp.tls.ca_file: cannot load "/etc/ca.pem": No such file or
  // directory` for the key prefix "exporters.otlp.tls".
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ClientTls>> Create(
      const ClientTlsOptions& options, std::string_view key_prefix);
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  // Whether the server's certificate and name are checked (not insecure_skip_verify).
  bool verifies_server() const { return verify_; }

  // The OpenSSL context, defined privately in http_client/.
  struct Context;
  Context& context() const { return *context_; }

 private:
  ClientTls(std::unique_ptr<Context> context, bool verify);

  const std::unique_ptr<Context> context_;
  const bool verify_;
};

struct HttpRequest {
  // Default: POST
  std::string method = "POST";
  // The request target: the path and query string, e.g. "/v1/traces" or "/?query=SELECT%201".
  // Default: /
  std::string target = "/";
  // Sent in order; a later header replaces an earlier one of the same name. Host (the
  // connection's host:port) is added unless given here; Content-Length is the body's.
  // Default: none
  std::vector<std::pair<std::string, std::string>> headers;
  // Default: "" (no body)
  std::string body;
};

struct HttpResponse {
  // e.g. 200, and its reason phrase, e.g. "OK".
  int status = 0;
  std::string reason;
  // Every header as the server sent it, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header called `name` (compared without case), or "" when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpConnectionOptions {
  // A host name or IP address (an IPv6 address without brackets), and the port.
  std::string host;
  int port = 0;
  // TLS when set (from ClientTls::Create); null: plain text.
  // Default: null
  std::shared_ptr<const ClientTls> tls;
  // Largest response body read; a larger one fails the round trip (ResourceExhausted).
  // Default: 1 MiB
  uint64_t max_response_body_bytes = 1 << 20;
};

// One kept-alive connection, opened at the first round trip and again after it was closed (by
// the server, by a failure, or by Close). Not thread-safe: one call at a time.
class HttpConnection {
 public:
  explicit HttpConnection(HttpConnectionOptions options);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends `request` and reads the answer, all (resolving, connecting, the TLS handshake, writing
  // and reading) before `deadline`. Any HTTP status is a response, not an error. Errors:
  // Unavailable naming the step and the server ("connecting 127.0.0.1:8123: Connection
  // refused", "reading the answer 127.0.0.1:8123: timed out"); ResourceExhausted for a body over
  // max_response_body_bytes. The connection is closed after an error or when the server does
  // not keep it alive. A request on a kept-alive connection that the server had closed
  // meanwhile (it failed before any byte of an answer came) is sent again at once, once, on a
  // new connection.
  [[nodiscard]] absl::StatusOr<HttpResponse> RoundTrip(const HttpRequest& request,
                                                       Deadline deadline);

  // Whether a connection is open (the next round trip reuses it).
  bool connected() const;
  // Closes the connection, if open.
  void Close();
  // "host:port", with brackets around an IPv6 host.
  const std::string& authority() const;

 private:
  class Impl;
  const std::unique_ptr<Impl> impl_;
};

}  // namespace tailtrace::http_client
