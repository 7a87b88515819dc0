// OTLP/gRPC receiver: TraceService/Export on the gRPC callback API.
//
// The handler runs on gRPC's own threads and never blocks: it scans and validates the request
// bytes, hands the valid spans to the SpanSink (non-blocking) and finishes the call when the sink
// answers: at once on a single node, after the owners took them in a cluster. The
// callback API needs no thread per call and no completion-queue polling threads of our own,
// which keeps the overhead low on a small (2-core) machine.
//
// Connections are accepted by our own TcpListener and handed to gRPC through its external
// connection acceptor: gRPC 1.51's listener stops accepting for good after accept4() fails once,
// e.g. with EMFILE while the process is out of file descriptors (see common/tcp_listener.h).

#include <grpc/byte_buffer.h>
#include <grpc/compression.h>
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
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "collector/grpc_byte_buffer_peer.h"
#include "collector/gzip.h"
#include "collector/lz4_frame.h"
#include "collector/receivers.h"
#include "common/grpc_auth.h"
#include "common/tcp_listener.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/rpc/status.pb.h"
#include "grpc_security_internal.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "span_limiter.h"
#include "spdlog/spdlog.h"

// Declared in gRPC's src/core/lib/surface/call_test_only.h (not installed), exported by libgrpc:
// the flags of the last message received on `call`. The only way to learn that a message's
// compressed flag was set when its grpc-encoding is one gRPC does not know (gRPC drops such a
// header value while parsing and then reports the message as uncompressed).
uint32_t grpc_call_test_only_get_message_flags(grpc_call* call);

namespace {
// gRPC core's GRPC_WRITE_INTERNAL_COMPRESS (src/core/lib/transport/transport.h): the message's
// compressed flag.
constexpr uint32_t kGrpcMessageCompressedFlag = 0x80000000u;
}  // namespace

namespace tailtrace::collector {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::opentelemetry::proto::collector::trace::v1::TraceService;

// Retry delay suggested to clients (google.rpc.RetryInfo) when the pipeline is full or stopping.
constexpr int64_t kRetryDelayMs = 1000;
// How long the destructor lets calls in flight finish when Shutdown was not called before.
constexpr int64_t kDestructorShutdownDeadlineMs = 1000;

constexpr char kSupportedEncodings[] = "identity, gzip";

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
      // The message names the cause: the pipeline is full, the store or the write-ahead log
      // cannot write, the memory limit.
      return RetryableUnavailable(absl::StrCat(status.message(), retry));
    case absl::StatusCode::kFailedPrecondition:
      return RetryableUnavailable(
          absl::StrCat("collector is shutting down: ", status.message(), retry));
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("trace pipeline failed: ", status.ToString()));
  }
}

