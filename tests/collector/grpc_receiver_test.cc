#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "collector/grpc_byte_buffer_peer.h"
#include "collector/gzip.h"
#include "collector/options.h"
#include "collector/receivers.h"
#include "collector/span_sink.h"
#include "common/metrics.h"
#include "gmock/gmock.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::collector {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::opentelemetry::proto::collector::trace::v1::TraceService;
using ::opentelemetry::proto::trace::v1::Span;
using ::testing::HasSubstr;

// Records what it consumes, or refuses with a configured status.
class FakeSink : public SpanSink {
 public:
  absl::Status Consume(WireRequest&& request) override {
    std::lock_guard lock(mu_);
    ++calls_;
    if (!refuse_with_.ok()) return refuse_with_;
    received_.push_back(testing::Unscanned(request));
    return absl::OkStatus();
  }

  void RefuseWith(absl::Status status) {
    std::lock_guard lock(mu_);
    refuse_with_ = std::move(status);
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<ExportTraceServiceRequest> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  // Span IDs of every span received, in order.
  std::vector<std::string> ReceivedSpanIds() {
    std::vector<std::string> ids;
    for (const auto& request : received()) {
      for (const auto& rs : request.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) ids.push_back(span.span_id());
        }
      }
    }
    return ids;
  }

 private:
  std::mutex mu_;
  absl::Status refuse_with_;
  int calls_ = 0;
  std::vector<ExportTraceServiceRequest> received_;
};

std::string TraceId(char fill) { return std::string(16, fill); }
std::string SpanId(char fill) { return std::string(8, fill); }

Span* AddSpan(ExportTraceServiceRequest* request, std::string trace_id, std::string span_id) {
  if (request->resource_spans_size() == 0) {
    auto* rs = request->add_resource_spans();
    auto* attr = rs->mutable_resource()->add_attributes();
    attr->set_key("service.name");
    attr->mutable_value()->set_string_value("checkout");
    rs->add_scope_spans()->mutable_scope()->set_name("test");
  }
  Span* span = request->mutable_resource_spans(0)->mutable_scope_spans(0)->add_spans();
  span->set_trace_id(std::move(trace_id));
  span->set_span_id(std::move(span_id));
  span->set_name("GET /cart");
  span->set_start_time_unix_nano(1'700'000'000'000'000'000);
  span->set_end_time_unix_nano(1'700'000'001'000'000'000);
  return span;
}

class GrpcReceiverTest : public ::testing::Test {
 protected:
  void Start(GrpcReceiverOptions options = {}) {
    options.endpoint = "127.0.0.1:0";
    auto receiver = GrpcReceiver::Create(options, &sink_, &metrics_);
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = *std::move(receiver);
    ASSERT_GT(receiver_->port(), 0);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->port()),
                                       grpc::InsecureChannelCredentials());
    stub_ = TraceService::NewStub(channel);
  }

  grpc::Status Export(const ExportTraceServiceRequest& request,
                      ExportTraceServiceResponse* response, bool gzip = false) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    return stub_->Export(&context, request, response);
  }

  uint64_t CounterValue(const std::string& name, const Labels& labels) {
    return metrics_.GetCounter(name, "", labels)->Value();
  }

  // Sends `body` as the raw request message of TraceService/Export.
  grpc::Status ExportRawBytes(const std::string& body) {
    grpc::GenericStub generic(grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->port()),
                                                  grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Slice slice(body);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                      grpc::StubOptions(), &request, &response,
                      [&done](grpc::Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  }

  FakeSink sink_;
  MetricsRegistry metrics_;
  std::unique_ptr<GrpcReceiver> receiver_;
  std::unique_ptr<TraceService::Stub> stub_;
};

TEST_F(GrpcReceiverTest, ExportsValidSpansToSink) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('a'), SpanId('1'));
  AddSpan(&request, TraceId('a'), SpanId('2'))->set_parent_span_id(SpanId('1'));
  AddSpan(&request, TraceId('b'), SpanId('3'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_partial_success());

  std::vector<ExportTraceServiceRequest> received = sink_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].SerializeAsString(), request.SerializeAsString());
}

