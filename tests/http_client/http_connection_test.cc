// HttpConnection against the project's own HTTP server: what goes on the wire, what comes back,
// kept-alive connections (and stale ones), deadlines, the body limit, and TLS.

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_client/http_client.h"
#include "tests/integration/tls_test_util.h"

namespace tailtrace::http_client {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Deadline In(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
constexpr std::chrono::milliseconds k5s(5000);

class HttpConnectionTest : public ::testing::Test {
 protected:
  void TearDown() override {
    Hold(false);
    if (server_ != nullptr) server_->Shutdown();
  }

  // Serves on `port` (0: a free one); the server before it, if any, is shut down first.
  void StartServer(int port = 0, security::ListenerSecurity security = {}) {
    if (server_ != nullptr) server_->Shutdown();
    http::HttpServerOptions options;
    options.endpoint = absl::StrCat("127.0.0.1:", port);
    options.security = std::move(security);
    auto server = http::HttpServer::Create(options, [this](const http::Request& r) {
      std::unique_lock lock(mu_);
      requests_.push_back(r);
      cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !held_; });
      return answer_;
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void Answer(http::Response response) {
    std::lock_guard lock(mu_);
    answer_ = std::move(response);
  }
  void Hold(bool held) {
    std::lock_guard lock(mu_);
    held_ = held;
    cv_.notify_all();
  }
  std::vector<http::Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  HttpConnectionOptions Options() const {
    HttpConnectionOptions options;
    options.host = "127.0.0.1";
    options.port = server_->port();
    return options;
  }

  static HttpRequest Post(std::string body) {
    HttpRequest request;
    request.target = "/submit?x=1";
    request.body = std::move(body);
    return request;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  http::Response answer_{200, "text/plain", "fine", {}};
  bool held_ = false;
  std::vector<http::Request> requests_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(HttpConnectionTest, SendsTheRequestAndReturnsTheWholeAnswer) {
  StartServer();
  Answer({201, "text/plain", "made", {{"X-Answer", "42"}}});
  HttpConnection connection(Options());
  HttpRequest request = Post("the body");
  request.headers = {{"X-One", "1"}, {"Content-Type", "text/plain"}, {"X-One", "2"}};
  absl::StatusOr<HttpResponse> response = connection.RoundTrip(request, In(k5s));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->reason, "Created");
  EXPECT_EQ(response->body, "made");
  EXPECT_EQ(response->Header("x-answer"), "42");
  EXPECT_EQ(response->Header("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(response->Header("X-Absent"), "");

  ASSERT_EQ(requests().size(), 1u);
  const http::Request r = requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/submit?x=1");
  EXPECT_EQ(r.body, "the body");
  EXPECT_EQ(r.Header("host"), absl::StrCat("127.0.0.1:", server_->port()));
  EXPECT_EQ(r.Header("content-length"), "8");
  EXPECT_EQ(r.Header("x-one"), "2");  // a later header replaces an earlier one
  EXPECT_EQ(connection.authority(), absl::StrCat("127.0.0.1:", server_->port()));
}

TEST_F(HttpConnectionTest, AGetWithoutBodyAndAnErrorStatusIsAnAnswer) {
  StartServer();
  Answer({503, "text/plain", "busy", {}});
  HttpConnection connection(Options());
  HttpRequest request;
  request.method = "GET";
  request.target = "/ping";
  request.headers = {{"Host", "example.test"}};
  absl::StatusOr<HttpResponse> response = connection.RoundTrip(request, In(k5s));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "busy");
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].method, "GET");
  EXPECT_EQ(requests()[0].Header("host"), "example.test");
}

TEST_F(HttpConnectionTest, KeepsTheConnectionAliveUnlessItIsClosed) {
  StartServer();
  HttpConnection connection(Options());
  EXPECT_FALSE(connection.connected());
  ASSERT_TRUE(connection.RoundTrip(Post("1"), In(k5s)).ok());
  EXPECT_TRUE(connection.connected());
  HttpRequest last = Post("2");
  last.headers = {{"Connection", "close"}};
  ASSERT_TRUE(connection.RoundTrip(last, In(k5s)).ok());
  EXPECT_FALSE(connection.connected());
  ASSERT_TRUE(connection.RoundTrip(Post("3"), In(k5s)).ok());
  EXPECT_EQ(requests().size(), 3u);
}

TEST_F(HttpConnectionTest, AConnectionTheServerClosedMeanwhileIsReplacedOnce) {
  StartServer();
  HttpConnection connection(Options());
  ASSERT_TRUE(connection.RoundTrip(Post("before"), In(k5s)).ok());
  ASSERT_TRUE(connection.connected());
  // The server restarts on the same port: the kept-alive connection is dead.
  StartServer(server_->port());
  absl::StatusOr<HttpResponse> response = connection.RoundTrip(Post("after"), In(k5s));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(requests()[1].body, "after");
}

TEST_F(HttpConnectionTest, NoServerIsUnavailableNamingTheStep) {
  StartServer();
  const int port = server_->port();
  server_->Shutdown();
  HttpConnectionOptions options = Options();
  options.port = port;
  HttpConnection connection(options);
  absl::StatusOr<HttpResponse> response = connection.RoundTrip(Post("x"), In(k5s));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(),
            absl::StrCat("connecting 127.0.0.1:", port, ": Connection refused"));
  EXPECT_FALSE(connection.connected());
}

TEST_F(HttpConnectionTest, ADeadlineEndsTheRoundTripWhichIsNotSentAgain) {
  StartServer();
  HttpConnection connection(Options());
  ASSERT_TRUE(connection.RoundTrip(Post("1"), In(k5s)).ok());
  Hold(true);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<HttpResponse> response =
      connection.RoundTrip(Post("2"), In(std::chrono::milliseconds(200)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(),
            absl::StrCat("reading the answer 127.0.0.1:", server_->port(), ": timed out"));
  EXPECT_FALSE(connection.connected());
  Hold(false);
  EXPECT_EQ(requests().size(), 2u);
  EXPECT_TRUE(connection.RoundTrip(Post("3"), In(k5s)).ok());
}

TEST_F(HttpConnectionTest, ABodyOverTheLimitFailsAndIsNotSentAgain) {
  StartServer();
  HttpConnectionOptions options = Options();
  options.max_response_body_bytes = 1000;
  HttpConnection connection(options);
  Answer({200, "text/plain", std::string(1000, 'a'), {}});
  ASSERT_TRUE(connection.RoundTrip(Post("1"), In(k5s)).ok());
  Answer({200, "text/plain", std::string(1001, 'a'), {}});
  absl::StatusOr<HttpResponse> response = connection.RoundTrip(Post("2"), In(k5s));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("larger than 1000 bytes"));
  EXPECT_EQ(requests().size(), 2u);
}

TEST(ClientTlsTest, AFileThatCannotBeLoadedIsNamedWithTheKeyPrefix) {
  ClientTlsOptions options;
  options.ca_file = "/no/such/ca.pem";
  absl::StatusOr<std::shared_ptr<const ClientTls>> tls = ClientTls::Create(options, "a.tls");
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tls.status().message()),
              StartsWith("a.tls.ca_file: cannot load \"/no/such/ca.pem\": "));
  options = {};
  options.cert_file = "/no/such/cert.pem";
  tls = ClientTls::Create(options, "b.tls");
  EXPECT_THAT(std::string(tls.status().message()), StartsWith("b.tls.cert_file: cannot load"));
  // Without verification no CA is loaded.
  options = {};
  options.ca_file = "/no/such/ca.pem";
  options.insecure_skip_verify = true;
  tls = ClientTls::Create(options, "c.tls");
  ASSERT_TRUE(tls.ok());
  EXPECT_FALSE((*tls)->verifies_server());
}

