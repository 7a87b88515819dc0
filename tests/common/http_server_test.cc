#include "common/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/common/http_test_client.h"

namespace tailtrace::http {
namespace {

using tailtrace::testing::ClientResponse;
using tailtrace::testing::HttpTestClient;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

HttpServerOptions LocalOptions() {
  HttpServerOptions options;
  options.endpoint = "127.0.0.1:0";
  options.name = "test-http";
  return options;
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, Handler handler) {
  auto server = HttpServer::Create(std::move(options), std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

Response Text(int status, std::string body) {
  Response res;
  res.status = status;
  res.content_type = "text/plain";
  res.body = std::move(body);
  return res;
}

// Records the last request the handler saw.
class RecordingHandler {
 public:
  Handler AsHandler() {
    return [this](const Request& req) {
      std::lock_guard lock(mu_);
      last_ = req;
      ++calls_;
      return Text(200, "ok");
    };
  }
  Request last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  Request last_;
  int calls_ = 0;
};

TEST(HttpServerTest, PortZeroBindsAnEphemeralPort) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  HttpTestClient client(server->port());
  ASSERT_TRUE(client.connected()) << client.error().message();
  EXPECT_EQ(client.Send("GET", "/").status, 200);
}

TEST(HttpServerTest, LocalhostEndpoint) {
  HttpServerOptions options = LocalOptions();
  options.endpoint = "localhost:0";
  RecordingHandler recorder;
  auto server = StartServer(options, recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  EXPECT_EQ(client.Send("GET", "/").status, 200);
}

TEST(HttpServerTest, Ipv6Endpoint) {
  HttpServerOptions options = LocalOptions();
  options.endpoint = "[::1]:0";
  auto server = HttpServer::Create(options, [](const Request&) { return Text(200, "v6"); });
  if (!server.ok()) GTEST_SKIP() << "IPv6 loopback unavailable here: " << server.status();
  HttpTestClient client((*server)->port(), "::1");
  ASSERT_TRUE(client.connected()) << client.error().message();
  EXPECT_EQ(client.Send("GET", "/").body, "v6");
}

TEST(HttpServerTest, DecodesPathQueryAndHeaders) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  const ClientResponse res =
      client.Send("GET", "/api/a%20b/c+d?x=1&y=hello+world&x=%2Fz%3D&empty=&flag&&bad=%zz", "",
                  {{"X-Custom-Header", "Value 1"}});
  ASSERT_EQ(res.status, 200);

  const Request req = recorder.last();
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/api/a%20b/c+d?x=1&y=hello+world&x=%2Fz%3D&empty=&flag&&bad=%zz");
  EXPECT_EQ(req.path, "/api/a b/c+d");  // '+' is literal in a path
  EXPECT_THAT(req.query, ElementsAre(Pair("x", "1"), Pair("y", "hello world"), Pair("x", "/z="),
                                     Pair("empty", ""), Pair("flag", ""), Pair("bad", "%zz")));
  EXPECT_EQ(req.Param("y"), std::optional<std::string_view>("hello world"));
  EXPECT_EQ(req.Param("missing"), std::nullopt);
  EXPECT_THAT(req.Params("x"), ElementsAre("1", "/z="));
  EXPECT_EQ(req.Header("x-custom-header"), "Value 1");
  EXPECT_EQ(req.Header("host"), "127.0.0.1");
  EXPECT_EQ(req.Header("absent"), "");
  EXPECT_TRUE(req.body.empty());
}

TEST(HttpServerTest, PostBodyAndResponseFields) {
  auto server = StartServer(LocalOptions(), [](const Request& req) {
    Response res;
    res.status = 201;
    res.content_type = "application/x-test";
    res.body = absl::StrCat(req.method, ":", req.body);
    res.headers.emplace_back("X-Extra", "yes");
    return res;
  });
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  const std::string body(100'000, 'b');
  const ClientResponse res = client.Send("POST", "/upload", body, {{"Content-Type", "x/y"}});
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.Header("content-type"), "application/x-test");
  EXPECT_EQ(res.Header("x-extra"), "yes");
  EXPECT_EQ(res.Header("content-length"), std::to_string(body.size() + 5));
  EXPECT_EQ(res.body, "POST:" + body);
}

TEST(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  for (int i = 0; i < 5; ++i) {
    const ClientResponse res = client.Send("POST", "/r", absl::StrCat("body", i));
    ASSERT_EQ(res.status, 200) << "request " << i << ": " << client.error().message();
    EXPECT_TRUE(res.keep_alive);
    EXPECT_EQ(recorder.last().body, absl::StrCat("body", i));
  }
  EXPECT_EQ(recorder.calls(), 5);
}

TEST(HttpServerTest, ConnectionCloseAndHttp10CloseAfterResponse) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  {
    HttpTestClient client(server->port());
    const ClientResponse res = client.Send("GET", "/", "", {{"Connection", "close"}});
    EXPECT_EQ(res.status, 200);
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(client.ServerClosed());
  }
  {
    HttpTestClient client(server->port());
    const ClientResponse res = client.Send("GET", "/", "", {}, /*version=*/10);
    EXPECT_EQ(res.status, 200);
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(client.ServerClosed());
  }
}

TEST(HttpServerTest, BodyOverLimitIs413) {
  HttpServerOptions options = LocalOptions();
  options.max_body_bytes = 1024;
  RecordingHandler recorder;
  auto server = StartServer(options, recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  {
    HttpTestClient client(server->port());
    EXPECT_EQ(client.Send("POST", "/", std::string(1024, 'x')).status, 200);  // at the limit
    const ClientResponse res = client.Send("POST", "/", std::string(1025, 'x'));
    EXPECT_EQ(res.status, 413);
    EXPECT_THAT(res.body, HasSubstr("1024 bytes"));
    EXPECT_FALSE(res.keep_alive);
    EXPECT_TRUE(client.ServerClosed());
  }
  {
    // Chunked: the limit applies while the body arrives.
    HttpTestClient client(server->port());
    ASSERT_TRUE(
        client.WriteRaw("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "800\r\n" +
                        std::string(0x800, 'y') + "\r\n0\r\n\r\n"));
    EXPECT_EQ(client.ReadResponse().status, 413);
  }
  EXPECT_EQ(recorder.calls(), 1);
}

TEST(HttpServerTest, GarbageIs400AndCloses) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  ASSERT_TRUE(client.WriteRaw("this is not http at all\r\n\r\n"));
  const ClientResponse res = client.ReadResponse();
  EXPECT_EQ(res.status, 400);
  EXPECT_THAT(res.body, HasSubstr("malformed HTTP request"));
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(recorder.calls(), 0);
}

TEST(HttpServerTest, OversizedHeadersAre431) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  ASSERT_TRUE(client.WriteRaw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100'000, 'h') +
                              "\r\n\r\n"));
  EXPECT_EQ(client.ReadResponse().status, 431);
  EXPECT_EQ(recorder.calls(), 0);
}