// Export is registered as a raw callback method: the handler gets the request bytes as they came
// (gRPC's per-message decompression is off) and inflates gzip itself, stopping at
// max_recv_msg_size (gRPC 1.51 would inflate the whole message first and check its size after).
// The bytes They are scanned, not parsed (proto/otlp_wire.h): the spans travel to the
// sampler shards as byte ranges of one copy of the request. A malformed request is answered
// INVALID_ARGUMENT naming what is wrong (the typed callback handler of gRPC 1.51 answers
// UNIMPLEMENTED with an empty message).
class TraceServiceImpl final
    : public TraceService::WithRawCallbackMethod_Export<TraceService::Service> {
 public:
  TraceServiceImpl(SpanSink* sink, MetricsRegistry* metrics, const GrpcReceiverOptions& options)
      : sink_(sink),
        metrics_(metrics),
        max_message_bytes_(options.max_recv_msg_size_bytes),
        limiter_(options.span_limits, metrics, "grpc") {
    const Labels transport = {{"transport", "grpc"}};
    accepted_spans_ = metrics->GetCounter(
        "otelcol_receiver_accepted_spans",
        "Spans successfully pushed into the pipeline by the receiver.", transport);
    refused_spans_ = metrics->GetCounter(
        "otelcol_receiver_refused_spans",
        "Spans the receiver could not push into the pipeline (invalid or refused).", transport);
    inflated_bytes_ = metrics->GetCounter(
        "tailtrace_grpc_inflated_bytes_total",
        "Bytes produced by inflating gzip-compressed OTLP/gRPC messages, and decoding the "
        "LZ4-framed ones members of a cluster forward (stops at max_recv_msg_size per message).");
    duration_ = metrics->GetHistogram("tailtrace_grpc_request_duration_seconds",
                                      "Time spent handling one OTLP/gRPC Export call.",
                                      MetricsRegistry::LatencyBuckets());
    // The codes the handler produces are registered up front so that they render as 0.
    for (grpc::StatusCode code :
         {grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::UNAVAILABLE,
          grpc::StatusCode::INTERNAL, grpc::StatusCode::RESOURCE_EXHAUSTED,
          grpc::StatusCode::UNIMPLEMENTED, grpc::StatusCode::UNAUTHENTICATED}) {
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
    if (grpc::Status auth = security::CheckGrpcBearerToken(tokens_.get(), *context); !auth.ok()) {
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
    Handle(context, *request,
           [this, reactor, response, start](grpc::Status status,
                                            const ExportTraceServiceResponse& message) {
             if (status.ok()) {
               bool own_buffer = false;
               status = grpc::SerializationTraits<ExportTraceServiceResponse>::Serialize(
                   message, response, &own_buffer);
             }
             RequestCounter(status.error_code())->Increment();
             duration_->Observe(
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
             reactor->Finish(std::move(status));
           });
    return reactor;
  }

 private:
  // The request message's bytes, inflated when it came compressed. UNIMPLEMENTED for an encoding
  // other than identity and gzip, RESOURCE_EXHAUSTED when it inflates past max_recv_msg_size.
  grpc::Status ReadMessage(grpc::CallbackServerContext* context,
                           const grpc::ByteBuffer& request_bytes, std::string* bytes) {
    if (request_bytes.Length() > max_message_bytes_) {
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("request message of ", request_bytes.Length(),
                       " bytes exceeds max_recv_msg_size of ", max_message_bytes_, " bytes"));
    }
    const grpc_compression_algorithm compression =
        grpc::internal::GrpcByteBufferPeer(&request_bytes).compression();
    if (compression != GRPC_COMPRESS_NONE && compression != GRPC_COMPRESS_GZIP) {
      const char* name = "unknown";
      grpc_compression_algorithm_name(compression, &name);
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          absl::StrCat("grpc-encoding '", name, "' is not supported; use one of ",
                                       kSupportedEncodings));
    }
    if (compression == GRPC_COMPRESS_NONE &&
        (grpc_call_test_only_get_message_flags(context->c_call()) & kGrpcMessageCompressedFlag) !=
            0) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          absl::StrCat("the request message is flagged compressed but its "
                                       "grpc-encoding is missing or not supported; use one of ",
                                       kSupportedEncodings));
    }
    std::vector<grpc::Slice> slices;
    if (!request_bytes.Dump(&slices).ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read the request message");
    }
    bytes->clear();
    bytes->reserve(request_bytes.Length());
    for (const grpc::Slice& slice : slices) {
      bytes->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    slices.clear();
    if (compression == GRPC_COMPRESS_GZIP) {
      if (grpc::Status inflated = Inflate(bytes); !inflated.ok()) return inflated;
    }
    return DecodePeerEncoding(*context, bytes);
  }

  // Inflates the gzip-compressed message `*bytes` in place.
  grpc::Status Inflate(std::string* bytes) {
    absl::StatusOr<std::string> inflated = Gunzip(*bytes, max_message_bytes_);
    if (!inflated.ok()) {
      if (absl::IsResourceExhausted(inflated.status())) {
        inflated_bytes_->Increment(max_message_bytes_);
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("gzip-compressed request message inflates past "
                                         "max_recv_msg_size of ",
                                         max_message_bytes_, " bytes"));
      }
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("grpc-encoding gzip: ", inflated.status().message()));
    }
    inflated_bytes_->Increment(inflated->size());
    *bytes = *std::move(inflated);
    return grpc::Status::OK;
  }

  // Decodes, in place, a message that a member of the cluster sent LZ4-framed
  // (kPeerEncodingMetadata); other messages are left as they are.
  grpc::Status DecodePeerEncoding(const grpc::CallbackServerContext& context, std::string* bytes) {
    const auto& metadata = context.client_metadata();
    const auto encoding = metadata.find(kPeerEncodingMetadata);
    if (encoding == metadata.end()) return grpc::Status::OK;
    const std::string_view value(encoding->second.data(), encoding->second.size());
    if (value != kPeerEncodingLz4 || metadata.count(kPeerCallMetadata) == 0) {
      return grpc::Status(
          grpc::StatusCode::UNIMPLEMENTED,
          absl::StrCat(kPeerEncodingMetadata, " '", std::string(value.substr(0, 64)),
                       "' is not supported; only members of a cluster send '", kPeerEncodingLz4,
                       "', with ", kPeerCallMetadata));
    }
    absl::StatusOr<std::string> decoded = Lz4FrameDecompress(*bytes, max_message_bytes_);
    if (!decoded.ok()) {
      if (absl::IsResourceExhausted(decoded.status())) {
        inflated_bytes_->Increment(max_message_bytes_);
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("LZ4-framed request message decodes past "
                                         "max_recv_msg_size of ",
                                         max_message_bytes_, " bytes"));
      }
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat(kPeerEncodingMetadata, " lz4: ", decoded.status().message()));
    }
    inflated_bytes_->Increment(decoded->size());
    *bytes = *std::move(decoded);
    return grpc::Status::OK;
  }

  // Called once with the call's status and, when OK, its response message.
  using Answer = absl::AnyInvocable<void(grpc::Status, const ExportTraceServiceResponse&) &&>;

  // Reads and scans the request and hands its valid spans to the sink; answers when the sink
  // has answered (at once but in a cluster, where the spans' owners must take them first).
  void Handle(grpc::CallbackServerContext* context, const grpc::ByteBuffer& request_bytes,
              Answer answer) {
    // The request stays bytes: the scan validates it and finds the spans without parsing them
    // into objects (see proto/otlp_wire.h).
    std::string bytes;
    if (grpc::Status read = ReadMessage(context, request_bytes, &bytes); !read.ok()) {
      return std::move(answer)(std::move(read), ExportTraceServiceResponse());
    }
    WireRequest request;
    if (absl::Status scanned = limiter_.Scan(std::move(bytes), &request); !scanned.ok()) {
      return std::move(answer)(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("request body is not a valid ExportTraceServiceRequest "
                                    "protobuf: ",
                                    scanned.message())),
          ExportTraceServiceResponse());
    }
    const auto accepted = static_cast<int64_t>(request.spans.size());
    const int64_t rejected = request.rejected_spans;
    // Moved out first: the sink takes the request.
    std::string rejection = std::move(request.error_message);
    auto done = [this, accepted, rejected, rejection = std::move(rejection),
                 answer = std::move(answer)](absl::Status consumed) mutable {
      ExportTraceServiceResponse response;
      if (!consumed.ok()) {
        refused_spans_->Increment(accepted + rejected);
        return std::move(answer)(SinkStatusToGrpc(consumed), response);
      }
      accepted_spans_->Increment(accepted);
      if (rejected > 0) {
        refused_spans_->Increment(rejected);
        // OTLP: rejected spans are a partial success, not an error, so the client does not
        // retry.
        auto* partial = response.mutable_partial_success();
        partial->set_rejected_spans(rejected);
        partial->set_error_message(std::move(rejection));
      }
      std::move(answer)(grpc::Status::OK, response);
    };
    if (accepted == 0) return done(absl::OkStatus());
    const ConsumeContext origin{.from_peer = HasMetadata(*context, kPeerCallMetadata),
                                .handover = HasMetadata(*context, kHandoverMetadata)};
    sink_->ConsumeAsync(std::move(request), origin, std::move(done));
  }

  static bool HasMetadata(const grpc::CallbackServerContext& context, const char* key) {
    return context.client_metadata().count(key) > 0;
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
  const uint64_t max_message_bytes_;
  const SpanLimiter limiter_;
  Counter* inflated_bytes_ = nullptr;
  // Null without auth.bearer_token_file. Set before the server starts.
  std::unique_ptr<security::BearerTokens> tokens_;
  Counter* accepted_spans_ = nullptr;
  Counter* refused_spans_ = nullptr;
  Histogram* duration_ = nullptr;
  std::array<std::atomic<Counter*>, kNumStatusCodes> request_counters_{};
};

