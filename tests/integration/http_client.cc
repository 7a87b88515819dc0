#include "tests/integration/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tailtrace::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::string HttpResponse::Header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

class HttpClient::Impl {
 public:
  Impl(int port, int64_t timeout_ms)
      : port_(port), timeout_(std::chrono::milliseconds(timeout_ms)) {}

  absl::StatusOr<HttpResponse> Send(const std::string& method, const std::string& target,
                                    const std::string& body, const HttpHeaders& headers) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, absl::StrCat("127.0.0.1:", port_));
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();

    const bool reused = stream_.has_value();
    bool nothing_read = false;
    absl::StatusOr<HttpResponse> response = Exchange(req, &nothing_read);
    // A kept-alive connection the server closed meanwhile: open a fresh one and try once more.
    if (!response.ok() && reused && nothing_read) {
      stream_.reset();
      response = Exchange(req, &nothing_read);
    }
    if (!response.ok()) {
      stream_.reset();
      return absl::Status(response.status().code(),
                          absl::StrCat(method, " ", target, " on 127.0.0.1:", port_, ": ",
                                       response.status().message()));
    }
    if (!response->keep_alive) stream_.reset();
    return response;
  }

 private:
  // Runs the io_context until the started operation completes (the stream's expiry bounds it).
  void RunOne() {
    ioc_.restart();
    ioc_.run();
  }

  absl::StatusOr<HttpResponse> Exchange(bhttp::request<bhttp::string_body>& req,
                                        bool* nothing_read) {
    *nothing_read = false;
    beast::error_code ec;
    if (!stream_.has_value()) {
      stream_.emplace(ioc_);
      buffer_.clear();
      stream_->expires_after(timeout_);
      const tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                   static_cast<uint16_t>(port_));
      stream_->async_connect(endpoint, [&ec](beast::error_code e) { ec = e; });
      RunOne();
      if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
    }
    stream_->expires_after(timeout_);
    bhttp::async_write(*stream_, req, [&ec](beast::error_code e, size_t) { ec = e; });
    RunOne();
    if (ec) {
      *nothing_read = true;
      return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    stream_->expires_after(timeout_);
    bhttp::async_read(*stream_, buffer_, parser, [&ec](beast::error_code e, size_t) { ec = e; });
    RunOne();
    if (ec) {
      *nothing_read = !parser.got_some() && ec != beast::error::timeout;
      return ec == beast::error::timeout
                 ? absl::DeadlineExceededError("no response before the deadline")
                 : absl::UnavailableError(absl::StrCat("read: ", ec.message()));
    }
    const auto& msg = parser.get();
    HttpResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      out.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string().data(),
                                                                 field.name_string().size())),
                               std::string(field.value().data(), field.value().size()));
    }
    out.body = msg.body();
    out.keep_alive = msg.keep_alive();
    return out;
  }

  const int port_;
  const std::chrono::milliseconds timeout_;
  boost::asio::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

HttpClient::HttpClient(int port, int64_t timeout_ms)
    : impl_(std::make_unique<Impl>(port, timeout_ms)) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<HttpResponse> HttpClient::Send(const std::string& method, const std::string& target,
                                              const std::string& body, const HttpHeaders& headers) {
  return impl_->Send(method, target, body, headers);
}

}  // namespace tailtrace::testing
