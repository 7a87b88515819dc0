// The OTLP/HTTP protobuf transport against the project's own HTTP server as the backend: the
// request's method, path, headers and gzip body, and every answer told apart as the OTLP
// specification says.

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/gzip.h"
#include "common/http_server.h"
#include "exporter/otlp_sender.h"
#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/exporter/exporter_test_util.h"
#include "tests/integration/tls_test_util.h"

namespace tailtrace::exporter {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::testing::HasSubstr;
using testing::kMs;
using testing::kS;
using testing::MakeTrace;

class HttpSenderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    Hold(false);
    if (server_ != nullptr) server_->Shutdown();
  }

  void StartServer(security::ListenerSecurity security = {}) {
    http::HttpServerOptions options;
    options.endpoint = "127.0.0.1:0";
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

  std::unique_ptr<OtlpSender> Sender(OtlpExporterOptions options = {}) {
    options.protocol = OtlpProtocol::kHttpProtobuf;
    if (options.endpoint.empty()) {
      options.endpoint = absl::StrCat("http://127.0.0.1:", server_->port());
    }
    auto sender = MakeOtlpSender(options);
    EXPECT_TRUE(sender.ok()) << sender.status();
    return sender.ok() ? *std::move(sender) : nullptr;
  }

  static std::string Request() {
    return MakeTrace(1, 2).SerializeAsString() + MakeTrace(2, 3).SerializeAsString();
  }

  static http::Response Status(int status, std::string body = "",
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Response r;
    r.status = status;
    r.content_type = "application/x-protobuf";
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  http::Response answer_ = Status(200);
  bool held_ = false;
  std::vector<http::Request> requests_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(HttpSenderTest, PostsGzippedProtobufToV1TracesWithTheHeaders) {
  StartServer();
  OtlpExporterOptions options;
  options.headers = {{"X-Api-Key", "secret"}};
  const SendResult result = Sender(options)->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kOk) << result.message;
  ASSERT_EQ(requests().size(), 1u);
  const http::Request r = requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/traces");
  EXPECT_EQ(r.Header("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.Header("content-encoding"), "gzip");
  EXPECT_EQ(r.Header("x-api-key"), "secret");
  EXPECT_THAT(std::string(r.Header("user-agent")), HasSubstr("tailtraced/"));
  absl::StatusOr<std::string> body = collector::Gunzip(r.body, 1 << 20);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, Request());
}

TEST_F(HttpSenderTest, UncompressedUnderABasePathOnAKeptAliveConnection) {
  StartServer();
  OtlpExporterOptions options;
  options.compression = OtlpCompression::kNone;
  options.endpoint = absl::StrCat("http://127.0.0.1:", server_->port(), "/otlp/");
  auto sender = Sender(options);
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  ASSERT_EQ(requests().size(), 2u);
  EXPECT_EQ(requests()[1].path, "/otlp/v1/traces");
  EXPECT_EQ(requests()[1].Header("content-encoding"), "");
  EXPECT_EQ(requests()[1].body, Request());
}

TEST_F(HttpSenderTest, ThrottlingStatusesAreRetryableWithRetryAfter) {
  StartServer();
  auto sender = Sender();
  for (int status : {429, 502, 503, 504}) {
    Answer(Status(status, "", {{"Retry-After", "2"}}));
    const SendResult result = sender->Send(Request(), 5 * kS);
    EXPECT_EQ(result.kind, SendResult::Kind::kRetryable) << status;
    EXPECT_EQ(result.retry_after_ns, 2 * kS) << status;
  }
  Answer(Status(503));
  EXPECT_EQ(sender->Send(Request(), 5 * kS).retry_after_ns, -1);
}

TEST_F(HttpSenderTest, OtherErrorsArePermanentWithTheBackendsMessage) {
  StartServer();
  google::rpc::Status status;
  status.set_code(3);
  status.set_message("span 3 has no name");
  Answer(Status(400, status.SerializeAsString()));
  auto sender = Sender();
  SendResult result = sender->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(result.message, "HTTP 400 Bad Request: span 3 has no name");
  Answer(Status(401, "missing token"));
  result = sender->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_THAT(result.message, HasSubstr("missing token"));
}

TEST_F(HttpSenderTest, PartialSuccessReportsTheRejectedSpans) {
  StartServer();
  ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(4);
  response.mutable_partial_success()->set_error_message("too old");
  Answer(Status(200, response.SerializeAsString()));
  const SendResult result = Sender()->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kOk);
  EXPECT_EQ(result.rejected_spans, 4);
  EXPECT_EQ(result.message, "too old");
}

TEST_F(HttpSenderTest, AClosedConnectionIsReopenedForTheNextRequest) {
  StartServer();
  Answer(Status(200, "", {{"Connection", "close"}}));
  auto sender = Sender();
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  EXPECT_EQ(requests().size(), 2u);
}

TEST_F(HttpSenderTest, ASlowBackendTimesOutRetryablyAndTheNextRequestWorks) {
  StartServer();
  auto sender = Sender();
  Hold(true);
  const auto start = std::chrono::steady_clock::now();
  const SendResult result = sender->Send(Request(), 200 * kMs);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.message, HasSubstr("timed out"));
  Hold(false);
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
}

TEST_F(HttpSenderTest, NoBackendIsRetryable) {
  StartServer();
  const int port = server_->port();
  server_->Shutdown();
  OtlpExporterOptions options;
  options.endpoint = absl::StrCat("http://127.0.0.1:", port);
  const SendResult result = Sender(options)->Send(Request(), 2 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.message, HasSubstr("connecting 127.0.0.1:"));
}

TEST_F(HttpSenderTest, HttpsVerifiesTheServerWithTheCaFile) {
  const std::string dir = ::testing::TempDir() + "/http-sender-tls-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto pki = tailtrace::testing::MakeTestPki(dir, "http");
  ASSERT_TRUE(pki.ok()) << pki.status();
  security::ListenerSecurity security;
  security.tls.cert_file = pki->server_cert;
  security.tls.key_file = pki->server_key;
  StartServer(security);
  OtlpExporterOptions options;
  options.endpoint = absl::StrCat("https://localhost:", server_->port());
  options.tls.ca_file = pki->ca_cert;
  EXPECT_EQ(Sender(options)->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  // The name must match the certificate (it is for localhost and 127.0.0.1).
  options.tls.ca_file.clear();
  SendResult untrusted = Sender(options)->Send(Request(), 2 * kS);
  EXPECT_EQ(untrusted.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(untrusted.message, HasSubstr("TLS handshake"));
  options.tls.insecure_skip_verify = true;
  EXPECT_EQ(Sender(options)->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  EXPECT_EQ(requests().size(), 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tailtrace::exporter
