// Every error path of the receivers and the query API, over the wire, against the real tailtraced
// with small request limits (1 KiB for HTTP bodies and gRPC messages).

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>

#include "google/rpc/status.pb.h"
#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";
constexpr int kRpcInvalidArgument = 3;
constexpr int kRpcNotFound = 5;
constexpr int kRpcResourceExhausted = 8;

class ErrorPathTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    settings_.http_max_request_body_size = "1KiB";
    settings_.grpc_max_recv_msg_size = "1KiB";
    StartDaemon();
  }

  // Decodes a protobuf google.rpc.Status error body.
  static google::rpc::Status ProtoStatus(const HttpResponse& response) {
    google::rpc::Status status;
    EXPECT_EQ(response.Header("content-type"), kProtobuf);
    EXPECT_TRUE(status.ParseFromString(response.body))
        << "the error body is not a google.rpc.Status: " << response.body;
    return status;
  }

  // A valid request whose serialized size is over 1 KiB.
  static ExportTraceServiceRequest LargeRequest(uint64_t trace) {
    ExportTraceServiceRequest request;
    AddTrace(&request, trace, 2, "too-large", /*padding_bytes=*/1500);
    return request;
  }
};

TEST_F(ErrorPathTest, HttpUnknownPathIs404) {
  HttpClient client(daemon_->http_port());
  absl::StatusOr<HttpResponse> r = client.Post("/v1/logs", kProtobuf, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404) << r->body;
  const google::rpc::Status status = ProtoStatus(*r);
  EXPECT_EQ(status.code(), kRpcNotFound);
  EXPECT_NE(status.message().find("/v1/logs"), std::string::npos) << status.message();
}

TEST_F(ErrorPathTest, HttpGetOnTracesIs405) {
  HttpClient client(daemon_->http_port());
  absl::StatusOr<HttpResponse> r = client.Get("/v1/traces");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 405) << r->body;
  EXPECT_EQ(r->Header("allow"), "POST");
  EXPECT_NE(r->body.find("GET"), std::string::npos) << r->body;
}

TEST_F(ErrorPathTest, HttpTextPlainIs415) {
  HttpClient client(daemon_->http_port());
  absl::StatusOr<HttpResponse> r = client.Post("/v1/traces", "text/plain", "hello");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_NE(r->body.find("text/plain"), std::string::npos) << r->body;
}

TEST_F(ErrorPathTest, HttpMalformedProtobufIs400WithStatus) {
  HttpClient client(daemon_->http_port());
  // Field 1 (resource_spans), length-delimited, with a length far past the end of the body.
  const std::string body = "\x0a\xff\xff\xff\x0f\x01\x02";
  absl::StatusOr<HttpResponse> r = client.Post("/v1/traces", kProtobuf, body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400) << r->body;
  const google::rpc::Status status = ProtoStatus(*r);
  EXPECT_EQ(status.code(), kRpcInvalidArgument);
  EXPECT_NE(status.message().find("protobuf"), std::string::npos) << status.message();
}

TEST_F(ErrorPathTest, HttpMalformedJsonIs400WithStatus) {
  HttpClient client(daemon_->http_port());
  absl::StatusOr<HttpResponse> r = client.Post("/v1/traces", kJson, "{\"resourceSpans\": [");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(r->Header("content-type"), kJson);
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> doc = ParseJson(r->body);
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE((*doc)->IsObject() && (*doc)->HasMember("code") && (*doc)->HasMember("message"))
      << r->body;
  EXPECT_EQ((**doc)["code"].GetInt(), kRpcInvalidArgument) << r->body;
  EXPECT_NE(std::string((**doc)["message"].GetString()).find("JSON"), std::string::npos) << r->body;

  // Well-formed JSON with a trace ID of the wrong length: 400 naming the field.
  const std::string bad_id =
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102\",\"spanId\":"
      "\"0102030405060708\",\"name\":\"x\"}]}]}]}";
  absl::StatusOr<HttpResponse> r2 = client.Post("/v1/traces", kJson, bad_id);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->status, 400) << r2->body;
  EXPECT_NE(r2->body.find("traceId"), std::string::npos) << r2->body;
}

