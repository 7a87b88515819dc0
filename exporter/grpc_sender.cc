// OTLP/gRPC: TraceService/Export through a generic stub. The batch is already a serialized
// ExportTraceServiceRequest, so it goes out as bytes (no parse, no re-serialization); gzip is
// gRPC's own message compression.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exporter/otlp_sender.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "sender_internal.h"

namespace tailtrace::exporter::internal {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

constexpr char kExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr std::string_view kRetryInfoType = "type.googleapis.com/google.rpc.RetryInfo";

// The retry_delay of a serialized google.rpc.RetryInfo { Duration retry_delay = 1; }, read by
// hand because error_details.proto is not part of our proto set. -1 when absent or malformed.
int64_t RetryDelayNs(const std::string& retry_info) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(retry_info.data()),
                                            static_cast<int>(retry_info.size()));
  while (const uint32_t tag = in.ReadTag()) {
    if (tag == ((1u << 3) | 2u)) {  // field 1, length-delimited
      std::string bytes;
      uint32_t length = 0;
      google::protobuf::Duration delay;
      if (!in.ReadVarint32(&length) || !in.ReadString(&bytes, static_cast<int>(length)) ||
          !delay.ParseFromString(bytes) || delay.seconds() < 0 || delay.nanos() < 0) {
        return -1;
      }
      return delay.seconds() * 1'000'000'000 + delay.nanos();
    }
    if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) return -1;
  }
  return -1;
}

// The RetryInfo delay in a failed call's google.rpc.Status details, or -1.
int64_t RetryDelayOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return -1;
  }
  for (const auto& any : details.details()) {
    if (any.type_url() == kRetryInfoType) return RetryDelayNs(any.value());
  }
  return -1;
}

absl::StatusOr<std::string> ReadFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  if (!in || content.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("exporters.otlp.tls.", key, ": cannot read \"", path, "\""));
  }
  return content.str();
}

// TLS without verifying the server (tls.insecure_skip_verify): gRPC's TLS credentials with the
// no-op verifier, plus the client certificate when one is configured.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> SkipVerifyCredentials(
    const ExporterTlsOptions& tls) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile("cert_file", tls.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("key_file", tls.key_file);
    if (!key.ok()) return key.status();
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
            std::vector<grpc::experimental::IdentityKeyCertPair>{{*key, *cert}}));
    options.watch_identity_key_cert_pairs();
  }
  return grpc::experimental::TlsCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ExporterTlsOptions& tls, const OtlpEndpoint& endpoint) {
  if (UsesPlainText(tls, endpoint)) return grpc::InsecureChannelCredentials();
  if (tls.insecure_skip_verify) return SkipVerifyCredentials(tls);
  grpc::SslCredentialsOptions ssl;
  for (auto [key, path, out] : {std::tuple{"ca_file", &tls.ca_file, &ssl.pem_root_certs},
                                std::tuple{"cert_file", &tls.cert_file, &ssl.pem_cert_chain},
                                std::tuple{"key_file", &tls.key_file, &ssl.pem_private_key}}) {
    if (path->empty()) continue;
    absl::StatusOr<std::string> content = ReadFile(key, *path);
    if (!content.ok()) return content.status();
    *out = *std::move(content);
  }
  return grpc::SslCredentials(ssl);
}

class GrpcSender final : public OtlpSender {
 public:
  GrpcSender(std::shared_ptr<grpc::Channel> channel, const OtlpExporterOptions& options)
      : stub_(std::move(channel)),
        headers_(options.headers),
        gzip_(options.compression == OtlpCompression::kGzip) {
    // gRPC metadata keys are lower case.
    for (auto& [key, value] : headers_) absl::AsciiStrToLower(&key);
  }

  SendResult Send(const std::string& request, int64_t timeout_ns) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(timeout_ns));
    if (gzip_) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    for (const auto& [key, value] : headers_) context.AddMetadata(key, value);
    grpc::Slice slice(request);
    grpc::ByteBuffer payload(&slice, 1);
    ExportTraceServiceResponse response;
    std::promise<grpc::Status> done;
    stub_.UnaryCall(&context, kExportMethod, grpc::StubOptions(), &payload, &response,
                    [&done](grpc::Status status) { done.set_value(std::move(status)); });
    // The call ends by its deadline at the latest, so this wait is bounded.
    const grpc::Status status = done.get_future().get();
    return Classify(status, response);
  }

 private:
  static SendResult Classify(const grpc::Status& status,
                             const ExportTraceServiceResponse& response) {
    SendResult result;
    if (status.ok()) {
      result.rejected_spans = response.partial_success().rejected_spans();
      result.message = response.partial_success().error_message();
      return result;
    }
    result.retry_after_ns = RetryDelayOf(status);
    const int code = static_cast<int>(status.error_code());
    result.kind = IsRetryableGrpcCode(code, result.retry_after_ns >= 0)
                      ? SendResult::Kind::kRetryable
                      : SendResult::Kind::kPermanent;
    result.message = absl::StrCat("gRPC ", GrpcCodeName(code), ": ", status.error_message());
    return result;
  }

  grpc::TemplatedGenericStub<grpc::ByteBuffer, ExportTraceServiceResponse> stub_;
  std::vector<std::pair<std::string, std::string>> headers_;
  const bool gzip_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OtlpSender>> MakeGrpcSender(const OtlpExporterOptions& options,
                                                           const OtlpEndpoint& endpoint) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      Credentials(options.tls, endpoint);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix(absl::StrCat("tailtraced/", TAILTRACE_VERSION));
  // The exporter retries with its own backoff and counts every attempt; gRPC's transparent
  // retries would hide attempts from both.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxSendMessageSize(-1);
  // A reconnect after the backend went away should not wait out gRPC's default 120 s backoff
  // cap: the exporter's own retry schedule decides when to try again.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5'000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(endpoint.Authority(), *credentials, args);
  return std::make_unique<GrpcSender>(std::move(channel), options);
}

}  // namespace tailtrace::exporter::internal