TEST_F(GrpcReceiverTest, AcceptsGzipCompressedRequest) {
  Start();
  ExportTraceServiceRequest request;
  Span* span = AddSpan(&request, TraceId('c'), SpanId('1'));
  auto* attr = span->add_attributes();
  attr->set_key("payload");
  attr->mutable_value()->set_string_value(std::string(100'000, 'x'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response, /*gzip=*/true);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<ExportTraceServiceRequest> received = sink_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].SerializeAsString(), request.SerializeAsString());
}

TEST_F(GrpcReceiverTest, RejectsOversizeMessageWithResourceExhausted) {
  GrpcReceiverOptions options;
  options.max_recv_msg_size_bytes = 4096;
  Start(options);
  ExportTraceServiceRequest request;
  Span* span = AddSpan(&request, TraceId('d'), SpanId('1'));
  span->set_name(std::string(8192, 'n'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(sink_.calls(), 0);
  EXPECT_EQ(CounterValue("tailtrace_grpc_requests_total", {{"code", "OK"}}), 0u);

  // A message under the limit still goes through on the same receiver.
  ExportTraceServiceRequest small;
  AddSpan(&small, TraceId('d'), SpanId('2'));
  status = Export(small, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(sink_.calls(), 1);
}

// The limit applies to the decompressed message: a small gzip body that inflates past it is
// refused (gRPC checks the decompressed size against the max receive message size).
TEST_F(GrpcReceiverTest, RejectsGzipMessageThatDecompressesPastLimit) {
  GrpcReceiverOptions options;
  options.max_recv_msg_size_bytes = 64 * 1024;
  Start(options);
  ExportTraceServiceRequest request;
  Span* span = AddSpan(&request, TraceId('e'), SpanId('1'));
  span->set_name(std::string(1 << 20, 'z'));  // ~1 MiB, gzips to a few KiB

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response, /*gzip=*/true);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(GrpcReceiverTest, InvalidSpansArePartialSuccessAndValidOnesReachSink) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('f'), SpanId('1'));
  AddSpan(&request, std::string(15, 'f'), SpanId('2'));   // trace id too short
  AddSpan(&request, std::string(16, '\0'), SpanId('3'));  // all-zero trace id
  AddSpan(&request, TraceId('f'), std::string(7, '4'));   // 7-byte span id
  AddSpan(&request, TraceId('f'), SpanId('5'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 3);
  const std::string& message = response.partial_success().error_message();
  EXPECT_THAT(message, HasSubstr("trace_id must be 16 bytes, got 15"));
  EXPECT_THAT(message, HasSubstr("trace_id is all zero"));
  EXPECT_THAT(message, HasSubstr("span_id must be 8 bytes, got 7"));

  EXPECT_EQ(sink_.ReceivedSpanIds(), (std::vector<std::string>{SpanId('1'), SpanId('5')}));
}

TEST_F(GrpcReceiverTest, AllSpansInvalidIsStillOkWithPartialSuccess) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, std::string(16, '\0'), SpanId('1'));
  AddSpan(&request, TraceId('g'), "");

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_FALSE(response.partial_success().error_message().empty());
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(GrpcReceiverTest, MalformedProtobufIsInvalidArgument) {
  Start();
  grpc::Status status = ExportRawBytes("\xff\xff\xff\xff\x0f not a protobuf");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("ExportTraceServiceRequest"));
  EXPECT_EQ(sink_.calls(), 0);
  EXPECT_EQ(CounterValue("tailtrace_grpc_requests_total", {{"code", "INVALID_ARGUMENT"}}), 1u);
}

TEST_F(GrpcReceiverTest, InvalidUtf8IsInvalidArgumentNamingWhereAndNothingIsKept) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('a'), SpanId('1'));
  // Protobuf would refuse these bytes (a proto3 string must be UTF-8), so the scan does too,
  // and the valid first span is not kept either.
  AddSpan(&request, TraceId('a'), SpanId('2'))->set_name("bad \xff name");
  grpc::Status status = ExportRawBytes(request.SerializeAsString());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("resource_spans[0].scope_spans[0].spans[1]"));
  EXPECT_THAT(status.error_message(), HasSubstr("UTF-8"));
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(GrpcReceiverTest, EmptyRequestIsOkAndNotPassedOn) {
  Start();
  ExportTraceServiceResponse response;
  grpc::Status status = Export(ExportTraceServiceRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_partial_success());
  EXPECT_EQ(sink_.calls(), 0);
}