TEST_F(ErrorPathTest, HttpBodyOverLimitIs413EvenWhenGzipped) {
  HttpClient client(daemon_->http_port());
  // Under the limit: accepted.
  ExportTraceServiceRequest small;
  AddTrace(&small, 30, 1, "small");
  ASSERT_LT(small.ByteSizeLong(), 1024u);
  absl::StatusOr<HttpResponse> ok = client.Post("/v1/traces", kProtobuf, small.SerializeAsString());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200) << ok->body;

  const std::string large = LargeRequest(31).SerializeAsString();
  ASSERT_GT(large.size(), 1024u);
  absl::StatusOr<HttpResponse> r = client.Post("/v1/traces", kProtobuf, large);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 413) << r->body;

  // A small gzip body that inflates past the limit.
  const std::string zipped = GzipBytes(large);
  ASSERT_LT(zipped.size(), 1024u);
  HttpClient client2(daemon_->http_port());
  absl::StatusOr<HttpResponse> r2 =
      client2.Post("/v1/traces", kProtobuf, zipped, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->status, 413) << r2->body;
  const google::rpc::Status status = ProtoStatus(*r2);
  EXPECT_EQ(status.code(), kRpcResourceExhausted);
  EXPECT_FALSE(status.message().empty());

  // Neither large trace was stored.
  HttpClient query(daemon_->query_port());
  absl::StatusOr<HttpResponse> stored = WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(30)));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->status, 200);
  absl::StatusOr<HttpResponse> absent = query.Get("/api/traces/" + Hex(TraceIdBytes(31)));
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_EQ(absent->status, 404);
}

TEST_F(ErrorPathTest, GrpcOverMaxRecvMsgSizeIsResourceExhausted) {
  OtlpGrpcClient client(daemon_->grpc_target());
  ExportTraceServiceResponse response;
  ExportTraceServiceRequest small;
  AddTrace(&small, 32, 1, "small");
  grpc::Status ok = client.Export(small, &response);
  EXPECT_TRUE(ok.ok()) << ok.error_code() << ": " << ok.error_message();

  grpc::Status large = client.Export(LargeRequest(33), &response);
  EXPECT_EQ(large.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << large.error_message();
  // Compressed under the limit, inflated over it.
  grpc::Status zipped = client.Export(LargeRequest(34), &response, /*gzip=*/true);
  EXPECT_EQ(zipped.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << zipped.error_message();

  // The channel still works after the refusals.
  ExportTraceServiceRequest again;
  AddTrace(&again, 35, 1, "small");
  grpc::Status ok2 = client.Export(again, &response);
  EXPECT_TRUE(ok2.ok()) << ok2.error_code() << ": " << ok2.error_message();
}

TEST_F(ErrorPathTest, GrpcMalformedRequestIsInvalidArgument) {
  auto channel = grpc::CreateChannel(daemon_->grpc_target(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  const std::string garbage = "\x0a\xff\xff\xff\x0f\x01\x02";
  grpc::Slice slice(garbage.data(), garbage.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status result;
  stub.UnaryCall(&context, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                 grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                   std::lock_guard lock(mu);
                   result = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });  // bounded by the call's deadline
  EXPECT_EQ(result.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << result.error_message();
  EXPECT_NE(result.error_message().find("ExportTraceServiceRequest"), std::string::npos)
      << result.error_message();
}

TEST_F(ErrorPathTest, QueryUnknownTraceIs404AndMalformedIdIs400) {
  HttpClient client(daemon_->query_port());
  const std::string unknown = Hex(TraceIdBytes(999));

  absl::StatusOr<HttpResponse> r = client.Get("/api/traces/" + unknown);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404) << r->body;
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> doc = ParseJson(r->body);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const rapidjson::Document& d = **doc;
  ASSERT_TRUE(d.IsObject() && d.HasMember("data") && d.HasMember("errors")) << r->body;
  EXPECT_TRUE(d["data"].IsNull()) << r->body;
  ASSERT_TRUE(d["errors"].IsArray() && d["errors"].Size() == 1) << r->body;
  EXPECT_EQ(d["errors"][0]["code"].GetInt(), 404) << r->body;

  absl::StatusOr<HttpResponse> bad = client.Get("/api/traces/zzz");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->status, 400) << bad->body;
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> bad_doc = ParseJson(bad->body);
  ASSERT_TRUE(bad_doc.ok()) << bad_doc.status();
  ASSERT_TRUE((*bad_doc)->HasMember("errors") && (**bad_doc)["errors"].IsArray() &&
              (**bad_doc)["errors"].Size() == 1)
      << bad->body;
  EXPECT_EQ((**bad_doc)["errors"][0]["code"].GetInt(), 400) << bad->body;
  EXPECT_NE(bad->body.find("zzz"), std::string::npos) << bad->body;

  absl::StatusOr<HttpResponse> v3 = client.Get("/api/v3/traces/" + unknown);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->status, 404) << v3->body;
  EXPECT_NE(v3->body.find("\"httpCode\":404"), std::string::npos) << v3->body;
  absl::StatusOr<HttpResponse> v3_bad = client.Get("/api/v3/traces/zzz");
  ASSERT_TRUE(v3_bad.ok()) << v3_bad.status();
  EXPECT_EQ(v3_bad->status, 400) << v3_bad->body;

  absl::StatusOr<HttpResponse> unknown_path = client.Get("/api/no-such-thing");
  ASSERT_TRUE(unknown_path.ok()) << unknown_path.status();
  EXPECT_EQ(unknown_path->status, 404) << unknown_path->body;
}

}  // namespace
}  // namespace tailtrace::testing
