#include "common/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/http_server_internal.h"
#include "common/tcp_listener.h"
#include "common/tls_context_internal.h"

namespace tailtrace::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Largest request line plus headers.
constexpr uint32_t kHeaderLimitBytes = 64 * 1024;
// After an error response on a connection whose request was not read to its end, unread input
// is drained for at most this long / this many bytes before closing, so that the client sees the
// response instead of a connection reset.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr uint64_t kMaxLingerBytes = 8ull << 20;
// How long Shutdown() waits for connections to finish their current exchange.
constexpr auto kShutdownGrace = std::chrono::seconds(5);
// Pause before accepting again after an accept error (e.g. out of file descriptors).
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
// A TLS handshake must finish within this long.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Retry-After of a 503 for too many body bytes in flight.
constexpr char kRetryAfterSeconds[] = "1";
// Request headers a browser may always send in a CORS request (as otelcol's confighttp).
constexpr std::string_view kImplicitCorsHeaders[] = {"accept", "content-type", "x-requested-with"};

std::string ToString(beast::string_view sv) { return std::string(sv.data(), sv.size()); }

using internal::ErrorBody;
using internal::ParseTarget;
using internal::ResolveEndpoint;

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Closes the connection now if it waits for a request, or after the response in progress.
  virtual void RequestClose() = 0;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(HttpServerOptions options, Handler handler)
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
  Response CallHandler(const Request& request);
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
  const Handler handler_;
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