TEST(HttpServerTest, Expect100Continue) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  ASSERT_TRUE(client.WriteRaw(
      "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(client.ReadResponse().status, 100);
  ASSERT_TRUE(client.WriteRaw("hello"));
  EXPECT_EQ(client.ReadResponse().status, 200);
  EXPECT_EQ(recorder.last().body, "hello");
}

TEST(HttpServerTest, HandlerExceptionIs500AndConnectionSurvives) {
  auto server = StartServer(LocalOptions(), [](const Request& req) -> Response {
    if (req.path == "/throw") throw std::runtime_error("boom");
    return Text(200, "fine");
  });
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  EXPECT_EQ(client.Send("GET", "/throw").status, 500);
  const ClientResponse res = client.Send("GET", "/ok");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "fine");
}

TEST(HttpServerTest, ManyConcurrentKeepAliveConnections) {
  std::atomic<int> calls{0};
  auto server = StartServer(LocalOptions(), [&calls](const Request& req) {
    calls.fetch_add(1);
    return Text(200, "echo:" + req.body);
  });
  ASSERT_NE(server, nullptr);
  constexpr int kClients = 50;
  constexpr int kRequestsPerClient = 5;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      HttpTestClient client(server->port());
      for (int r = 0; r < kRequestsPerClient; ++r) {
        const std::string body = absl::StrCat("c", c, "-r", r);
        const ClientResponse res = client.Send("POST", "/", body);
        if (res.status == 200 && res.body == "echo:" + body) good.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients * kRequestsPerClient);
  EXPECT_EQ(calls.load(), kClients * kRequestsPerClient);
}

TEST(HttpServerTest, BindConflictNamesEndpointAndOsError) {
  RecordingHandler recorder;
  auto first = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(first, nullptr);
  HttpServerOptions options = LocalOptions();
  options.endpoint = absl::StrCat("127.0.0.1:", first->port());
  auto second = HttpServer::Create(options, recorder.AsHandler());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(options.endpoint));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
}

