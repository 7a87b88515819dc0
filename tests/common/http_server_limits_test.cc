// HttpServer's bound on request body bytes in flight across connections, its connection limit
// and its bearer-token check with open paths.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <string>

#include "common/http_server.h"
#include "tests/common/http_test_client.h"

namespace tailtrace::http {
namespace {

using tailtrace::testing::ClientResponse;
using tailtrace::testing::HttpTestClient;
using ::testing::HasSubstr;

HttpServerOptions LocalOptions() {
  HttpServerOptions options;
  options.endpoint = "127.0.0.1:0";
  options.name = "test-http";
  return options;
}

// A handler that blocks requests to /slow until Release().
class Gate {
 public:
  Handler AsHandler() {
    return [this](const Request& req) {
      Response res;
      res.content_type = "text/plain";
      if (req.path == "/slow") {
        std::unique_lock lock(mu_);
        ++waiting_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
      }
      res.body = "ok";
      return res;
    };
  }
  void WaitForWaiter() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return waiting_ > 0; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool released_ = false;
};

TEST(HttpServerLimitsTest, BodyBytesInFlightAreBounded) {
  HttpServerOptions options = LocalOptions();
  options.max_inflight_body_bytes = 100;
  options.num_threads = 2;
  MetricsRegistry metrics;
  options.metrics = &metrics;
  Gate gate;
  auto server = HttpServer::Create(options, gate.AsHandler());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  // 80 bytes held by a handler that waits.
  auto slow = std::async(std::launch::async, [port] {
    HttpTestClient client(port);
    return client.Send("POST", "/slow", std::string(80, 'a'));
  });
  gate.WaitForWaiter();
  // 30 more would exceed 100: 503 + Retry-After, the body unread.
  HttpTestClient other(port);
  ClientResponse refused = other.Send("POST", "/fast", std::string(30, 'b'));
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.Header("retry-after"), "1");
  EXPECT_THAT(refused.body, HasSubstr("too many request bytes in flight"));
  // 20 fit.
  HttpTestClient small(port);
  EXPECT_EQ(small.Send("POST", "/fast", std::string(20, 'c')).status, 200);
  gate.Release();
  EXPECT_EQ(slow.get().status, 200);
  // Everything was released: 100 bytes fit again.
  HttpTestClient after(port);
  EXPECT_EQ(after.Send("POST", "/fast", std::string(100, 'd')).status, 200);
  EXPECT_THAT(
      metrics.RenderPrometheus(),
      HasSubstr("tailtrace_http_refused_total{listener=\"test-http\",reason=\"body_bytes\"} 1"));
  (*server)->Shutdown();
}

TEST(HttpServerLimitsTest, AChunkedBodyCountsAsTheLargestBodyAllowed) {
  HttpServerOptions options = LocalOptions();
  options.max_inflight_body_bytes = 100;
  options.max_body_bytes = 60;
  options.num_threads = 2;
  Gate gate;
  auto server = HttpServer::Create(options, gate.AsHandler());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  // A chunked body of 5 bytes is charged max_body_bytes (60) while its handler waits.
  HttpTestClient chunked(port);
  ASSERT_TRUE(
      chunked.WriteRaw("POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n0\r\n\r\n"));
  gate.WaitForWaiter();
  HttpTestClient other(port);
  EXPECT_EQ(other.Send("POST", "/fast", std::string(50, 'b')).status, 503) << "60 + 50 > 100";
  HttpTestClient small(port);
  EXPECT_EQ(small.Send("POST", "/fast", std::string(40, 'c')).status, 200) << "60 + 40 fit";
  gate.Release();
  EXPECT_EQ(chunked.ReadResponse().status, 200);
  (*server)->Shutdown();
}

TEST(HttpServerLimitsTest, TokenRequiredExceptOnOpenPaths) {
  char path[] = "/tmp/tailtrace-http-tokens-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "tok\n";
  HttpServerOptions options = LocalOptions();
  options.security.auth.bearer_token_file = path;
  options.open_paths = {"/healthz"};
  Gate gate;
  auto server = HttpServer::Create(options, gate.AsHandler());
  ASSERT_TRUE(server.ok()) << server.status();
  HttpTestClient client((*server)->port());
  ClientResponse r = client.Send("GET", "/metrics");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("www-authenticate"), "Bearer");
  HttpTestClient c2((*server)->port());
  EXPECT_EQ(c2.Send("GET", "/metrics", "", {{"Authorization", "Bearer tok"}}).status, 200);
  // The connection stays usable after a 401 to a request without a body.
  EXPECT_EQ(c2.Send("GET", "/metrics").status, 401);
  EXPECT_EQ(c2.Send("GET", "/healthz").status, 200);
  (*server)->Shutdown();
  std::remove(path);
}

TEST(HttpServerLimitsTest, MissingTlsOrTokenFileFailsCreate) {
  Gate gate;
  HttpServerOptions options = LocalOptions();
  options.security.auth.bearer_token_file = "/nonexistent/tokens";
  auto no_tokens = HttpServer::Create(options, gate.AsHandler());
  ASSERT_FALSE(no_tokens.ok());
  EXPECT_THAT(std::string(no_tokens.status().message()), HasSubstr("/nonexistent/tokens"));
  options = LocalOptions();
  options.security.tls.cert_file = "/nonexistent/cert.pem";
  options.security.tls.key_file = "/nonexistent/key.pem";
  auto no_cert = HttpServer::Create(options, gate.AsHandler());
  ASSERT_FALSE(no_cert.ok());
  EXPECT_THAT(std::string(no_cert.status().message()),
              HasSubstr("tls.cert_file \"/nonexistent/cert.pem\": cannot load: No such file"));
}

}  // namespace
}  // namespace tailtrace::http
