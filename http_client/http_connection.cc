// HttpConnection over Boost.Beast (with OpenSSL for TLS). The caller's thread runs every network
// step as an asynchronous operation on a private io_context, so that one deadline bounds the whole
// round trip (resolve, connect, handshake, write, read).

#include <openssl/ssl.h>

#include <utility>
// (Boost.Asio 1.74's headers use std::exchange without including <utility>.)
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client_tls_internal.h"
#include "http_client/http_client.h"

namespace tailtrace::http_client {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool IsTimeout(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

std::string Authority(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return {};
}

class HttpConnection::Impl {
 public:
  explicit Impl(HttpConnectionOptions options)
      : options_(std::move(options)),
        authority_(Authority(options_.host, options_.port)),
        port_(std::to_string(options_.port)) {}

  ~Impl() { Close(); }

  absl::StatusOr<HttpResponse> RoundTrip(const HttpRequest& request, Deadline deadline) {
    const Message message = BuildMessage(request);
    const bool reused = connected();
    bool resend = false;
    absl::StatusOr<HttpResponse> response = Attempt(message, deadline, &resend);
    // A kept-alive connection the server has closed meanwhile fails before any answer.
    if (!response.ok() && reused && resend && std::chrono::steady_clock::now() < deadline) {
      response = Attempt(message, deadline, &resend);
    }
    return response;
  }

  bool connected() const { return plain_ != nullptr || tls_ != nullptr; }

  void Close() {
    CloseSockets();
    plain_.reset();
    tls_.reset();
    buffer_.clear();
  }

  const std::string& authority() const { return authority_; }

 private:
  // The body is the caller's, sent from where it is.
  using Message = bhttp::request<bhttp::span_body<const char>>;

  Message BuildMessage(const HttpRequest& request) const {
    Message message;
    message.version(11);
    if (const bhttp::verb verb = bhttp::string_to_verb(request.method);
        verb != bhttp::verb::unknown) {
      message.method(verb);
    } else {
      message.method_string(request.method);
    }
    message.target(request.target);
    message.set(bhttp::field::host, authority_);
    for (const auto& [key, value] : request.headers) message.set(key, value);
    message.body() = beast::span<const char>(request.body.data(), request.body.size());
    message.prepare_payload();
    return message;
  }

  // Runs the asynchronous operation `start` begins on io_ until it completes and returns its
  // error. Stream operations end by the stream's expiry; the resolver is cancelled at `deadline`.
  template <typename Start>
  beast::error_code Run(Start start, Deadline deadline, tcp::resolver* resolver = nullptr) {
    beast::error_code result = asio::error::timed_out;
    bool done = false;
    start([&result, &done](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    io_.run_until(deadline);
    if (!done) {
      // Cancel what is pending and let the handlers run before anything is destroyed; the
      // caller then closes the connection.
      if (resolver != nullptr) resolver->cancel();
      CloseSockets();
      io_.restart();
      io_.run();
      return asio::error::timed_out;
    }
    return result;
  }

  absl::Status Connect(Deadline deadline) {
    tcp::resolver resolver(io_);
    tcp::resolver::results_type addresses;
    beast::error_code ec = Run(
        [&](auto handler) {
          resolver.async_resolve(
              options_.host, port_,
              [&addresses, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
                addresses = std::move(r);
                handler(e);
              });
        },
        deadline, &resolver);
    if (ec) return Failure("resolving", ec);
    if (options_.tls == nullptr) {
      plain_ = std::make_unique<beast::tcp_stream>(io_);
      plain_->expires_at(deadline);
      ec = Run([&](auto handler) { plain_->async_connect(addresses, handler); }, deadline);
      return ec ? Failure("connecting", ec) : absl::OkStatus();
    }
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, options_.tls->context().ssl);
    if (!IsIpLiteral(options_.host)) {
      SSL_set_tlsext_host_name(tls_->native_handle(), options_.host.c_str());
    }
    if (options_.tls->verifies_server()) {
      tls_->set_verify_callback(ssl::host_name_verification(options_.host));
    }
    beast::get_lowest_layer(*tls_).expires_at(deadline);
    ec = Run([&](auto h) { beast::get_lowest_layer(*tls_).async_connect(addresses, h); }, deadline);
    if (ec) return Failure("connecting", ec);
    ec = Run([&](auto h) { tls_->async_handshake(ssl::stream_base::client, h); }, deadline);
    return ec ? Failure("TLS handshake", ec) : absl::OkStatus();
  }

  // One try on the open connection (a new one when none is). `resend` tells whether the failure
  // came before any byte of an answer (and not from the deadline).
  absl::StatusOr<HttpResponse> Attempt(const Message& message, Deadline deadline, bool* resend) {
    *resend = false;
    if (!connected()) {
      if (absl::Status s = Connect(deadline); !s.ok()) {
        Close();
        return s;
      }
    }
    bool keep_alive = false;
    absl::StatusOr<HttpResponse> response =
        plain_ != nullptr ? Exchange(*plain_, message, deadline, &keep_alive, resend)
                          : Exchange(*tls_, message, deadline, &keep_alive, resend);
    if (!response.ok() || !keep_alive) Close();
    return response;
  }

  template <typename Stream>
  absl::StatusOr<HttpResponse> Exchange(Stream& stream, const Message& message, Deadline deadline,
                                        bool* keep_alive, bool* resend) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    beast::error_code ec =
        Run([&](auto handler) { bhttp::async_write(stream, message, handler); }, deadline);
    if (ec) {
      *resend = !IsTimeout(ec);
      return Failure("sending", ec);
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_body_bytes);
    // The header first: Boost 1.74's eager parsing (async_read) loses the body_limit error a
    // too large Content-Length raises when the body came in the same read as the header.
    ec = Run([&](auto h) { bhttp::async_read_header(stream, buffer_, parser, h); }, deadline);
    if (!ec) {
      ec = Run([&](auto h) { bhttp::async_read(stream, buffer_, parser, h); }, deadline);
    }
    if (ec == bhttp::error::body_limit) {
      return absl::ResourceExhaustedError(absl::StrCat("reading the answer ", authority_,
                                                       ": the body is larger than ",
                                                       options_.max_response_body_bytes, " bytes"));
    }
    if (ec) {
      *resend = !IsTimeout(ec) && !parser.got_some();
      return Failure("reading the answer", ec);
    }
    bhttp::response<bhttp::string_body>& answer = parser.get();
    *keep_alive = answer.keep_alive();
    HttpResponse out;
    out.status = static_cast<int>(answer.result_int());
    out.reason = std::string(answer.reason());
    for (const auto& field : answer) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(answer.body());
    return out;
  }

  absl::Status Failure(std::string_view step, const beast::error_code& ec) const {
    return absl::UnavailableError(absl::StrCat(std::string(step), " ", authority_, ": ",
                                               IsTimeout(ec) ? "timed out" : ec.message()));
  }

  void CloseSockets() {
    beast::error_code ignored;
    if (plain_ != nullptr) plain_->socket().close(ignored);
    if (tls_ != nullptr) beast::get_lowest_layer(*tls_).socket().close(ignored);
  }

  const HttpConnectionOptions options_;
  const std::string authority_;
  const std::string port_;

  asio::io_context io_;
  beast::flat_buffer buffer_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
};

HttpConnection::HttpConnection(HttpConnectionOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpConnection::~HttpConnection() = default;

absl::StatusOr<HttpResponse> HttpConnection::RoundTrip(const HttpRequest& request,
                                                       Deadline deadline) {
  return impl_->RoundTrip(request, deadline);
}

bool HttpConnection::connected() const { return impl_->connected(); }

void HttpConnection::Close() { impl_->Close(); }

const std::string& HttpConnection::authority() const { return impl_->authority(); }

}  // namespace tailtrace::http_client