TEST(HttpServerTest, BadEndpointsAreRejectedWithTheEndpointNamed) {
  for (const std::string endpoint : {"nonsense", "127.0.0.1:abc", "127.0.0.1:70000",
                                     "127.0.0.1:", "::1:80", "[::1", "[::1]80", "192.0.2.1:0"}) {
    HttpServerOptions options = LocalOptions();
    options.endpoint = endpoint;
    auto server = HttpServer::Create(options, [](const Request&) { return Response(); });
    ASSERT_FALSE(server.ok()) << endpoint;
    EXPECT_THAT(server.status().message(), HasSubstr(endpoint)) << server.status();
  }
}

TEST(HttpServerTest, RejectsBadOptions) {
  HttpServerOptions options = LocalOptions();
  options.num_threads = 0;
  auto server = HttpServer::Create(options, [](const Request&) { return Response(); });
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("num_threads"));
  EXPECT_FALSE(HttpServer::Create(LocalOptions(), Handler()).ok());
}

TEST(HttpServerTest, ShutdownIsIdempotentAndFreesThePort) {
  RecordingHandler recorder;
  auto server = StartServer(LocalOptions(), recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  HttpTestClient idle(port);
  ASSERT_EQ(idle.Send("GET", "/").status, 200);  // now an idle keep-alive connection
  server->Shutdown();
  EXPECT_TRUE(idle.ServerClosed());
  server->Shutdown();
  HttpTestClient late(port);
  EXPECT_FALSE(late.connected() && late.Send("GET", "/").status != 0);
  EXPECT_EQ(recorder.calls(), 1);

  // The port is free again.
  HttpServerOptions options = LocalOptions();
  options.endpoint = absl::StrCat("127.0.0.1:", port);
  auto again = HttpServer::Create(options, recorder.AsHandler());
  EXPECT_TRUE(again.ok()) << again.status();
  server.reset();  // destructor after Shutdown is fine
}

TEST(HttpServerTest, ShutdownLetsAnInFlightHandlerFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  auto server = StartServer(LocalOptions(), [&](const Request& req) {
    calls.fetch_add(1);
    if (req.path == "/slow") {
      entered.set_value();
      released.wait();
      return Text(200, "slow done");
    }
    return Text(200, "fast");
  });
  ASSERT_NE(server, nullptr);
  const int port = server->port();

  ClientResponse slow_response;
  std::thread slow_client([&] {
    HttpTestClient client(port);
    slow_response = client.Send("GET", "/slow");
  });
  entered.get_future().wait();

  std::atomic<bool> shutdown_returned{false};
  std::thread stopper([&] {
    server->Shutdown();
    shutdown_returned.store(true);
  });
  // Once Shutdown() has begun, new connections are refused or dropped without an answer.
  for (;;) {
    HttpTestClient probe(port);
    if (!probe.connected() || probe.Send("GET", "/fast").status == 0) break;
  }
  EXPECT_FALSE(shutdown_returned.load());  // still waiting for /slow
  release.set_value();
  slow_client.join();
  stopper.join();
  EXPECT_TRUE(shutdown_returned.load());
  EXPECT_EQ(slow_response.status, 200);
  EXPECT_EQ(slow_response.body, "slow done");
  EXPECT_FALSE(slow_response.keep_alive);

  const int calls_after_shutdown = calls.load();
  HttpTestClient late(port);
  EXPECT_FALSE(late.connected() && late.Send("GET", "/fast").status != 0);
  EXPECT_EQ(calls.load(), calls_after_shutdown);
}

// Regression: a client that disconnects while Shutdown() runs must not make Shutdown() wait for
// its grace period (5 s).
TEST(HttpServerTest, ShutdownRacingAClientDisconnectReturnsPromptly) {
  for (int i = 0; i < 20; ++i) {
    RecordingHandler recorder;
    auto server = StartServer(LocalOptions(), recorder.AsHandler());
    ASSERT_NE(server, nullptr);
    {
      HttpTestClient client(server->port());
      ASSERT_EQ(client.Send("GET", "/").status, 200);
    }  // the client disconnects
    const auto start = std::chrono::steady_clock::now();
    server->Shutdown();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4)) << "round " << i;
  }
}

TEST(HttpServerTest, IdleConnectionIsClosedAfterTimeout) {
  HttpServerOptions options = LocalOptions();
  options.idle_timeout_ms = 50;
  RecordingHandler recorder;
  auto server = StartServer(options, recorder.AsHandler());
  ASSERT_NE(server, nullptr);
  HttpTestClient client(server->port());
  ASSERT_EQ(client.Send("GET", "/").status, 200);
  // Blocks until the server gives up on the idle connection.
  EXPECT_TRUE(client.ServerClosed());
}

}  // namespace
}  // namespace tailtrace::http
