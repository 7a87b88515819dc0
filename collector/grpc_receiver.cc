// OTLP/gRPC receiver: TraceService/Export on the gRPC callback API.
//
// The handler runs on gRPC's own threads and never blocks: it scans and validates the request
// bytes, hands the valid spans to the SpanSink (non-blocking) and finishes the call at once. The
// callback API needs no thread per call and no completion-queue polling threads of our own,
// which keeps the overhead low on a small (2-core) machine.

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "collector/grpc_security_internal.h"
#include "collector/receivers.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace tailtrace::collector {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::opentelemetry::proto::collector::trace::v1::TraceService;

// Retry delay suggested to clients (google.rpc.RetryInfo) when the pipeline is full or stopping.
constexpr int64_t kRetryDelayMs = 1000;
// How long the destructor lets calls in flight finish when Shutdown was not called before.
constexpr int64_t kDestructorShutdownDeadlineMs = 1000;

// Keepalive: SDK exporters keep one connection open and may ping it while idle between batches.
// Accept client pings as often as every 5 s (half of grpc-go's smallest client keepalive time, so
// timer jitter never counts as a ping strike), with or without calls in flight; a client pinging
// faster still gets the default strikes and then GOAWAY. The server pings an idle connection every
// 2 min to notice dead peers.
constexpr int kMinClientPingIntervalMs = 5'000;
constexpr int kServerKeepaliveTimeMs = 120'000;
constexpr int kServerKeepaliveTimeoutMs = 20'000;

constexpr int kNumStatusCodes = grpc::StatusCode::UNAUTHENTICATED + 1;

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

// Serialized google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }, written by hand
// because error_details.proto is not part of our proto set.
std::string RetryInfoBytes(int64_t delay_ms) {
  google::protobuf::Duration delay;
  delay.set_seconds(delay_ms / 1000);
  delay.set_nanos(static_cast<int32_t>((delay_ms % 1000) * 1'000'000));
  const std::string delay_bytes = delay.SerializeAsString();
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.WriteTag((1 << 3) | 2);  // field 1, length-delimited
    coded.WriteVarint32(static_cast<uint32_t>(delay_bytes.size()));
    coded.WriteString(delay_bytes);
  }
  return out;
}

// A retryable UNAVAILABLE status carrying google.rpc.RetryInfo in its details, as the OTLP
// specification allows, so SDK exporters back off by the suggested delay.
grpc::Status RetryableUnavailable(const std::string& message) {
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::UNAVAILABLE);
  details.set_message(message);
  auto* any = details.add_details();
  any->set_type_url("type.googleapis.com/google.rpc.RetryInfo");
  any->set_value(RetryInfoBytes(kRetryDelayMs));
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, message, details.SerializeAsString());
}

grpc::Status SinkStatusToGrpc(const absl::Status& status) {
  const std::string retry = absl::StrCat("; retry after ", kRetryDelayMs, " ms");
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return RetryableUnavailable(
          absl::StrCat("trace pipeline is full: ", status.message(), retry));
    case absl::StatusCode::kFailedPrecondition:
      return RetryableUnavailable(
          absl::StrCat("collector is shutting down: ", status.message(), retry));
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("trace pipeline failed: ", status.ToString()));
  }
}