// Decodes the retry delay from the google.rpc.Status details of `status`, or -1.
int64_t RetryDelayMs(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return -1;
  for (const auto& any : details.details()) {
    if (any.type_url() != "type.googleapis.com/google.rpc.RetryInfo") continue;
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(any.value().data()),
                                              static_cast<int>(any.value().size()));
    uint32_t length = 0;
    if (in.ReadTag() != ((1 << 3) | 2) || !in.ReadVarint32(&length)) return -1;
    std::string bytes;
    if (!in.ReadString(&bytes, static_cast<int>(length))) return -1;
    google::protobuf::Duration delay;
    if (!delay.ParseFromString(bytes)) return -1;
    return delay.seconds() * 1000 + delay.nanos() / 1'000'000;
  }
  return -1;
}

TEST_F(GrpcReceiverTest, FullPipelineIsUnavailableWithRetryInfo) {
  Start();
  sink_.RefuseWith(absl::UnavailableError("shard 3 queue is full"));
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('h'), SpanId('1'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shard 3 queue is full"));
  EXPECT_THAT(status.error_message(), HasSubstr("retry"));
  EXPECT_EQ(RetryDelayMs(status), 1000);
  EXPECT_EQ(sink_.calls(), 1);
  EXPECT_TRUE(sink_.received().empty());

  // Another cause is named as it is, not as a full pipeline.
  sink_.RefuseWith(absl::UnavailableError("trace store cannot write: Too many open files"));
  status = Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(),
            "trace store cannot write: Too many open files; retry after 1000 ms");
  EXPECT_EQ(RetryDelayMs(status), 1000);
}

TEST_F(GrpcReceiverTest, ShuttingDownPipelineIsUnavailable) {
  Start();
  sink_.RefuseWith(absl::FailedPreconditionError("pipeline stopped"));
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('i'), SpanId('1'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_GT(RetryDelayMs(status), 0);
}

TEST_F(GrpcReceiverTest, OtherSinkErrorIsInternal) {
  Start();
  sink_.RefuseWith(absl::DataLossError("disk on fire"));
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('j'), SpanId('1'));

  ExportTraceServiceResponse response;
  grpc::Status status = Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("disk on fire"));
}

TEST_F(GrpcReceiverTest, CountsMetrics) {
  Start();
  const Labels grpc_transport = {{"transport", "grpc"}};
  ExportTraceServiceResponse response;

  ExportTraceServiceRequest good;
  AddSpan(&good, TraceId('k'), SpanId('1'));
  AddSpan(&good, TraceId('k'), SpanId('2'));
  ASSERT_TRUE(Export(good, &response).ok());

  ExportTraceServiceRequest mixed;
  AddSpan(&mixed, TraceId('k'), SpanId('3'));
  AddSpan(&mixed, TraceId('k'), std::string(7, '4'));
  ASSERT_TRUE(Export(mixed, &response).ok());

  sink_.RefuseWith(absl::UnavailableError("full"));
  ExportTraceServiceRequest refused;
  AddSpan(&refused, TraceId('k'), SpanId('5'));
  AddSpan(&refused, TraceId('k'), SpanId('6'));
  ASSERT_EQ(Export(refused, &response).error_code(), grpc::StatusCode::UNAVAILABLE);

  EXPECT_EQ(CounterValue("otelcol_receiver_accepted_spans", grpc_transport), 3u);
  EXPECT_EQ(CounterValue("otelcol_receiver_refused_spans", grpc_transport), 3u);
  EXPECT_EQ(CounterValue("tailtrace_grpc_requests_total", {{"code", "OK"}}), 2u);
  EXPECT_EQ(CounterValue("tailtrace_grpc_requests_total", {{"code", "UNAVAILABLE"}}), 1u);
  Histogram* duration = metrics_.GetHistogram("tailtrace_grpc_request_duration_seconds", "",
                                              MetricsRegistry::LatencyBuckets());
  EXPECT_EQ(duration->Snap().count, 3u);

  const std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("otelcol_receiver_accepted_spans{transport=\"grpc\"} 3"));
  EXPECT_THAT(text, HasSubstr("tailtrace_grpc_requests_total{code=\"OK\"} 2"));
  EXPECT_THAT(text, HasSubstr("tailtrace_grpc_requests_total{code=\"INTERNAL\"} 0"));
}