// Milliseconds for a gRPC channel argument (an int); 0 (no limit) becomes INT_MAX.
int ChannelArgMs(int64_t ns) {
  const int64_t ms = ns / 1'000'000;
  return ns <= 0 || ms >= INT_MAX ? INT_MAX : static_cast<int>(std::max<int64_t>(ms, 1));
}

absl::Status ValidateConnectionOptions(const GrpcConnectionOptions& options) {
  if (options.max_concurrent_streams == 0 || options.max_concurrent_streams > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("grpc receiver max_concurrent_streams must be in 1..", INT_MAX, ", got ",
                     options.max_concurrent_streams));
  }
  if (options.keepalive_time_ns <= 0 || options.keepalive_timeout_ns <= 0) {
    return absl::InvalidArgumentError("grpc receiver keepalive time and timeout must be positive");
  }
  if (options.max_memory_bytes < (1u << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpc receiver max_memory must be at least 1 MiB, got ", options.max_memory_bytes));
  }
  return absl::OkStatus();
}

// Connection hygiene (GrpcConnectionOptions) and our own decompression, as channel arguments.
void ApplyConnectionOptions(const GrpcConnectionOptions& options, grpc::ServerBuilder* builder) {
  // Messages reach the handler as sent; it inflates them within max_recv_msg_size. Only identity
  // and gzip are advertised (grpc-accept-encoding); gRPC itself answers UNIMPLEMENTED for a
  // message in another encoding it knows (deflate).
  builder->AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
  builder->AddChannelArgument(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
                              (1 << GRPC_COMPRESS_NONE) | (1 << GRPC_COMPRESS_GZIP));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                              static_cast<int>(options.max_concurrent_streams));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                              ChannelArgMs(options.max_connection_idle_ns));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                              ChannelArgMs(options.max_connection_age_ns));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                              ChannelArgMs(options.max_connection_age_grace_ns));
  // SDK exporters keep one connection open and may ping it while idle between batches; a client
  // pinging more often than min_time gets gRPC's ping strikes and then GOAWAY.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              ChannelArgMs(options.min_ping_interval_ns));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                              options.permit_ping_without_stream ? 1 : 0);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ChannelArgMs(options.keepalive_time_ns));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                              ChannelArgMs(options.keepalive_timeout_ns));
  grpc::ResourceQuota quota("tailtrace-otlp-grpc");
  quota.Resize(static_cast<size_t>(options.max_memory_bytes));
  builder->SetResourceQuota(quota);
}

