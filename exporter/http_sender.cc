// OTLP/HTTP protobuf: POST {endpoint}/v1/traces over one kept-alive connection (Boost.Beast,
// with OpenSSL for https). The exporter thread calls Send synchronously; every network step runs
// as an asynchronous operation on a private io_context, so that one deadline bounds the whole
// attempt (resolve, connect, handshake, write, read).

#include <openssl/ssl.h>

#include <utility>
// (Boost.Asio 1.74's headers use std::exchange without including <utility>.)
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "exporter/otlp_sender.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "sender_internal.h"

namespace tailtrace::exporter::internal {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Deadline = std::chrono::steady_clock::time_point;

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

// Largest response body read (an error message or an ExportTraceServiceResponse).
constexpr uint64_t kMaxResponseBodyBytes = 1 << 20;
// Longest backend message quoted in a log line.
constexpr size_t kMaxQuotedBytes = 256;

absl::StatusOr<std::shared_ptr<ssl::context>> ClientTlsContext(const ExporterTlsOptions& tls) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  const auto file_error = [&ec](std::string_view key, const std::string& path) {
    return absl::InvalidArgumentError(absl::StrCat("exporters.otlp.tls.", std::string(key),
                                                   ": cannot load \"", path, "\": ", ec.message()));
  };
  if (tls.insecure_skip_verify) {
    context->set_verify_mode(ssl::verify_none);
  } else {
    context->set_verify_mode(ssl::verify_peer);
    if (!tls.ca_file.empty()) {
      if (context->load_verify_file(tls.ca_file, ec); ec) return file_error("ca_file", tls.ca_file);
    } else {
      context->set_default_verify_paths(ec);
    }
  }
  if (!tls.cert_file.empty()) {
    if (context->use_certificate_chain_file(tls.cert_file, ec); ec) {
      return file_error("cert_file", tls.cert_file);
    }
    if (context->use_private_key_file(tls.key_file, ssl::context::pem, ec); ec) {
      return file_error("key_file", tls.key_file);
    }
  }
  return context;
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

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

class HttpSender final : public OtlpSender {
 public:
  HttpSender(const OtlpExporterOptions& options, OtlpEndpoint endpoint,
             std::shared_ptr<ssl::context> tls)
      : endpoint_(std::move(endpoint)),
        port_(std::to_string(endpoint_.port)),
        headers_(options.headers),
        gzip_(options.compression == OtlpCompression::kGzip),
        verify_(!options.tls.insecure_skip_verify),
        tls_context_(std::move(tls)) {}

  ~HttpSender() override { Close(); }

  SendResult Send(const std::string& request, int64_t timeout_ns) override {
    const Deadline deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
    const bhttp::request<bhttp::string_body> message = BuildRequest(request);
    // A kept-alive connection the server has closed meanwhile fails before any answer: such a
    // failure is retried once, at once, on a new connection.
    const bool reused = connected();
    absl::StatusOr<bhttp::response<bhttp::string_body>> response = RoundTrip(message, deadline);
    if (!response.ok() && reused && std::chrono::steady_clock::now() < deadline) {
      response = RoundTrip(message, deadline);
    }
    if (!response.ok()) return Retryable(std::string(response.status().message()));
    return Classify(*response);
  }

 private:
  bool connected() const { return plain_ != nullptr || tls_ != nullptr; }

  bhttp::request<bhttp::string_body> BuildRequest(const std::string& body) const {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, endpoint_.path, 11};
    req.set(bhttp::field::host, endpoint_.Authority());
    req.set(bhttp::field::user_agent, absl::StrCat("tailtraced/", TAILTRACE_VERSION));
    req.set(bhttp::field::content_type, "application/x-protobuf");
    for (const auto& [key, value] : headers_) req.set(key, value);
    if (gzip_) {
      req.set(bhttp::field::content_encoding, "gzip");
      req.body() = GzipFast(body);
    } else {
      req.body() = body;
    }
    req.prepare_payload();
    return req;
  }