TEST_F(HttpConnectionTest, TlsVerifiesTheServersCertificateAndName) {
  const std::string dir = ::testing::TempDir() + "/http-client-tls-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto pki = tailtrace::testing::MakeTestPki(dir, "http");
  ASSERT_TRUE(pki.ok()) << pki.status();
  security::ListenerSecurity security;
  security.tls.cert_file = pki->server_cert;
  security.tls.key_file = pki->server_key;
  StartServer(0, security);
  const auto connect = [&](ClientTlsOptions tls_options, std::string host) {
    absl::StatusOr<std::shared_ptr<const ClientTls>> tls = ClientTls::Create(tls_options, "t");
    EXPECT_TRUE(tls.ok()) << tls.status();
    HttpConnectionOptions options = Options();
    options.host = std::move(host);
    options.tls = *tls;
    HttpConnection connection(options);
    return connection.RoundTrip(Post("secret"), In(k5s));
  };
  ClientTlsOptions trusted;
  trusted.ca_file = pki->ca_cert;
  EXPECT_TRUE(connect(trusted, "localhost").ok());
  EXPECT_TRUE(connect(trusted, "127.0.0.1").ok());
  // Unknown CA: the handshake fails.
  absl::StatusOr<HttpResponse> untrusted = connect({}, "localhost");
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(untrusted.status().message()), StartsWith("TLS handshake localhost:"));
  ClientTlsOptions insecure;
  insecure.insecure_skip_verify = true;
  EXPECT_TRUE(connect(insecure, "localhost").ok());
  EXPECT_EQ(requests().size(), 3u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tailtrace::http_client
