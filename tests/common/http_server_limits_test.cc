// HttpServer's bound on request body bytes in flight across connections, its connection limit,
// its bearer-token check with open paths, and accepting again after running out of descriptors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "common/http_server.h"
#include "common/tcp_listener.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"
#include "tests/common/descriptor_shortage.h"
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
  options.is_open_path = [](std::string_view path) { return path.starts_with("/ui/"); };
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
  // is_open_path sees the percent-decoded path.
  EXPECT_EQ(c2.Send("GET", "/ui/trace/abc").status, 200);
  EXPECT_EQ(c2.Send("GET", "/%75i/x").status, 200);
  EXPECT_EQ(c2.Send("GET", "/uix").status, 401);
  EXPECT_EQ(c2.Send("GET", "/healthz/x").status, 401);
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

// Log lines of the default logger while it lives (then the previous logger is back).
class CapturedLog {
 public:
  CapturedLog()
      : saved_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink_));
  }
  ~CapturedLog() { spdlog::set_default_logger(saved_); }
  // Lines containing `text`.
  int Count(const std::string& text) const {
    int n = 0;
    for (const std::string& line : sink_->last_formatted()) {
      if (line.find(text) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  std::shared_ptr<spdlog::logger> saved_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

// Out of descriptors, accept fails on every retry (every 50 ms): the server logs that once, counts
// every failure, and serves the waiting connection as soon as descriptors are back.
TEST(HttpServerLimitsTest, AcceptsAgainAfterRunningOutOfDescriptorsAndLogsItOnce) {
  TAILTRACE_SKIP_WITHOUT_DESCRIPTORS_UNDER_SANITIZERS();
  CapturedLog log;
  MetricsRegistry metrics;
  HttpServerOptions options = LocalOptions();
  options.metrics = &metrics;
  Gate gate;
  auto server = HttpServer::Create(options, gate.AsHandler());
  ASSERT_TRUE(server.ok()) << server.status();
  Counter* failures = AcceptFailuresCounter(metrics, options.name);
  int client = -1;
  {
    testing::DescriptorShortage shortage;
    ASSERT_TRUE(shortage.ok()) << "cannot lower RLIMIT_NOFILE";
    shortage.Release(1);  // for the client's socket: none is left for the server to accept it
    client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
    const std::string request = "GET /fast HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::send(client, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    EXPECT_TRUE(testing::WaitFor([&] { return failures->Value() >= 3; }))
        << "accept did not fail (and get retried) without descriptors";
  }
  // Descriptors are back: the waiting connection is accepted and answered.
  timeval timeout{5, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  char buf[1024];
  ssize_t got = 0;
  while ((got = ::recv(client, buf, sizeof(buf), 0)) > 0) response.append(buf, got);
  ::close(client);
  EXPECT_THAT(response, HasSubstr("200 OK"));
  (*server)->Shutdown();
  EXPECT_EQ(log.Count("accept failed: Too many open files"), 1);
  EXPECT_EQ(log.Count("accepting connections again after"), 1);
}

}  // namespace
}  // namespace tailtrace::http
