// Resource bounds against the real daemon: a gzip bomb over gRPC, a trace over
// query.max_trace_spans, and spans over the span limits.

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "collector/grpc_byte_buffer_peer.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

using LimitsTest = DaemonTest;

// A field of /proc/PID/status in bytes (0 when unreadable).
uint64_t StatusBytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoull(line.substr(field.size())) * 1024;
  }
  return 0;
}

// gzip of `size` zero bytes, made without holding them.
std::string GzipOfZeros(uint64_t size) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char chunk[1 << 16];
  for (uint64_t fed = 0; fed < size;) {
    const uint64_t n = std::min<uint64_t>(zeros.size(), size - fed);
    fed += n;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = reinterpret_cast<Bytef*>(chunk);
      z.avail_out = sizeof(chunk);
      deflate(&z, fed == size ? Z_FINISH : Z_NO_FLUSH);
      out.append(chunk, sizeof(chunk) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

// Sends `gzip` as the request message of Export, compressed flag set, grpc-encoding: gzip.
grpc::Status ExportPrecompressed(const std::string& target, const std::string& gzip) {
  grpc::GenericStub generic(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(
      &context, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(nullptr);
  cq.Next(&tag, &ok);
  grpc_slice slice = grpc_slice_from_copied_buffer(gzip.data(), gzip.size());
  grpc::ByteBuffer request;
  grpc::internal::GrpcByteBufferPeer(&request).Adopt(
      grpc_raw_compressed_byte_buffer_create(&slice, 1, GRPC_COMPRESS_GZIP));
  grpc_slice_unref(slice);
  call->WriteLast(request, grpc::WriteOptions(), nullptr);
  cq.Next(&tag, &ok);
  grpc::ByteBuffer response;
  call->Read(&response, nullptr);
  cq.Next(&tag, &ok);
  grpc::Status status;
  call->Finish(&status, nullptr);
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// gRPC 1.51 would inflate the whole message (a 4 MB bomb took 5.5 GiB); the daemon stops at
// max_recv_msg_size.
TEST_F(LimitsTest, GzipBombOverGrpcIsRefusedWithBoundedMemory) {
  settings_.grpc_max_recv_msg_size = "8MiB";
  StartDaemon();
  const pid_t pid = daemon_->pid();
  std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";  // resets VmHWM
  const uint64_t rss_before = StatusBytes(pid, "VmRSS:");
  const std::string bomb = GzipOfZeros(1ull << 30);  // 1 MiB that inflates to 1 GiB

  grpc::Status status = ExportPrecompressed(daemon_->grpc_target(), bomb);

  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("max_recv_msg_size"), std::string::npos);
  const uint64_t peak = StatusBytes(pid, "VmHWM:");
  EXPECT_LT(peak, rss_before + (64ull << 20))
      << "peak RSS " << (peak >> 20) << " MiB, before " << (rss_before >> 20) << " MiB";
  StopDaemonExpectSuccess();
}

TEST_F(LimitsTest, TraceOverMaxTraceSpansIs422AndSpanLimitsTruncate) {
  settings_.extra_query_yaml = "  max_trace_spans: 2000\n";
  settings_.extra_yaml =
      "limits:\n  max_attributes_per_span: 8\n  max_attribute_value_length: 16\n";
  StartDaemon();
  OtlpGrpcClient client(daemon_->grpc_target());

  // A large trace: 5000 spans in 5 requests, over the bound of 2000.
  constexpr uint64_t kLarge = 7001;
  for (int r = 0; r < 5; ++r) {
    ExportTraceServiceRequest request;
    AddTrace(&request, kLarge, 1000, "big");
    uint64_t index = static_cast<uint64_t>(r) * 1000;
    for (auto& span : *request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans()) {
      span.set_span_id(SpanIdBytes(kLarge, index));
      if (index > 0) span.set_parent_span_id(SpanIdBytes(kLarge, 0));
      ++index;
    }
    ExportTraceServiceResponse response;
    ASSERT_TRUE(client.Export(request, &response).ok());
  }
  // One span with 20 attributes, one of them long.
  constexpr uint64_t kWide = 7002;
  ExportTraceServiceRequest wide;
  AddTrace(&wide, kWide, 1, "wide");
  auto* span = wide.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  span->clear_attributes();
  for (int i = 0; i < 20; ++i) {
    auto* kv = span->add_attributes();
    kv->set_key("k" + std::to_string(i));
    kv->mutable_value()->set_string_value(i == 0 ? std::string(100, 'x') : "v");
  }
  ExportTraceServiceResponse response;
  ASSERT_TRUE(client.Export(wide, &response).ok());

  ASSERT_TRUE(WaitForMetric(daemon_->admin_port(), "tailtrace_stored_spans_total", 5001));
  HttpClient http(daemon_->query_port());
  absl::StatusOr<HttpResponse> large = http.Get("/api/traces/" + Hex(TraceIdBytes(kLarge)));
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(large->status, 422) << large->body.substr(0, 300);
  EXPECT_NE(large->body.find("more than 2000 spans (query.max_trace_spans)"), std::string::npos)
      << large->body.substr(0, 300);

  absl::StatusOr<HttpResponse> got = WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(kWide)));
  ASSERT_TRUE(got.ok() && got->status == 200);
  absl::StatusOr<HttpResponse> v3 = http.Get("/api/v3/traces/" + Hex(TraceIdBytes(kWide)));
  ASSERT_TRUE(v3.ok() && v3->status == 200);
  auto doc = ParseJson(v3->body);
  ASSERT_TRUE(doc.ok());
  const auto& s = (**doc)["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(s["attributes"].Size(), 8u);
  EXPECT_EQ(s["droppedAttributesCount"].GetInt(), 12);
  EXPECT_EQ(std::string(s["attributes"][0]["value"]["stringValue"].GetString()),
            std::string(16, 'x'));
  EXPECT_EQ(WaitForMetric(daemon_->admin_port(),
                          "tailtrace_receiver_dropped_attributes_total{transport=\"grpc\"}", 12),
            12.0);
  StopDaemonExpectSuccess();
}

}  // namespace
}  // namespace tailtrace::testing
