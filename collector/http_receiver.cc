// OTLP/HTTP receiver: POST /v1/traces with binary protobuf or JSON bodies, optionally gzip'd,
// answered per the OTLP specification ("OTLP/HTTP Response": full success, partial success,
// failures with a google.rpc.Status body in the request's encoding, 503 + Retry-After for a full
// pipeline).

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "collector/gzip.h"
#include "collector/receivers.h"
#include "common/http_server.h"
#include "common/utf8.h"
#include "google/rpc/status.pb.h"
#include "proto/otlp_json.h"
#include "span_limiter.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

constexpr std::string_view kTracesPath = "/v1/traces";
constexpr std::string_view kProtobufType = "application/x-protobuf";
constexpr std::string_view kJsonType = "application/json";

// google.rpc.Code values used in error bodies.
constexpr int kRpcInvalidArgument = 3;
constexpr int kRpcNotFound = 5;
constexpr int kRpcResourceExhausted = 8;
constexpr int kRpcUnimplemented = 12;
constexpr int kRpcInternal = 13;
constexpr int kRpcUnavailable = 14;

enum class Encoding { kProtobuf, kJson };

// The media type of a Content-Type value: lower-cased, parameters ("; charset=utf-8") dropped.
std::string MediaType(std::string_view content_type) {
  const size_t semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  return absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(type.data(), type.size())));
}

class HttpReceiverImpl final : public HttpReceiver {
 public:
  HttpReceiverImpl(const HttpReceiverOptions& options, SpanSink* sink, MetricsRegistry* metrics)
      : options_(options),
        sink_(sink),
        metrics_(metrics),
        limiter_(options.span_limits, metrics, "http") {
    accepted_spans_ = metrics->GetCounter("otelcol_receiver_accepted_spans",
                                          "Number of spans successfully pushed into the pipeline.",
                                          {{"transport", "http"}});
    refused_spans_ = metrics->GetCounter(
        "otelcol_receiver_refused_spans",
        "Number of spans that could not be pushed into the pipeline (invalid or refused by a full "
        "pipeline).",
        {{"transport", "http"}});
    duration_ = metrics->GetHistogram("tailtrace_http_request_duration_seconds",
                                      "Time to handle an OTLP/HTTP request, in seconds.",
                                      MetricsRegistry::LatencyBuckets());
    for (size_t i = 0; i < kCommonCodes.size(); ++i) {
      code_counters_[i] = CodeCounter(kCommonCodes[i]);
    }
  }

  ~HttpReceiverImpl() override { Shutdown(); }

  absl::Status Start() {
    http::HttpServerOptions server_options;
    server_options.endpoint = options_.endpoint;
    server_options.max_body_bytes = options_.max_request_body_bytes;
    server_options.num_threads = options_.num_threads;
    server_options.name = "otlp_http";
    server_options.security = options_.security;
    server_options.max_connections = options_.max_connections;
    server_options.max_inflight_body_bytes = options_.max_request_bytes_in_flight;
    server_options.metrics = metrics_;
    auto server = http::HttpServer::CreateAsync(
        std::move(server_options), [this](const http::Request& req, http::Respond respond) {
          Handle(req, std::move(respond));
        });
    if (!server.ok()) return server.status();
    server_ = std::move(*server);
    return absl::OkStatus();
  }

  int port() const override { return server_ ? server_->port() : 0; }

  void Shutdown() override {
    if (server_) server_->Shutdown();
  }

 private:
  static constexpr std::array<int, 9> kCommonCodes = {200, 400, 404, 405, 413, 415, 500, 503, 431};

  Counter* CodeCounter(int code) {
    return metrics_->GetCounter("tailtrace_http_requests_total",
                                "OTLP/HTTP requests by response status code.",
                                {{"code", std::to_string(code)}});
  }

