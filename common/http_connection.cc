// One HTTP/1.1 client connection of the HTTP server: reading a request within the limits,
// answering from its header when it can (auth, CORS preflight, body bytes in flight), calling the
// handler and writing the response; plain or over TLS.

#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "http_server_impl_internal.h"

namespace tailtrace::http::internal {
namespace {

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

    // The handler may answer later, from another thread: the answer comes back to the strand.
    // Until then the connection reads nothing more, and the body stays counted in flight.
    const Exchange exchange{.version = msg.version(),
                            .head = msg.method() == bhttp::verb::head,
                            .keep_alive = msg.keep_alive()};
    server_->CallHandler(req, [self = this->shared_from_this(), exchange](Response res) mutable {
      asio::dispatch(self->stream_.get_executor(),
                     [self, exchange, res = std::move(res)]() mutable {
                       self->Respond(exchange, std::move(res));
                     });
    });
  }

  // What the response to a request needs to know about it.
  struct Exchange {
    unsigned version = 11;
    bool head = false;
    bool keep_alive = false;
  };

  void Respond(const Exchange& exchange, Response res) {
    if (reserved_body_bytes_ > 0) {
      server_->ReleaseBody(reserved_body_bytes_);
      reserved_body_bytes_ = 0;
    }
    if (state_ == State::kClosed) return;
    bhttp::response<bhttp::string_body> out;
    out.version(exchange.version == 10 ? 10 : 11);
    out.result(static_cast<unsigned>(res.status));
    if (!res.content_type.empty()) out.set(bhttp::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) out.insert(name, value);
    const size_t body_size = res.body.size();
    out.body() = std::move(res.body);
    out.prepare_payload();
    if (exchange.head) {
      out.content_length(body_size);
      out.body().clear();
    }
    const bool keep_alive = exchange.keep_alive && !close_requested_ && !server_->stopping();
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

}  // namespace

void ServeConnection(ServerImpl* server, tcp::socket socket, TlsContextHolder* tls) {
  if (tls != nullptr) {
    auto connection = std::make_shared<TlsConnection>(server, std::move(socket), tls->Current());
    if (server->Register(connection)) connection->Start();
  } else {
    auto connection = std::make_shared<PlainConnection>(server, std::move(socket));
    if (server->Register(connection)) connection->Start();
  }
}

}  // namespace tailtrace::http::internal