TEST_F(GrpcReceiverTest, ShutdownIsIdempotentAndStopsServing) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('l'), SpanId('1'));
  ExportTraceServiceResponse response;
  ASSERT_TRUE(Export(request, &response).ok());

  receiver_->Shutdown(1000);
  receiver_->Shutdown(1000);
  receiver_->Shutdown(0);

  grpc::Status status = Export(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(sink_.calls(), 1);
  receiver_.reset();  // The destructor after Shutdown does nothing more.
}

TEST(GrpcReceiverCreateTest, PortInUseIsAnErrorNamingTheEndpoint) {
  FakeSink sink;
  MetricsRegistry metrics;
  GrpcReceiverOptions options;
  options.endpoint = "127.0.0.1:0";
  auto first = GrpcReceiver::Create(options, &sink, &metrics);
  ASSERT_TRUE(first.ok()) << first.status();

  options.endpoint = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = GrpcReceiver::Create(options, &sink, &metrics);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(options.endpoint));
}

TEST(GrpcReceiverCreateTest, RejectsZeroMaxMessageSize) {
  FakeSink sink;
  MetricsRegistry metrics;
  GrpcReceiverOptions options;
  options.endpoint = "127.0.0.1:0";
  options.max_recv_msg_size_bytes = 0;
  auto receiver = GrpcReceiver::Create(options, &sink, &metrics);
  ASSERT_FALSE(receiver.ok());
  EXPECT_EQ(receiver.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(receiver.status().message()), HasSubstr("max_recv_msg_size_bytes"));
}

// gzip of `size` zero bytes, made without holding them (1 GiB of zeros gzips to ~1 MiB).
std::string GzipOfZeros(uint64_t size) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char chunk[1 << 16];
  for (uint64_t fed = 0; fed <= size;) {
    const uint64_t n = std::min<uint64_t>(zeros.size(), size - fed);
    const bool last = fed + n == size;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = reinterpret_cast<Bytef*>(chunk);
      z.avail_out = sizeof(chunk);
      deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      out.append(chunk, sizeof(chunk) - z.avail_out);
    } while (z.avail_out == 0);
    fed += n;
    if (last) break;
  }
  deflateEnd(&z);
  return out;
}