  // Answers once the sink answered (at once on a single node; in a cluster once the owners of
  // the spans hold them).
  void Handle(const http::Request& req, http::Respond respond) {
    auto finish = [this, start = std::chrono::steady_clock::now(),
                   respond = std::move(respond)](http::Response res) mutable {
      duration_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      Counter* counter = nullptr;
      for (size_t i = 0; i < kCommonCodes.size(); ++i) {
        if (kCommonCodes[i] == res.status) counter = code_counters_[i];
      }
      if (counter == nullptr) counter = CodeCounter(res.status);
      counter->Increment();
      std::move(respond)(std::move(res));
    };
    Encoding encoding = Encoding::kJson;
    WireRequest request;
    if (std::optional<http::Response> refused = Decode(req, &encoding, &request)) {
      return finish(*std::move(refused));
    }
    const auto accepted = static_cast<int64_t>(request.spans.size());
    const int64_t rejected = request.rejected_spans;
    // Moved out first: the sink takes the request.
    std::string rejection = std::move(request.error_message);
    if (accepted == 0) {
      // Nothing left for the pipeline; rejected spans (if any) are reported as partial success.
      refused_spans_->Increment(rejected);
      return finish(SuccessResponse(encoding, rejected, rejection));
    }
    sink_->ConsumeAsync(std::move(request), ConsumeContext{},
                        [this, encoding, accepted, rejected, rejection = std::move(rejection),
                         finish = std::move(finish)](absl::Status consumed) mutable {
                          finish(Consumed(consumed, encoding, accepted, rejected, rejection));
                        });
  }

  // The response once the sink answered `consumed` for `accepted` spans (`rejected` more were
  // invalid, as `rejection` says).
  http::Response Consumed(const absl::Status& consumed, Encoding encoding, int64_t accepted,
                          int64_t rejected, const std::string& rejection) {
    if (consumed.ok()) {
      accepted_spans_->Increment(accepted);
      refused_spans_->Increment(rejected);
      return SuccessResponse(encoding, rejected, rejection);
    }
    refused_spans_->Increment(accepted + rejected);
    if (absl::IsUnavailable(consumed) || absl::IsFailedPrecondition(consumed)) {
      const bool shutting_down = absl::IsFailedPrecondition(consumed);
      // The message names the cause: the pipeline is full, the store cannot write, the memory
      // limit, a cluster peer.
      http::Response res = StatusResponse(
          503, encoding, kRpcUnavailable,
          absl::StrCat(shutting_down ? "the collector is shutting down" : "retry later", ": ",
                       consumed.message()));
      res.headers.emplace_back("Retry-After", "1");
      return res;
    }
    spdlog::error("otlp_http: the pipeline failed to take {} spans: {}", accepted,
                  consumed.ToString());
    return StatusResponse(500, encoding, kRpcInternal,
                          absl::StrCat("internal error: ", consumed.message()));
  }

  static http::Response StatusResponse(int http_status, Encoding encoding, int rpc_code,
                                       const std::string& message) {
    google::rpc::Status status;
    status.set_code(rpc_code);
    status.set_message(SanitizeUtf8(message));  // it may quote request bytes
    http::Response res;
    res.status = http_status;
    if (encoding == Encoding::kProtobuf) {
      res.content_type = std::string(kProtobufType);
      res.body = status.SerializeAsString();
    } else {
      res.content_type = std::string(kJsonType);
      res.body = otlp_json::RpcStatusToJson(status);
    }
    return res;
  }

  // `rejected_spans` with their `error_message` (WireRequest) make a partial success.
  static http::Response SuccessResponse(Encoding encoding, int64_t rejected_spans,
                                        const std::string& error_message) {
    ExportTraceServiceResponse response;
    if (rejected_spans > 0) {
      auto* partial = response.mutable_partial_success();
      partial->set_rejected_spans(rejected_spans);
      partial->set_error_message(error_message);
    }
    http::Response res;
    res.status = 200;
    if (encoding == Encoding::kProtobuf) {
      res.content_type = std::string(kProtobufType);
      res.body = response.SerializeAsString();
    } else {
      res.content_type = std::string(kJsonType);
      res.body = otlp_json::ExportResponseToJson(response);
    }
    return res;
  }