// One client connection over `Stream` (beast::tcp_stream, or beast::ssl_stream of one). Every
// method runs on the connection's strand.
template <class Stream>
class Connection final : public ConnectionBase,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Connection(ServerImpl* server, tcp::socket&& socket) requires(!kTls)
      : server_(server), stream_(std::move(socket)) {}
  Connection(ServerImpl* server, tcp::socket&& socket,
             std::shared_ptr<asio::ssl::context> ctx) requires(kTls)
      : server_(server), tls_context_(std::move(ctx)), stream_(std::move(socket), *tls_context_) {}
  ~Connection() override {
    if (reserved_body_bytes_ > 0) server_->ReleaseBody(reserved_body_bytes_);
    server_->Unregister(this);
  }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(kHandshakeTimeout);
        self->stream_.async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) {
            spdlog::debug("{}: TLS handshake failed: {}", self->server_->options().name,
                          ec.message());
            return self->Close();
          }
          self->ReadHeader();
        });
      } else {
        self->ReadHeader();
      }
    });
  }

  void RequestClose() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->close_requested_ = true;
      if (self->state_ == State::kReading || self->state_ == State::kLingering) self->Close();
    });
  }

 private:
  enum class State { kReading, kWriting, kLingering, kClosed };

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  std::chrono::milliseconds IdleTimeout() const {
    return std::chrono::milliseconds(std::max<int64_t>(1, server_->options().idle_timeout_ms));
  }

  void ReadHeader() {
    if (state_ == State::kClosed) return;
    if (close_requested_) return Close();
    state_ = State::kReading;
    cors_headers_.clear();
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(server_->options().max_body_bytes);
    Lowest().expires_after(IdleTimeout());
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Connection::OnHeader, this->shared_from_this()));
  }

  // Answers what can be answered from the headers alone: a CORS preflight, a missing or wrong
  // token, too many body bytes in flight. Returns true when it did.
  bool AnswerFromHeader() {
    const auto& header = parser_->get();
    const HttpServerOptions& options = server_->options();
    const std::string_view origin = ToSv(header[bhttp::field::origin]);
    if (options.security.cors.enabled() && !origin.empty()) {
      cors_headers_ = server_->CorsHeaders(origin);
      const std::string_view request_method =
          ToSv(header[bhttp::field::access_control_request_method]);
      if (header.method() == bhttp::verb::options && !request_method.empty()) {
        Response res = server_->Preflight(
            origin, request_method, ToSv(header[bhttp::field::access_control_request_headers]));
        SendAndMaybeClose(std::move(res), header.keep_alive() && parser_->is_done());
        return true;
      }
    }
    Request probe;
    ParseTarget(ToString(header.target()), &probe);
    if (!server_->Authorized(probe.path, ToSv(header[bhttp::field::authorization]))) {
      Response res;
      res.status = 401;
      res.body = ErrorBody(16, "missing or invalid bearer token (Authorization: Bearer <token>)");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      SendAndMaybeClose(std::move(res), header.keep_alive() && parser_->is_done());
      return true;
    }
    // A body of unknown length (chunked) counts as the largest body allowed, or as the whole
    // in-flight bound when that is smaller (so that it is not refused for ever).
    uint64_t length = parser_->content_length().value_or(0);
    if (!parser_->content_length().has_value() && parser_->chunked()) {
      length = options.max_body_bytes;
      if (options.max_inflight_body_bytes > 0) {
        length = std::min(length, options.max_inflight_body_bytes);
      }
    }
    if (length > 0 && length <= options.max_body_bytes) {
      if (!server_->ReserveBody(length)) {
        server_->CountRefused("body_bytes");
        Response res;
        res.status = 503;
        res.body =
            ErrorBody(14, absl::StrCat("too many request bytes in flight (limit ",
                                       options.max_inflight_body_bytes, " bytes); retry later"));
        res.headers.emplace_back("Retry-After", kRetryAfterSeconds);
        SendAndMaybeClose(std::move(res), false);
        return true;
      }
      reserved_body_bytes_ = length;
    }
    return false;
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    if (state_ != State::kReading) return;
    if (AnswerFromHeader()) return;
    if (parser_->is_done()) return HandleRequest();
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (ec || self->state_ != State::kReading) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(IdleTimeout());
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Connection::OnBody, this->shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    if (state_ != State::kReading) return;
    HandleRequest();
  }

  void OnReadError(beast::error_code ec) {
    if (state_ != State::kReading) return;
    if (ec == bhttp::error::body_limit) {
      return SendErrorAndClose(413, 8,
                               absl::StrCat("request body exceeds the limit of ",
                                            server_->options().max_body_bytes, " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return SendErrorAndClose(
          431, 8,
          absl::StrCat("request headers exceed the limit of ", kHeaderLimitBytes, " bytes"));
    }
    const bool parse_error =
        ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
    if (parse_error) {
      return SendErrorAndClose(400, 3, absl::StrCat("malformed HTTP request: ", ec.message()));
    }
    // End of stream, reset, timeout or cancellation: nothing to answer.
    if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted) {
      spdlog::debug("{}: connection closed: {}", server_->options().name, ec.message());
    }
    Close();
  }

  void HandleRequest() {
    state_ = State::kWriting;
    bhttp::request<bhttp::string_body> msg = parser_->release();
    parser_.reset();

    Request req;
    req.method = ToString(msg.method_string());
    req.target = ToString(msg.target());
    ParseTarget(req.target, &req);
    req.headers.reserve(std::distance(msg.begin(), msg.end()));
    for (const auto& field : msg) {
      req.headers.emplace_back(absl::AsciiStrToLower(ToString(field.name_string())),
                               ToString(field.value()));
    }
    req.body = std::move(msg.body());

    Response res = server_->CallHandler(req);
    req.body.clear();
    req.body.shrink_to_fit();
    if (reserved_body_bytes_ > 0) {
      server_->ReleaseBody(reserved_body_bytes_);
      reserved_body_bytes_ = 0;
    }

    bhttp::response<bhttp::string_body> out;
    out.version(msg.version() == 10 ? 10 : 11);
    out.result(static_cast<unsigned>(res.status));
    if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) out.insert(name, value);
    const size_t body_size = res.body.size();
    out.body() = std::move(res.body);
    out.prepare_payload();
    if (msg.method() == bhttp::verb::head) {
      out.content_length(body_size);
      out.body().clear();
    }
    const bool keep_alive = msg.keep_alive() && !close_requested_ && !server_->stopping();
    Write(std::move(out), keep_alive, /*linger=*/false);
  }

  // Sends `res` for a request whose body was not read: the connection stays open only when
  // there is no body to skip (`reusable`).
  void SendAndMaybeClose(Response res, bool reusable) {
    bhttp::response<bhttp::string_body> out;
    out.version(11);
    out.result(static_cast<unsigned>(res.status));
    if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) out.insert(name, value);
    out.body() = std::move(res.body);
    out.prepare_payload();
    if (reusable) {
      parser_.reset();
      Write(std::move(out), !close_requested_ && !server_->stopping(), /*linger=*/false);
    } else {
      Write(std::move(out), /*keep_alive=*/false, /*linger=*/true);
    }
  }

  void SendErrorAndClose(int status, int rpc_code, const std::string& message) {
    bhttp::response<bhttp::string_body> out;
    out.version(11);
    out.result(static_cast<unsigned>(status));
    out.set(bhttp::field::content_type, "application/json");
    out.body() = ErrorBody(rpc_code, message);
    out.prepare_payload();
    Write(std::move(out), /*keep_alive=*/false, /*linger=*/true);
  }

  void Write(bhttp::response<bhttp::string_body>&& res, bool keep_alive, bool linger) {
    state_ = State::kWriting;
    keep_alive_ = keep_alive;
    linger_ = linger;
    response_.emplace(std::move(res));
    for (auto& [name, value] : cors_headers_) response_->set(name, value);
    response_->keep_alive(keep_alive);
    Lowest().expires_after(IdleTimeout());
    bhttp::async_write(stream_, *response_,
                       beast::bind_front_handler(&Connection::OnWrite, this->shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    response_.reset();
    if (ec || state_ != State::kWriting) return Close();
    if (keep_alive_ && !close_requested_ && !server_->stopping()) return ReadHeader();
    if (linger_ && !close_requested_) return Linger();
    Close();
  }

  // Half-closes and drains what the client still sends, then closes.
  void Linger() {
    state_ = State::kLingering;
    if (reserved_body_bytes_ > 0) {
      server_->ReleaseBody(reserved_body_bytes_);
      reserved_body_bytes_ = 0;
    }
    beast::error_code ignored;
    if constexpr (!kTls) Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(kLingerTimeout);
    ContinueLinger();
  }

  void ContinueLinger() {
    stream_.async_read_some(asio::buffer(linger_buffer_), [self = this->shared_from_this()](
                                                              beast::error_code ec, size_t bytes) {
      self->lingered_bytes_ += bytes;
      if (ec || self->state_ != State::kLingering || self->lingered_bytes_ > kMaxLingerBytes) {
        return self->Close();
      }
      self->ContinueLinger();
    });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  static std::string_view ToSv(beast::string_view sv) { return {sv.data(), sv.size()}; }

  ServerImpl* const server_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // outlives stream_; null without TLS
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::vector<std::pair<std::string, std::string>> cors_headers_;
  std::array<char, 4096> linger_buffer_{};
  uint64_t lingered_bytes_ = 0;
  uint64_t reserved_body_bytes_ = 0;
  State state_ = State::kReading;
  bool keep_alive_ = false;
  bool linger_ = false;
  bool close_requested_ = false;
};

using PlainConnection = Connection<beast::tcp_stream>;
using TlsConnection = Connection<beast::ssl_stream<beast::tcp_stream>>;

absl::Status ServerImpl::Start(const tcp::endpoint& endpoint) {
  const std::string where = absl::StrCat(options_.name, " endpoint \"", options_.endpoint, "\"");
  if (options_.security.tls.enabled()) {
    auto tls = internal::TlsContextHolder::Create(options_.security.tls);
    if (!tls.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", tls.status().message()));
    tls_ = *std::move(tls);
  }
  if (options_.security.auth.enabled()) {
    auto tokens = security::BearerTokens::Create(options_.security.auth.bearer_token_file);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", tokens.status().message()));
    }
    tokens_ = *std::move(tokens);
  }
  if (options_.metrics != nullptr) {
    const Labels listener = {{"listener", options_.name}};
    connections_gauge_ = options_.metrics->GetGauge(
        "tailtrace_http_connections", "Open connections of an HTTP listener.", listener);
    const std::string help = "Requests or connections an HTTP listener refused, by reason.";
    refused_limit_ =
        options_.metrics->GetCounter("tailtrace_http_refused_total", help,
                                     {{"listener", options_.name}, {"reason", "max_connections"}});
    refused_body_ =
        options_.metrics->GetCounter("tailtrace_http_refused_total", help,
                                     {{"listener", options_.name}, {"reason", "body_bytes"}});
    refused_auth_ =
        options_.metrics->GetCounter("tailtrace_http_refused_total", help,
                                     {{"listener", options_.name}, {"reason", "unauthenticated"}});
    accept_failures_counter_ = AcceptFailuresCounter(*options_.metrics, options_.name);
  }
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat(where, ": cannot open socket: ", ec.message()));
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(where, ": cannot set SO_REUSEADDR: ", ec.message()));
  }
  acceptor_.bind(endpoint, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(where, ": cannot bind: ", ec.message()));
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(where, ": cannot listen: ", ec.message()));
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(where, ": cannot read bound port: ", ec.message()));
  }
  port_ = bound.port();

  DoAccept();
  try {
    threads_.reserve(options_.num_threads);
    for (int i = 0; i < options_.num_threads; ++i) threads_.emplace_back([this] { RunLoop(); });
  } catch (const std::system_error& e) {
    Shutdown();
    return absl::ResourceExhaustedError(
        absl::StrCat(where, ": cannot start I/O threads: ", e.what()));
  }
  spdlog::info("{}: listening on port {}", options_.name, port_);
  return absl::OkStatus();
}

