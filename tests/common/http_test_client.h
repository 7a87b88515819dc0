#pragma once

// A tiny blocking HTTP/1.1 client for tests (Boost.Beast synchronous APIs). One connection per
// object; requests on it reuse the connection (keep-alive) until the server closes it.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"

namespace tailtrace::testing {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = false;

  // The first header of that (lower-case) name, or "".
  std::string Header(const std::string& lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return value;
    }
    return "";
  }
};

class HttpTestClient {
 public:
  // Connects to 127.0.0.1:port. Check connected() / error().
  explicit HttpTestClient(int port, const std::string& host = "127.0.0.1") : socket_(ioc_) {
    boost::system::error_code ec;
    boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address(host, ec),
                                            static_cast<uint16_t>(port));
    if (!ec) socket_.connect(endpoint, ec);
    error_ = ec;
  }

  bool connected() const { return !error_ && socket_.is_open(); }
  // The last transport error (connect, write or read); empty when none.
  boost::system::error_code error() const { return error_; }

  // Sends a request and reads the response. On a transport error returns status 0 and sets
  // error().
  ClientResponse Send(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                      int version = 11) {
    namespace bhttp = boost::beast::http;
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(version);
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    boost::system::error_code ec;
    bhttp::write(socket_, req, ec);
    if (ec) {
      error_ = ec;
      return {};
    }
    return ReadResponse();
  }

  // Writes raw bytes (for malformed requests).
  bool WriteRaw(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
    error_ = ec;
    return !ec;
  }

  // Reads one response. Status 0 and error() set when the connection ended first.
  ClientResponse ReadResponse() {
    namespace bhttp = boost::beast::http;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(boost::none);
    boost::system::error_code ec;
    bhttp::read(socket_, buffer_, parser, ec);
    if (ec) {
      error_ = ec;
      return {};
    }
    const auto& msg = parser.get();
    ClientResponse out;
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

  // True when the server closed the connection (a read returns end of file or a reset).
  bool ServerClosed() {
    char c;
    boost::system::error_code ec;
    socket_.read_some(boost::asio::buffer(&c, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  boost::system::error_code error_;
};

}  // namespace tailtrace::testing