  // Checks and decodes the request into `request`, setting `*encoding_out` to the encoding to
  // answer in; returns the response when the request is refused.
  std::optional<http::Response> Decode(const http::Request& req, Encoding* encoding_out,
                                       WireRequest* request) {
    const std::string media_type = MediaType(req.Header("content-type"));
    const bool known_type = media_type == kProtobufType || media_type == kJsonType;
    // Errors before the encoding is known are answered in the request's encoding when it is one
    // of ours, in JSON otherwise.
    const Encoding encoding = media_type == kProtobufType ? Encoding::kProtobuf : Encoding::kJson;
    *encoding_out = encoding;

    if (req.path != kTracesPath) {
      return StatusResponse(404, encoding, kRpcNotFound,
                            absl::StrCat("unknown path \"", req.path,
                                         "\"; OTLP/HTTP traces are accepted at POST /v1/traces"));
    }
    if (req.method != "POST") {
      http::Response res = StatusResponse(
          405, encoding, kRpcUnimplemented,
          absl::StrCat("method ", req.method, " is not allowed on /v1/traces; use POST"));
      res.headers.emplace_back("Allow", "POST");
      return res;
    }
    if (!known_type) {
      const std::string_view raw_type = req.Header("content-type");
      return StatusResponse(
          415, encoding, kRpcInvalidArgument,
          raw_type.empty()
              ? std::string("missing Content-Type; expected application/x-protobuf or "
                            "application/json")
              : absl::StrCat("unsupported Content-Type \"", std::string(raw_type),
                             "\"; expected application/x-protobuf or application/json"));
    }

    // Content-Encoding.
    const std::string content_encoding =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(absl::string_view(
            req.Header("content-encoding").data(), req.Header("content-encoding").size())));
    std::string decompressed;
    bool is_decompressed = false;
    std::string_view body = req.body;
    if (!content_encoding.empty() && content_encoding != "identity") {
      Compression compression;
      if (content_encoding == "gzip" || content_encoding == "x-gzip") {
        compression = Compression::kGzip;
      } else if (content_encoding == "deflate") {
        compression = Compression::kDeflate;
      } else {
        return StatusResponse(415, encoding, kRpcInvalidArgument,
                              absl::StrCat("unsupported Content-Encoding \"", content_encoding,
                                           "\"; supported: gzip, deflate, identity"));
      }
      absl::StatusOr<std::string> plain =
          Decompress(req.body, compression, options_.max_request_body_bytes);
      if (!plain.ok()) {
        if (absl::IsResourceExhausted(plain.status())) {
          return StatusResponse(413, encoding, kRpcResourceExhausted,
                                absl::StrCat("request body too large: ", plain.status().message()));
        }
        return StatusResponse(400, encoding, kRpcInvalidArgument,
                              absl::StrCat("cannot decompress the request body (Content-Encoding ",
                                           content_encoding, "): ", plain.status().message()));
      }
      decompressed = std::move(*plain);
      is_decompressed = true;
      body = decompressed;
    }
    if (body.size() > options_.max_request_body_bytes) {
      return StatusResponse(
          413, encoding, kRpcResourceExhausted,
          absl::StrCat("request body of ", body.size(), " bytes exceeds the limit of ",
                       options_.max_request_body_bytes, " bytes"));
    }

    // Both encodings end as protobuf bytes that are scanned, not parsed (proto/otlp_wire.h).
    std::string bytes;
    if (encoding == Encoding::kProtobuf) {
      bytes = is_decompressed ? std::move(decompressed) : std::string(body);
    } else {
      ExportTraceServiceRequest parsed;
      absl::Status status = otlp_json::ParseExportRequest(body, &parsed);
      if (!status.ok()) {
        return StatusResponse(
            400, encoding, kRpcInvalidArgument,
            absl::StrCat("invalid OTLP/JSON ExportTraceServiceRequest: ", status.message()));
      }
      bytes = parsed.SerializeAsString();
    }
    if (absl::Status scanned = limiter_.Scan(std::move(bytes), request); !scanned.ok()) {
      return StatusResponse(400, encoding, kRpcInvalidArgument,
                            absl::StrCat(encoding == Encoding::kProtobuf
                                             ? "request body is not a valid binary protobuf "
                                               "ExportTraceServiceRequest: "
                                             : "invalid OTLP/JSON ExportTraceServiceRequest: ",
                                         scanned.message()));
    }
    return std::nullopt;
  }

  const HttpReceiverOptions options_;
  SpanSink* const sink_;
  MetricsRegistry* const metrics_;
  const SpanLimiter limiter_;
  Counter* accepted_spans_ = nullptr;
  Counter* refused_spans_ = nullptr;
  Histogram* duration_ = nullptr;
  std::array<Counter*, kCommonCodes.size()> code_counters_{};
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpReceiver>> HttpReceiver::Create(
    const HttpReceiverOptions& options, SpanSink* sink, MetricsRegistry* metrics) {
  if (sink == nullptr) return absl::InvalidArgumentError("HttpReceiver: sink is null");
  if (metrics == nullptr) return absl::InvalidArgumentError("HttpReceiver: metrics is null");
  auto receiver = std::make_unique<HttpReceiverImpl>(options, sink, metrics);
  if (absl::Status status = receiver->Start(); !status.ok()) {
    return absl::Status(status.code(), absl::StrCat("OTLP/HTTP receiver: ", status.message()));
  }
  return std::unique_ptr<HttpReceiver>(std::move(receiver));
}

}  // namespace tailtrace::collector