class GrpcReceiverImpl final : public GrpcReceiver {
 public:
  GrpcReceiverImpl(std::unique_ptr<TraceServiceImpl> service,
                   std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor,
                   std::unique_ptr<grpc::Server> server, std::unique_ptr<TcpListener> listener)
      : service_(std::move(service)),
        acceptor_(std::move(acceptor)),
        server_(std::move(server)),
        listener_(std::move(listener)) {}

  ~GrpcReceiverImpl() override { Shutdown(kDestructorShutdownDeadlineMs); }

  int port() const override { return listener_->port(); }

  absl::Status StartAccepting() { return listener_->Start(); }

  void Shutdown(int64_t deadline_ms) override {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    // No new connections first (gRPC does not take one handed to it once it is shutting down),
    // then no new calls: calls in flight finish until the deadline, the rest are cancelled, and
    // Wait() returns once every handler has finished.
    listener_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(std::max<int64_t>(0, deadline_ms)));
    server_->Wait();
  }

 private:
  // Declared in this order so that each outlives what uses it: the service and the acceptor the
  // server, the acceptor the listener's thread.
  std::unique_ptr<TraceServiceImpl> service_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<TcpListener> listener_;
  std::mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcReceiver>> GrpcReceiver::Create(
    const GrpcReceiverOptions& options, SpanSink* sink, MetricsRegistry* metrics,
    const std::vector<grpc::Service*>& extra_services) {
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

  if (absl::Status valid = ValidateConnectionOptions(options.connection); !valid.ok()) {
    return valid;
  }

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      internal::MakeGrpcServerCredentials(options.security.tls);
  if (!credentials.ok()) return credentials.status();
  auto service = std::make_unique<TraceServiceImpl>(sink, metrics, options);
  if (options.security.auth.enabled()) {
    auto tokens = security::BearerTokens::Create(options.security.auth.bearer_token_file);
    if (!tokens.ok()) return tokens.status();
    service->SetBearerTokens(*std::move(tokens));
  }
  grpc::ServerBuilder builder;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, *credentials);
  // Bound before gRPC starts, so that a busy port is an error here; accepting starts once the
  // server runs (gRPC does not take a connection handed to it before).
  absl::StatusOr<std::unique_ptr<TcpListener>> listener = TcpListener::Create(
      TcpListenerOptions{.endpoint = options.endpoint, .name = "otlp_grpc", .metrics = metrics},
      [acceptor = acceptor.get()](int listener_fd, int fd) {
        grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters params;
        params.listener_fd = listener_fd;
        params.fd = fd;
        acceptor->HandleNewConnection(&params);
      });
  if (!listener.ok()) return listener.status();
  builder.RegisterService(service.get());
  for (grpc::Service* extra : extra_services) builder.RegisterService(extra);
  // gRPC answers RESOURCE_EXHAUSTED for a larger message (as received, i.e. compressed) before
  // our handler runs; the handler enforces the limit on the inflated size.
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_recv_msg_size_bytes));
  ApplyConnectionOptions(options.connection, &builder);

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::InternalError(absl::StrCat("grpc receiver: the gRPC server for endpoint '",
                                            options.endpoint, "' did not start"));
  }
  const int port = (*listener)->port();
  auto receiver = std::make_unique<GrpcReceiverImpl>(std::move(service), std::move(acceptor),
                                                     std::move(server), *std::move(listener));
  if (absl::Status started = receiver->StartAccepting(); !started.ok()) return started;
  spdlog::info("otlp_grpc: listening on port {}", port);
  return receiver;
}

}  // namespace tailtrace::collector
