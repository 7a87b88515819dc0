#pragma once

// Private to the HTTP server's files: the server (http_server.cc) and its connections
// (http_connection.cc).

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/http_server.h"
#include "common/http_server_internal.h"
#include "common/listener_security.h"
#include "common/metrics.h"
#include "tls_context_internal.h"

namespace tailtrace::http::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Largest request line plus headers.
inline constexpr uint32_t kHeaderLimitBytes = 64 * 1024;
// After an error response on a connection whose request was not read to its end, unread input
// is drained for at most this long / this many bytes before closing, so that the client sees the
// response instead of a connection reset.
inline constexpr auto kLingerTimeout = std::chrono::seconds(2);
inline constexpr uint64_t kMaxLingerBytes = 8ull << 20;
// How long Shutdown() waits for connections to finish their current exchange.
inline constexpr auto kShutdownGrace = std::chrono::seconds(5);
// Pause before accepting again after an accept error (e.g. out of file descriptors).
inline constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
// A TLS handshake must finish within this long.
inline constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Retry-After of a 503 for too many body bytes in flight.
inline constexpr char kRetryAfterSeconds[] = "1";
// Request headers a browser may always send in a CORS request (as otelcol's confighttp).
inline constexpr std::string_view kImplicitCorsHeaders[] = {"accept", "content-type",
                                                            "x-requested-with"};

inline std::string ToString(beast::string_view sv) { return std::string(sv.data(), sv.size()); }

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Closes the connection now if it waits for a request, or after the response in progress.
  virtual void RequestClose() = 0;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(HttpServerOptions options, AsyncHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(options_.num_threads),
        work_(asio::make_work_guard(ioc_)),
        acceptor_(asio::make_strand(ioc_)),
        accept_retry_timer_(acceptor_.get_executor()) {}

  ~ServerImpl() override { Shutdown(); }

  absl::Status Start(const tcp::endpoint& endpoint);

  int port() const override { return port_; }
  void Shutdown() override;
  void ReloadTlsForTest() override {
    if (tls_) tls_->ReloadIfChanged();
  }

  // Used by connections.
  const HttpServerOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Calls the handler; a handler that throws is answered 500.
  void CallHandler(const Request& request, Respond respond);
  // Returns false (and does not register) once Shutdown() has begun.
  bool Register(const std::shared_ptr<ConnectionBase>& connection);
  void Unregister(ConnectionBase* connection);
  // Reserves `bytes` of the in-flight body budget; false when they do not fit.
  bool ReserveBody(uint64_t bytes);
  void ReleaseBody(uint64_t bytes) { inflight_body_bytes_.fetch_sub(bytes); }
  // True when the request may proceed: no token file, an open path, or a valid token.
  bool Authorized(std::string_view path, std::string_view authorization);
  // The Access-Control-* headers for a request from `origin` (none when not allowed).
  std::vector<std::pair<std::string, std::string>> CorsHeaders(std::string_view origin) const;
  // The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method).
  Response Preflight(std::string_view origin, std::string_view request_method,
                     std::string_view request_headers) const;
  void CountRefused(const char* reason);

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void RunLoop();

  const HttpServerOptions options_;
  const AsyncHandler handler_;
  std::unique_ptr<internal::TlsContextHolder> tls_;  // null: plain text
  std::unique_ptr<security::BearerTokens> tokens_;   // null: no authentication
  std::atomic<uint64_t> inflight_body_bytes_{0};
  Gauge* connections_gauge_ = nullptr;  // null without metrics
  Counter* refused_limit_ = nullptr;
  Counter* refused_body_ = nullptr;
  Counter* refused_auth_ = nullptr;

  // Declared before ioc_: connections destroyed with the io_context still unregister here.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections_
      ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stopping_{false};  // set under mu_

  std::mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;

  asio::io_context ioc_;
  // Keeps the I/O threads running until Shutdown() has waited for the connections: a close
  // posted to a connection must run even if nothing else is pending.
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;  // its executor is a strand: accept chain and close are serialized
  asio::steady_timer accept_retry_timer_;
  // Failed accepts in a row; used on the acceptor's strand only.
  uint64_t accept_failing_ = 0;
  Counter* accept_failures_counter_ = nullptr;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

// Starts serving `socket` as a connection of `server`, over TLS when `tls` is set
// (http_connection.cc).
void ServeConnection(ServerImpl* server, tcp::socket socket, TlsContextHolder* tls);

}  // namespace tailtrace::http::internal
