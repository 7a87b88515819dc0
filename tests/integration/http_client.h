#pragma once

// A small blocking HTTP/1.1 client for integration tests: every request has a deadline (a hung
// server fails the test instead of hanging it). One connection per object, kept alive between
// requests while the server allows it and re-opened when the server closed it.
// Not thread-safe: use one client per thread.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::testing {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = false;

  // The first header of that (lower-case) name, or "".
  std::string Header(const std::string& lower_name) const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // Talks to 127.0.0.1:port; each request must complete within `timeout_ms`.
  explicit HttpClient(int port, int64_t timeout_ms = 10'000);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its response. A transport error or the deadline is an error
  // status naming the request.
  [[nodiscard]] absl::StatusOr<HttpResponse> Send(const std::string& method,
                                                  const std::string& target,
                                                  const std::string& body = "",
                                                  const HttpHeaders& headers = {});
  [[nodiscard]] absl::StatusOr<HttpResponse> Get(const std::string& target) {
    return Send("GET", target);
  }
  [[nodiscard]] absl::StatusOr<HttpResponse> Post(const std::string& target,
                                                  const std::string& content_type,
                                                  const std::string& body,
                                                  HttpHeaders headers = {}) {
    headers.emplace_back("Content-Type", content_type);
    return Send("POST", target, body, headers);
  }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tailtrace::testing
