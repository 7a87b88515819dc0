// OTLP/HTTP protobuf: POST {endpoint}/v1/traces over one kept-alive connection (http_client/,
// with OpenSSL for https). The exporter thread calls Send synchronously; one deadline bounds the
// whole attempt (resolve, connect, handshake, write, read).

#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "exporter/otlp_sender.h"
#include "google/rpc/status.pb.h"
#include "http_client/gzip.h"
#include "http_client/http_client.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "sender_internal.h"

namespace tailtrace::exporter::internal {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

// Largest response body read (an error message or an ExportTraceServiceResponse).
constexpr uint64_t kMaxResponseBodyBytes = 1 << 20;
// Longest backend message quoted in a log line.
constexpr size_t kMaxQuotedBytes = 256;

// A short, printable excerpt of a response body for the log.
std::string Quote(const std::string& body) {
  google::rpc::Status status;
  if (!body.empty() && status.ParseFromString(body) && !status.message().empty()) {
    return status.message().substr(0, kMaxQuotedBytes);
  }
  std::string out;
  for (char c : body.substr(0, kMaxQuotedBytes)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// Retry-After in seconds (an HTTP-date is not supported), or -1.
int64_t RetryAfterNs(std::string_view value) {
  int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return -1;
  return seconds * 1'000'000'000;
}

SendResult Retryable(std::string message, int64_t retry_after_ns = -1) {
  return SendResult{SendResult::Kind::kRetryable, std::move(message), retry_after_ns, 0};
}

http_client::HttpConnectionOptions ConnectionOptions(
    const OtlpEndpoint& endpoint, std::shared_ptr<const http_client::ClientTls> tls) {
  http_client::HttpConnectionOptions options;
  options.host = endpoint.host;
  options.port = endpoint.port;
  options.tls = std::move(tls);
  options.max_response_body_bytes = kMaxResponseBodyBytes;
  return options;
}

class HttpSender final : public OtlpSender {
 public:
  HttpSender(const OtlpExporterOptions& options, const OtlpEndpoint& endpoint,
             std::shared_ptr<const http_client::ClientTls> tls)
      : path_(endpoint.path),
        headers_(options.headers),
        gzip_(options.compression == OtlpCompression::kGzip),
        connection_(ConnectionOptions(endpoint, std::move(tls))) {}

  SendResult Send(const std::string& request, int64_t timeout_ns) override {
    const http_client::Deadline deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
    absl::StatusOr<http_client::HttpResponse> response =
        connection_.RoundTrip(BuildRequest(request), deadline);
    if (!response.ok()) return Retryable(std::string(response.status().message()));
    return Classify(*response);
  }

 private:
  http_client::HttpRequest BuildRequest(const std::string& body) const {
    http_client::HttpRequest req;
    req.method = "POST";
    req.target = path_;
    req.headers.reserve(headers_.size() + 3);
    req.headers.emplace_back("User-Agent", absl::StrCat("tailtraced/", TAILTRACE_VERSION));
    req.headers.emplace_back("Content-Type", "application/x-protobuf");
    req.headers.insert(req.headers.end(), headers_.begin(), headers_.end());
    if (gzip_) {
      req.headers.emplace_back("Content-Encoding", "gzip");
      req.body = http_client::GzipFast(body);
    } else {
      req.body = body;
    }
    return req;
  }

  static SendResult Classify(const http_client::HttpResponse& response) {
    const int status = response.status;
    SendResult result;
    if (status >= 200 && status < 300) {
      ExportTraceServiceResponse parsed;
      if (!response.body.empty() && parsed.ParseFromString(response.body)) {
        result.rejected_spans = parsed.partial_success().rejected_spans();
        result.message = parsed.partial_success().error_message();
      }
      return result;
    }
    result.message =
        absl::StrCat("HTTP ", status, " ", response.reason, ": ", Quote(response.body));
    if (IsRetryableHttpStatus(status)) {
      result.kind = SendResult::Kind::kRetryable;
      const std::string_view retry_after = response.Header("Retry-After");
      if (!retry_after.empty()) result.retry_after_ns = RetryAfterNs(retry_after);
      return result;
    }
    result.kind = SendResult::Kind::kPermanent;
    return result;
  }

  const std::string path_;
  const std::vector<std::pair<std::string, std::string>> headers_;
  const bool gzip_;
  http_client::HttpConnection connection_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OtlpSender>> MakeHttpSender(const OtlpExporterOptions& options,
                                                           const OtlpEndpoint& endpoint) {
  std::shared_ptr<const http_client::ClientTls> tls;
  if (!UsesPlainText(options.tls, endpoint)) {
    http_client::ClientTlsOptions tls_options;
    tls_options.ca_file = options.tls.ca_file;
    tls_options.cert_file = options.tls.cert_file;
    tls_options.key_file = options.tls.key_file;
    tls_options.insecure_skip_verify = options.tls.insecure_skip_verify;
    absl::StatusOr<std::shared_ptr<const http_client::ClientTls>> context =
        http_client::ClientTls::Create(tls_options, "exporters.otlp.tls");
    if (!context.ok()) return context.status();
    tls = *std::move(context);
  }
  return std::make_unique<HttpSender>(options, endpoint, std::move(tls));
}

}  // namespace tailtrace::exporter::internal