  // Runs the asynchronous operation `start` begins on io_ until it completes and returns its
  // error. Stream operations end by the stream's expiry; the resolver is cancelled at `deadline`.
  template <typename Start>
  beast::error_code Run(Start start, Deadline deadline, tcp::resolver* resolver = nullptr) {
    beast::error_code result = asio::error::timed_out;
    bool done = false;
    start([&result, &done](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    io_.run_until(deadline);
    if (!done) {
      // Cancel what is pending and let the handlers run before anything is destroyed; the
      // caller then closes the connection.
      if (resolver != nullptr) resolver->cancel();
      CloseSockets();
      io_.restart();
      io_.run();
      return asio::error::timed_out;
    }
    return result;
  }

  absl::Status Connect(Deadline deadline) {
    tcp::resolver resolver(io_);
    tcp::resolver::results_type addresses;
    beast::error_code ec = Run(
        [&](auto handler) {
          resolver.async_resolve(
              endpoint_.host, port_,
              [&addresses, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
                addresses = std::move(r);
                handler(e);
              });
        },
        deadline, &resolver);
    if (ec) return Failure("resolving", ec);
    if (tls_context_ == nullptr) {
      plain_ = std::make_unique<beast::tcp_stream>(io_);
      plain_->expires_at(deadline);
      ec = Run([&](auto handler) { plain_->async_connect(addresses, handler); }, deadline);
      return ec ? Failure("connecting", ec) : absl::OkStatus();
    }
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls_context_);
    if (!IsIpLiteral(endpoint_.host)) {
      SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.host.c_str());
    }
    if (verify_) tls_->set_verify_callback(ssl::host_name_verification(endpoint_.host));
    beast::get_lowest_layer(*tls_).expires_at(deadline);
    ec = Run([&](auto h) { beast::get_lowest_layer(*tls_).async_connect(addresses, h); }, deadline);
    if (ec) return Failure("connecting", ec);
    ec = Run([&](auto h) { tls_->async_handshake(ssl::stream_base::client, h); }, deadline);
    return ec ? Failure("TLS handshake", ec) : absl::OkStatus();
  }

  absl::StatusOr<bhttp::response<bhttp::string_body>> RoundTrip(
      const bhttp::request<bhttp::string_body>& request, Deadline deadline) {
    if (!connected()) {
      if (absl::Status s = Connect(deadline); !s.ok()) {
        Close();
        return s;
      }
    }
    absl::StatusOr<bhttp::response<bhttp::string_body>> response =
        plain_ != nullptr ? Exchange(*plain_, request, deadline)
                          : Exchange(*tls_, request, deadline);
    if (!response.ok() || !response->keep_alive()) Close();
    return response;
  }

  template <typename Stream>
  absl::StatusOr<bhttp::response<bhttp::string_body>> Exchange(
      Stream& stream, const bhttp::request<bhttp::string_body>& request, Deadline deadline) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    beast::error_code ec =
        Run([&](auto handler) { bhttp::async_write(stream, request, handler); }, deadline);
    if (ec) return Failure("sending", ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBodyBytes);
    ec = Run([&](auto handler) { bhttp::async_read(stream, buffer_, parser, handler); }, deadline);
    if (ec) return Failure("reading the answer", ec);
    return parser.release();
  }

  absl::Status Failure(std::string_view step, const beast::error_code& ec) const {
    const bool timeout = ec == beast::error::timeout || ec == asio::error::timed_out;
    return absl::UnavailableError(absl::StrCat(std::string(step), " ", endpoint_.Authority(), ": ",
                                               timeout ? "timed out" : ec.message()));
  }

  void CloseSockets() {
    beast::error_code ignored;
    if (plain_ != nullptr) plain_->socket().close(ignored);
    if (tls_ != nullptr) beast::get_lowest_layer(*tls_).socket().close(ignored);
  }

  void Close() {
    CloseSockets();
    plain_.reset();
    tls_.reset();
    buffer_.clear();
  }

  static SendResult Classify(const bhttp::response<bhttp::string_body>& response) {
    const int status = static_cast<int>(response.result_int());
    SendResult result;
    if (status >= 200 && status < 300) {
      ExportTraceServiceResponse parsed;
      if (!response.body().empty() && parsed.ParseFromString(response.body())) {
        result.rejected_spans = parsed.partial_success().rejected_spans();
        result.message = parsed.partial_success().error_message();
      }
      return result;
    }
    result.message = absl::StrCat("HTTP ", status, " ", std::string(response.reason()), ": ",
                                  Quote(response.body()));
    if (IsRetryableHttpStatus(status)) {
      result.kind = SendResult::Kind::kRetryable;
      const auto retry_after = response.find(bhttp::field::retry_after);
      if (retry_after != response.end()) {
        result.retry_after_ns = RetryAfterNs(
            std::string_view(retry_after->value().data(), retry_after->value().size()));
      }
      return result;
    }
    result.kind = SendResult::Kind::kPermanent;
    return result;
  }

  const OtlpEndpoint endpoint_;
  const std::string port_;
  const std::vector<std::pair<std::string, std::string>> headers_;
  const bool gzip_;
  const bool verify_;
  const std::shared_ptr<ssl::context> tls_context_;  // null: plain text

  asio::io_context io_;
  beast::flat_buffer buffer_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OtlpSender>> MakeHttpSender(const OtlpExporterOptions& options,
                                                           const OtlpEndpoint& endpoint) {
  std::shared_ptr<ssl::context> tls;
  if (!UsesPlainText(options.tls, endpoint)) {
    absl::StatusOr<std::shared_ptr<ssl::context>> context = ClientTlsContext(options.tls);
    if (!context.ok()) return context.status();
    tls = *std::move(context);
  }
  return std::make_unique<HttpSender>(options, endpoint, std::move(tls));
}

}  // namespace tailtrace::exporter::internal
