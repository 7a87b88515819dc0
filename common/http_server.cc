#include "common/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http_server_internal.h"

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

std::string ToString(beast::string_view sv) { return std::string(sv.data(), sv.size()); }

using internal::ErrorBody;
using internal::ParseTarget;
using internal::ResolveEndpoint;

class Connection;

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

  // Used by connections.
  const HttpServerOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  Response CallHandler(const Request& request);
  // Returns false (and does not register) once Shutdown() has begun.
  bool Register(const std::shared_ptr<Connection>& connection);
  void Unregister(Connection* connection);

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void RunLoop();

  const HttpServerOptions options_;
  const Handler handler_;

  // Declared before ioc_: connections destroyed with the io_context still unregister here.
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stopping_{false};  // set under mu_

  std::mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;

  asio::io_context ioc_;
  // Keeps the I/O threads running until Shutdown() has waited for the connections: a close
  // posted to a connection must run even if nothing else is pending.
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;  // its executor is a strand: accept chain and close are serialized
  asio::steady_timer accept_retry_timer_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

// One client connection. Every method runs on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerImpl* server, tcp::socket&& socket)
      : server_(server), stream_(std::move(socket)) {}
  ~Connection() { server_->Unregister(this); }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Connection::ReadHeader, shared_from_this()));
  }

  // Posted by Shutdown(): closes the connection now if it waits for a request, or after the
  // response in progress has been written.
  void RequestClose() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      self->close_requested_ = true;
      if (self->state_ == State::kReading || self->state_ == State::kLingering) self->Close();
    });
  }

 private:
  enum class State { kReading, kWriting, kLingering, kClosed };

  std::chrono::milliseconds IdleTimeout() const {
    return std::chrono::milliseconds(std::max<int64_t>(1, server_->options().idle_timeout_ms));
  }

  void ReadHeader() {
    if (state_ == State::kClosed) return;
    if (close_requested_) return Close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(server_->options().max_body_bytes);
    stream_.expires_after(IdleTimeout());
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Connection::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    if (state_ != State::kReading) return;
    if (parser_->is_done()) return HandleRequest();
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec || self->state_ != State::kReading) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(IdleTimeout());
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Connection::OnBody, shared_from_this()));
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
    response_->keep_alive(keep_alive);
    stream_.expires_after(IdleTimeout());
    bhttp::async_write(stream_, *response_,
                       beast::bind_front_handler(&Connection::OnWrite, shared_from_this()));
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
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    ContinueLinger();
  }

  void ContinueLinger() {
    stream_.async_read_some(asio::buffer(linger_buffer_), [self = shared_from_this()](
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
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  ServerImpl* const server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::array<char, 4096> linger_buffer_{};
  uint64_t lingered_bytes_ = 0;
  State state_ = State::kReading;
  bool keep_alive_ = false;
  bool linger_ = false;
  bool close_requested_ = false;
};

absl::Status ServerImpl::Start(const tcp::endpoint& endpoint) {
  const std::string where = absl::StrCat(options_.name, " endpoint \"", options_.endpoint, "\"");
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
    spdlog::warn("{}: accept failed: {}", options_.name, ec.message());
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && !stopping()) DoAccept();
    });
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  auto connection = std::make_shared<Connection>(this, std::move(socket));
  if (Register(connection)) connection->Start();
  DoAccept();
}

bool ServerImpl::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  if (stopping_.load(std::memory_order_relaxed)) return false;
  connections_.emplace(connection.get(), connection);
  return true;
}

void ServerImpl::Unregister(Connection* connection) {
  std::lock_guard lock(mu_);
  connections_.erase(connection);
  if (connections_.empty()) cv_.notify_all();
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
  std::vector<std::shared_ptr<Connection>> live;
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