void ServerImpl::RunLoop() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("{}: exception escaped an I/O handler: {}", options_.name, e.what());
    } catch (...) {
      spdlog::error("{}: unknown exception escaped an I/O handler", options_.name);
    }
  }
}

void ServerImpl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         beast::bind_front_handler(&ServerImpl::OnAccept, this));
}

void ServerImpl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping() || !acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors (EMFILE) and the like: the connection waits in the backlog and the
    // accept is retried after kAcceptRetryDelay. Logged when it starts and when it ends, not on
    // every retry (that was 20 lines a second per listener while the process was out of fds).
    if (accept_failures_counter_ != nullptr) accept_failures_counter_->Increment();
    if (accept_failing_++ == 0) {
      spdlog::warn("{}: accept failed: {}; retrying every {} ms", options_.name, ec.message(),
                   kAcceptRetryDelay.count());
    }
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopping()) DoAccept();
    });
    return;
  }
  if (accept_failing_ > 0) {
    spdlog::info("{}: accepting connections again after {} failed attempts", options_.name,
                 accept_failing_);
    accept_failing_ = 0;
  }
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_) {
    auto connection = std::make_shared<TlsConnection>(this, std::move(socket), tls_->Current());
    if (Register(connection)) connection->Start();
  } else {
    auto connection = std::make_shared<PlainConnection>(this, std::move(socket));
    if (Register(connection)) connection->Start();
  }
  DoAccept();
}

