// The OTLP/gRPC transport against an in-process gRPC TraceService: the request arrives intact
// with its headers, and every answer is told apart as the OTLP specification says.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exporter/otlp_sender.h"
#include "gmock/gmock.h"
#include "google/protobuf/duration.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/exporter/exporter_test_util.h"
#include "tests/integration/tls_test_util.h"

namespace tailtrace::exporter {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::opentelemetry::proto::collector::trace::v1::TraceService;
using ::testing::HasSubstr;
using testing::kMs;
using testing::kS;
using testing::MakeTrace;

// What the fake backend answers: a status, and the response for OK.
using Answer = std::function<grpc::Status(ExportTraceServiceResponse*)>;

class FakeTraceService final : public TraceService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const ExportTraceServiceRequest* request,
                                   ExportTraceServiceResponse* response) override {
    std::unique_lock lock(mu_);
    requests_.push_back(*request);
    metadata_.clear();
    for (const auto& [key, value] : context->client_metadata()) {
      metadata_.emplace_back(std::string(key.data(), key.size()),
                             std::string(value.data(), value.size()));
    }
    // A held call answers only when released (a slow backend); bounded for a hung test.
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !held_; });
    const grpc::Status status = answer_ ? answer_(response) : grpc::Status::OK;
    auto* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  void SetAnswer(Answer answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  void Hold(bool held) {
    std::lock_guard lock(mu_);
    held_ = held;
    cv_.notify_all();
  }
  std::vector<ExportTraceServiceRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::string Metadata(const std::string& key) {
    std::lock_guard lock(mu_);
    for (const auto& [k, v] : metadata_) {
      if (k == key) return v;
    }
    return "";
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Answer answer_;
  bool held_ = false;
  std::vector<ExportTraceServiceRequest> requests_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

class GrpcSenderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    service_.Hold(false);
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }

  void StartServer(
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials()) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  std::unique_ptr<OtlpSender> Sender(OtlpExporterOptions options = {}) {
    if (options.endpoint.empty()) options.endpoint = absl::StrCat("127.0.0.1:", port_);
    auto sender = MakeOtlpSender(options);
    EXPECT_TRUE(sender.ok()) << sender.status();
    return sender.ok() ? *std::move(sender) : nullptr;
  }

  // A request of two traces, as the exporter builds it.
  static std::string Request() {
    return MakeTrace(1, 2).SerializeAsString() + MakeTrace(2, 3).SerializeAsString();
  }

  FakeTraceService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// google.rpc.Status details holding a RetryInfo of `delay_ms`.
std::string RetryInfoDetails(int64_t delay_ms) {
  google::protobuf::Duration delay;
  delay.set_seconds(delay_ms / 1000);
  delay.set_nanos(static_cast<int32_t>(delay_ms % 1000) * 1'000'000);
  const std::string duration = delay.SerializeAsString();
  std::string retry_info = "\x0a";  // field 1, length-delimited
  retry_info += static_cast<char>(duration.size());
  retry_info += duration;
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::UNAVAILABLE);
  auto* any = details.add_details();
  any->set_type_url("type.googleapis.com/google.rpc.RetryInfo");
  any->set_value(retry_info);
  return details.SerializeAsString();
}

TEST_F(GrpcSenderTest, DeliversTheRequestWithItsHeadersGzipped) {
  StartServer();
  OtlpExporterOptions options;
  options.endpoint = absl::StrCat("http://127.0.0.1:", port_);
  options.headers = {{"X-Api-Key", "secret"}};
  auto sender = Sender(options);
  const SendResult result = sender->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kOk) << result.message;
  ASSERT_EQ(service_.requests().size(), 1u);
  EXPECT_EQ(service_.requests()[0].SerializeAsString(), Request());
  EXPECT_EQ(service_.Metadata("x-api-key"), "secret");
  EXPECT_THAT(service_.Metadata("user-agent"), HasSubstr("tailtraced/"));
}

TEST_F(GrpcSenderTest, UncompressedToo) {
  StartServer();
  OtlpExporterOptions options;
  options.compression = OtlpCompression::kNone;
  auto sender = Sender(options);
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  EXPECT_EQ(service_.requests().size(), 1u);
}

TEST_F(GrpcSenderTest, UnavailableIsRetryableWithTheServersRetryDelay) {
  StartServer();
  service_.SetAnswer([](ExportTraceServiceResponse*) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "pipeline full", RetryInfoDetails(1500));
  });
  const SendResult result = Sender()->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_EQ(result.retry_after_ns, 1500 * kMs);
  EXPECT_THAT(result.message, HasSubstr("UNAVAILABLE: pipeline full"));
}