// The process's peak resident set (VmHWM) in bytes, after ResetPeakRss().
uint64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Sends `message` as the one request message of TraceService/Export with its compressed flag
// set, as it is (a real gRPC client that does not compress it again: the flag tells gRPC it is
// compressed already). `gzip_encoding` sets grpc-encoding: gzip; without it the call has none.
grpc::Status ExportFlaggedCompressed(int port, const std::string& message, bool gzip_encoding) {
  grpc::GenericStub generic(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (gzip_encoding) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(
      &context, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  grpc_slice slice = grpc_slice_from_copied_buffer(message.data(), message.size());
  grpc::ByteBuffer request;
  grpc::internal::GrpcByteBufferPeer(&request).Adopt(
      grpc_raw_compressed_byte_buffer_create(&slice, 1, GRPC_COMPRESS_GZIP));
  grpc_slice_unref(slice);
  call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// gRPC 1.51 inflates a compressed message completely before checking its size (a 4 MB bomb took
// 5.5 GiB); the receiver inflates itself and stops at max_recv_msg_size.
TEST_F(GrpcReceiverTest, GzipBombIsRefusedAfterInflatingAtMostMaxRecvMsgSize) {
  GrpcReceiverOptions options;
  options.max_recv_msg_size_bytes = 8 << 20;
  Start(options);
  const std::string bomb = GzipOfZeros(256ull << 20);  // inflates to 256 MiB
  ASSERT_LT(bomb.size(), options.max_recv_msg_size_bytes);
  ResetPeakRss();
  const uint64_t rss_before = PeakRssBytes();

  grpc::Status status = ExportFlaggedCompressed(receiver_->port(), bomb, /*gzip_encoding=*/true);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("max_recv_msg_size of 8388608 bytes"));
  EXPECT_LE(CounterValue("tailtrace_grpc_inflated_bytes_total", {}), 8u << 20);
  EXPECT_LT(PeakRssBytes() - rss_before, 64u << 20) << "peak RSS grew while refusing a bomb";
  EXPECT_EQ(sink_.calls(), 0);
}

// The same bytes as a real message: a precompressed gzip message with the flag set is accepted.
TEST_F(GrpcReceiverTest, FlaggedGzipMessageIsInflated) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('g'), SpanId('1'));
  grpc::Status status = ExportFlaggedCompressed(
      receiver_->port(), Gzip(request.SerializeAsString()), /*gzip_encoding=*/true);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(sink_.ReceivedSpanIds(), ::testing::ElementsAre(SpanId('1')));
}

TEST_F(GrpcReceiverTest, CorruptGzipMessageIsInvalidArgument) {
  Start();
  std::string corrupt = Gzip(std::string(1000, 'x'));
  corrupt.resize(corrupt.size() / 2);
  grpc::Status status = ExportFlaggedCompressed(receiver_->port(), corrupt, true);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("gzip"));
}

// A compressed message whose grpc-encoding gRPC does not know (snappy, zstd, ...: gRPC drops the
// header value) or that has none cannot be read: UNIMPLEMENTED, not a confusing parse error.
TEST_F(GrpcReceiverTest, CompressedMessageWithoutSupportedEncodingIsUnimplemented) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('h'), SpanId('1'));
  grpc::Status status = ExportFlaggedCompressed(receiver_->port(), request.SerializeAsString(),
                                                /*gzip_encoding=*/false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("identity, gzip"));
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(GrpcReceiverTest, DeflateEncodingIsUnimplementedNamingIt) {
  Start();
  ExportTraceServiceRequest request;
  AddSpan(&request, TraceId('i'), SpanId('1'));
  grpc::ClientContext context;
  context.set_compression_algorithm(GRPC_COMPRESS_DEFLATE);
  ExportTraceServiceResponse response;
  grpc::Status status = stub_->Export(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("deflate"));
  EXPECT_EQ(sink_.calls(), 0);
}

TEST(GrpcReceiverCreateTest, RejectsInvalidConnectionOptions) {
  FakeSink sink;
  MetricsRegistry metrics;
  GrpcReceiverOptions options;
  options.endpoint = "127.0.0.1:0";
  options.connection.max_concurrent_streams = 0;
  auto receiver = GrpcReceiver::Create(options, &sink, &metrics);
  ASSERT_FALSE(receiver.ok());
  EXPECT_THAT(std::string(receiver.status().message()), HasSubstr("max_concurrent_streams"));
  options.connection.max_concurrent_streams = 10;
  options.connection.max_memory_bytes = 1000;
  receiver = GrpcReceiver::Create(options, &sink, &metrics);
  ASSERT_FALSE(receiver.ok());
  EXPECT_THAT(std::string(receiver.status().message()), HasSubstr("max_memory"));
}

}  // namespace
}  // namespace tailtrace::collector