bool ServerImpl::Register(const std::shared_ptr<ConnectionBase>& connection) {
  std::lock_guard lock(mu_);
  if (stopping_.load(std::memory_order_relaxed)) return false;
  if (options_.max_connections > 0 &&
      static_cast<int64_t>(connections_.size()) >= options_.max_connections) {
    // The connection is destroyed unstarted (its socket closed) by the caller; the fd is back.
    CountRefused("max_connections");
    return false;
  }
  connections_.emplace(connection.get(), connection);
  if (connections_gauge_ != nullptr) connections_gauge_->Set(connections_.size());
  return true;
}

void ServerImpl::Unregister(ConnectionBase* connection) {
  std::lock_guard lock(mu_);
  if (connections_.erase(connection) == 0) return;
  if (connections_gauge_ != nullptr) connections_gauge_->Set(connections_.size());
  if (connections_.empty()) cv_.notify_all();
}

bool ServerImpl::ReserveBody(uint64_t bytes) {
  const uint64_t limit = options_.max_inflight_body_bytes;
  if (limit == 0) {
    inflight_body_bytes_.fetch_add(bytes);
    return true;
  }
  uint64_t current = inflight_body_bytes_.load();
  do {
    if (current + bytes > limit) return false;
  } while (!inflight_body_bytes_.compare_exchange_weak(current, current + bytes));
  return true;
}

bool ServerImpl::Authorized(std::string_view path, std::string_view authorization) {
  if (tokens_ == nullptr) return true;
  if (std::find(options_.open_paths.begin(), options_.open_paths.end(), path) !=
      options_.open_paths.end()) {
    return true;
  }
  if (tokens_->Check(authorization)) return true;
  CountRefused("unauthenticated");
  return false;
}