TEST_F(GrpcSenderTest, ResourceExhaustedIsRetryableOnlyWithRetryInfo) {
  StartServer();
  service_.SetAnswer([](ExportTraceServiceResponse*) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "quota", RetryInfoDetails(200));
  });
  auto sender = Sender();
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kRetryable);
  service_.SetAnswer([](ExportTraceServiceResponse*) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "message too large");
  });
  EXPECT_EQ(sender->Send(Request(), 5 * kS).kind, SendResult::Kind::kPermanent);
}

TEST_F(GrpcSenderTest, InvalidArgumentIsPermanent) {
  StartServer();
  service_.SetAnswer([](ExportTraceServiceResponse*) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad span");
  });
  const SendResult result = Sender()->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kPermanent);
  EXPECT_EQ(result.message, "gRPC INVALID_ARGUMENT: bad span");
}

TEST_F(GrpcSenderTest, PartialSuccessReportsTheRejectedSpans) {
  StartServer();
  service_.SetAnswer([](ExportTraceServiceResponse* response) {
    response->mutable_partial_success()->set_rejected_spans(2);
    response->mutable_partial_success()->set_error_message("2 spans without a name");
    return grpc::Status::OK;
  });
  const SendResult result = Sender()->Send(Request(), 5 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kOk);
  EXPECT_EQ(result.rejected_spans, 2);
  EXPECT_EQ(result.message, "2 spans without a name");
}

TEST_F(GrpcSenderTest, ASlowBackendTimesOutRetryably) {
  StartServer();
  service_.Hold(true);
  const auto start = std::chrono::steady_clock::now();
  const SendResult result = Sender()->Send(Request(), 200 * kMs);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.message, HasSubstr("DEADLINE_EXCEEDED"));
}

TEST_F(GrpcSenderTest, NoBackendIsRetryable) {
  StartServer();
  const int port = port_;
  server_->Shutdown(std::chrono::system_clock::now());
  server_.reset();
  OtlpExporterOptions options;
  options.endpoint = absl::StrCat("127.0.0.1:", port);
  const SendResult result = Sender(options)->Send(Request(), 2 * kS);
  EXPECT_EQ(result.kind, SendResult::Kind::kRetryable);
  EXPECT_THAT(result.message, HasSubstr("UNAVAILABLE"));
}

class GrpcSenderTlsTest : public GrpcSenderTest {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/grpc-sender-tls-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir_);
    auto pki = tailtrace::testing::MakeTestPki(dir_, "grpc");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({tailtrace::testing::ReadFileOrEmpty(pki_.server_key),
                                      tailtrace::testing::ReadFileOrEmpty(pki_.server_cert)});
    StartServer(grpc::SslServerCredentials(ssl));
  }

  void TearDown() override {
    GrpcSenderTest::TearDown();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  tailtrace::testing::TestPki pki_;
};

TEST_F(GrpcSenderTlsTest, HttpsVerifiesTheServerWithTheCaFile) {
  OtlpExporterOptions options;
  options.endpoint = absl::StrCat("https://localhost:", port_);
  options.tls.ca_file = pki_.ca_cert;
  EXPECT_EQ(Sender(options)->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  // Without the CA the server is not trusted.
  options.tls.ca_file.clear();
  const SendResult untrusted = Sender(options)->Send(Request(), 2 * kS);
  EXPECT_EQ(untrusted.kind, SendResult::Kind::kRetryable);
  // ... unless verification is off.
  options.tls.insecure_skip_verify = true;
  EXPECT_EQ(Sender(options)->Send(Request(), 5 * kS).kind, SendResult::Kind::kOk);
  EXPECT_EQ(service_.requests().size(), 2u);
}

TEST_F(GrpcSenderTlsTest, AnUnreadableCaFileIsAnErrorNamingIt) {
  OtlpExporterOptions options;
  options.endpoint = absl::StrCat("https://localhost:", port_);
  options.tls.ca_file = "/nonexistent/ca.pem";
  auto sender = MakeOtlpSender(options);
  ASSERT_FALSE(sender.ok());
  EXPECT_THAT(sender.status().message(),
              HasSubstr("exporters.otlp.tls.ca_file: cannot read \"/nonexistent/ca.pem\""));
}

}  // namespace
}  // namespace tailtrace::exporter