// Export is registered as a raw callback method: the handler gets the (already decompressed)
// request bytes. They are scanned, not parsed (proto/otlp_wire.h): the spans travel to the
// sampler shards as byte ranges of one copy of the request. A malformed request is answered
// INVALID_ARGUMENT naming what is wrong (the typed callback handler of gRPC 1.51 answers
// UNIMPLEMENTED with an empty message).
class TraceServiceImpl final
    : public TraceService::WithRawCallbackMethod_Export<TraceService::Service> {
 public:
  TraceServiceImpl(SpanSink* sink, MetricsRegistry* metrics) : sink_(sink), metrics_(metrics) {
    const Labels transport = {{"transport", "grpc"}};
    accepted_spans_ = metrics->GetCounter(
        "otelcol_receiver_accepted_spans",
        "Spans successfully pushed into the pipeline by the receiver.", transport);
    refused_spans_ = metrics->GetCounter(
        "otelcol_receiver_refused_spans",
        "Spans the receiver could not push into the pipeline (invalid or refused).", transport);
    duration_ = metrics->GetHistogram("tailtrace_grpc_request_duration_seconds",
                                      "Time spent handling one OTLP/gRPC Export call.",
                                      MetricsRegistry::LatencyBuckets());
    // The codes the handler produces are registered up front so that they render as 0.
    for (grpc::StatusCode code :
         {grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::UNAVAILABLE,
          grpc::StatusCode::INTERNAL, grpc::StatusCode::UNAUTHENTICATED}) {
      RequestCounter(code);
    }
  }

  // Calls without one of these tokens get UNAUTHENTICATED. Called before the server starts.
  void SetBearerTokens(std::unique_ptr<security::BearerTokens> tokens) {
    tokens_ = std::move(tokens);
  }

  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    const auto start = std::chrono::steady_clock::now();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status auth = internal::CheckBearerToken(tokens_.get(), *context); !auth.ok()) {
      RequestCounter(auth.error_code())->Increment();
      reactor->Finish(std::move(auth));
      return reactor;
    }
    if (!request->Valid()) {
      // No message: gRPC already failed the call (e.g. RESOURCE_EXHAUSTED for an oversize
      // message) and sent its status; this Finish only releases the call.
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "no request message"));
      return reactor;
    }
    ExportTraceServiceResponse response_message;
    grpc::Status status = Handle(*request, &response_message);
    if (status.ok()) {
      bool own_buffer = false;
      status = grpc::SerializationTraits<ExportTraceServiceResponse>::Serialize(
          response_message, response, &own_buffer);
    }
    RequestCounter(status.error_code())->Increment();
    duration_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reactor->Finish(std::move(status));
    return reactor;
  }

 private:
  grpc::Status Handle(const grpc::ByteBuffer& request_bytes, ExportTraceServiceResponse* response) {
    // The request stays bytes: the scan validates it and finds the spans without parsing them
    // into objects (see proto/otlp_wire.h).
    std::vector<grpc::Slice> slices;
    if (!request_bytes.Dump(&slices).ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request message");
    }
    std::string bytes;
    bytes.reserve(request_bytes.Length());
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    WireRequest request;
    if (absl::Status scanned = ScanExportRequest(std::move(bytes), &request); !scanned.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("request body is not a valid ExportTraceServiceRequest "
                                       "protobuf: ",
                                       scanned.message()));
    }

    const auto accepted = static_cast<int64_t>(request.spans.size());
    const int64_t rejected = request.rejected_spans;
    // Moved out first: the sink takes the request.
    std::string rejection = std::move(request.error_message);
    if (accepted > 0) {
      absl::Status consumed = sink_->Consume(std::move(request));
      if (!consumed.ok()) {
        refused_spans_->Increment(accepted + rejected);
        return SinkStatusToGrpc(consumed);
      }
      accepted_spans_->Increment(accepted);
    }
    if (rejected > 0) {
      refused_spans_->Increment(rejected);
      // OTLP: rejected spans are a partial success, not an error, so the client does not retry.
      auto* partial = response->mutable_partial_success();
      partial->set_rejected_spans(rejected);
      partial->set_error_message(std::move(rejection));
    }
    return grpc::Status::OK;
  }

  Counter* RequestCounter(grpc::StatusCode code) {
    const int index = (code >= 0 && code < kNumStatusCodes) ? code : grpc::StatusCode::UNKNOWN;
    Counter* counter = request_counters_[index].load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Racing first uses get the same Counter from the registry.
      counter = metrics_->GetCounter(
          "tailtrace_grpc_requests_total", "OTLP/gRPC Export calls by gRPC status code.",
          {{"code", StatusCodeName(static_cast<grpc::StatusCode>(index))}});
      request_counters_[index].store(counter, std::memory_order_release);
    }
    return counter;
  }

  SpanSink* const sink_;
  MetricsRegistry* const metrics_;
  // Null without auth.bearer_token_file. Set before the server starts.
  std::unique_ptr<security::BearerTokens> tokens_;
  Counter* accepted_spans_ = nullptr;
  Counter* refused_spans_ = nullptr;
  Histogram* duration_ = nullptr;
  std::array<std::atomic<Counter*>, kNumStatusCodes> request_counters_{};
};

class GrpcReceiverImpl final : public GrpcReceiver {
 public:
  GrpcReceiverImpl(std::unique_ptr<TraceServiceImpl> service, std::unique_ptr<grpc::Server> server,
                   int port)
      : service_(std::move(service)), server_(std::move(server)), port_(port) {}

  ~GrpcReceiverImpl() override { Shutdown(kDestructorShutdownDeadlineMs); }

  int port() const override { return port_; }

  void Shutdown(int64_t deadline_ms) override {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    // Stops accepting new calls, lets calls in flight finish until the deadline, then cancels
    // the rest; Wait() returns once every handler has finished.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(std::max<int64_t>(0, deadline_ms)));
    server_->Wait();
  }

 private:
  // Declared before server_ so that it outlives it.
  std::unique_ptr<TraceServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  std::mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcReceiver>> GrpcReceiver::Create(
    const GrpcReceiverOptions& options, SpanSink* sink, MetricsRegistry* metrics) {
  if (sink == nullptr || metrics == nullptr) {
    return absl::InvalidArgumentError("GrpcReceiver::Create: sink and metrics must not be null");
  }
  if (options.endpoint.empty()) {
    return absl::InvalidArgumentError("grpc receiver endpoint must not be empty");
  }
  if (options.max_recv_msg_size_bytes == 0 || options.max_recv_msg_size_bytes > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("grpc receiver max_recv_msg_size_bytes must be in 1..", INT_MAX, ", got ",
                     options.max_recv_msg_size_bytes));
  }

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      internal::MakeGrpcServerCredentials(options.security.tls);
  if (!credentials.ok()) return credentials.status();
  auto service = std::make_unique<TraceServiceImpl>(sink, metrics);
  if (options.security.auth.enabled()) {
    auto tokens = security::BearerTokens::Create(options.security.auth.bearer_token_file);
    if (!tokens.ok()) return tokens.status();
    service->SetBearerTokens(*std::move(tokens));
  }
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options.endpoint, *credentials, &selected_port);
  builder.RegisterService(service.get());
  // gRPC answers RESOURCE_EXHAUSTED for a larger message before our handler runs.
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_recv_msg_size_bytes));
  // Without this, Linux gRPC sets SO_REUSEPORT and a second daemon on the same port would start
  // "successfully" and steal half the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kMinClientPingIntervalMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kServerKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kServerKeepaliveTimeoutMs);

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    if (server != nullptr) {
      server->Shutdown();
      server->Wait();
    }
    return absl::UnavailableError(
        absl::StrCat("grpc receiver: cannot listen on endpoint '", options.endpoint,
                     "' (address in use, not permitted, or not a valid host:port)"));
  }
  return std::make_unique<GrpcReceiverImpl>(std::move(service), std::move(server), selected_port);
}

}  // namespace tailtrace::collector