std::vector<std::pair<std::string, std::string>> ServerImpl::CorsHeaders(
    std::string_view origin) const {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!security::OriginAllowed(origin, options_.security.cors.allowed_origins)) return headers;
  headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  headers.emplace_back("Vary", "Origin");
  return headers;
}

Response ServerImpl::Preflight(std::string_view origin, std::string_view request_method,
                               std::string_view request_headers) const {
  Response res;
  res.status = 204;
  res.content_type.clear();
  const security::CorsOptions& cors = options_.security.cors;
  if (!security::OriginAllowed(origin, cors.allowed_origins)) return res;
  // The Access-Control-Allow-Origin and Vary headers are added with the connection's others.
  res.headers.emplace_back("Access-Control-Allow-Methods", std::string(request_method));
  const bool any_header = std::find(cors.allowed_headers.begin(), cors.allowed_headers.end(),
                                    "*") != cors.allowed_headers.end();
  std::string allowed;
  for (std::string_view name : security::SplitAndTrim(request_headers, ',')) {
    if (name.empty()) continue;
    bool ok = any_header;
    for (std::string_view implicit : kImplicitCorsHeaders) {
      ok = ok || security::EqualsIgnoreCase(name, implicit);
    }
    for (const std::string& h : cors.allowed_headers)
      ok = ok || security::EqualsIgnoreCase(h, name);
    if (ok) {
      if (!allowed.empty()) allowed += ", ";
      allowed += name;
    }
  }
  if (!allowed.empty()) res.headers.emplace_back("Access-Control-Allow-Headers", allowed);
  if (cors.max_age_s > 0) {
    res.headers.emplace_back("Access-Control-Max-Age", absl::StrCat(cors.max_age_s));
  }
  return res;
}

void ServerImpl::CountRefused(const char* reason) {
  if (options_.metrics == nullptr) return;
  Counter* counter = std::string_view(reason) == "max_connections" ? refused_limit_
                     : std::string_view(reason) == "body_bytes"    ? refused_body_
                                                                   : refused_auth_;
  counter->Increment();
}

Response ServerImpl::CallHandler(const Request& request) {
  try {
    return handler_(request);
  } catch (const std::exception& e) {
    spdlog::error("{}: handler for {} {} threw: {}", options_.name, request.method, request.target,
                  e.what());
  } catch (...) {
    spdlog::error("{}: handler for {} {} threw an unknown exception", options_.name, request.method,
                  request.target);
  }
  Response res;
  res.status = 500;
  res.content_type = "application/json";
  res.body = ErrorBody(13, "internal error while handling the request");
  return res;
}

void ServerImpl::Shutdown() {
  {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    std::lock_guard lock(mu_);
    stopping_.store(true, std::memory_order_release);
    live.reserve(connections_.size());
    for (auto& [ptr, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
  });
  for (auto& connection : live) connection->RequestClose();
  live.clear();
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kShutdownGrace, [this] { return connections_.empty(); })) {
      spdlog::warn("{}: {} connections still open after {} s; closing them", options_.name,
                   connections_.size(),
                   std::chrono::duration_cast<std::chrono::seconds>(kShutdownGrace).count());
    }
  }
  work_.reset();
  ioc_.stop();
  for (auto& thread : threads_) {
    if (!thread.joinable()) continue;
    if (thread.get_id() == std::this_thread::get_id()) {
      spdlog::error("{}: Shutdown() called from an I/O thread; not joining it", options_.name);
      thread.detach();
    } else {
      thread.join();
    }
  }
  threads_.clear();
  // No thread runs handlers any more: closing directly is safe and frees the port now.
  beast::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerOptions options,
                                                               Handler handler) {
  if (!handler) {
    return absl::InvalidArgumentError(absl::StrCat(options.name, ": handler is empty"));
  }
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": num_threads must be at least 1, got ", options.num_threads));
  }
  absl::StatusOr<tcp::endpoint> endpoint = ResolveEndpoint(options.endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": ", endpoint.status().message()));
  }
  auto server = std::make_unique<ServerImpl>(std::move(options), std::move(handler));
  if (absl::Status status = server->Start(*endpoint); !status.ok()) return status;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace tailtrace::http
