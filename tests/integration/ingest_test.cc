// OTLP in over gRPC and HTTP (protobuf, JSON, gzip, partial success) against the real tailtraced,
// read back through the Jaeger and OTLP-JSON query APIs; admin endpoints.

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

using IngestTest = DaemonTest;

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

// Waits for `trace` and checks it through both query APIs against what AddTrace sent.
void ExpectStoredTrace(int query_port, uint64_t trace, int num_spans, const std::string& service) {
  const std::string hex = Hex(TraceIdBytes(trace));
  absl::StatusOr<HttpResponse> jaeger = WaitForTrace(query_port, hex);
  ASSERT_TRUE(jaeger.ok()) << jaeger.status();
  ASSERT_EQ(jaeger->status, 200) << "trace " << hex << " never stored: " << jaeger->body;
  EXPECT_EQ(jaeger->Header("content-type"), "application/json");
  EXPECT_EQ(JaegerSpans(jaeger->body), ExpectedSpans(trace, num_spans, service)) << jaeger->body;

  HttpClient client(query_port);
  absl::StatusOr<HttpResponse> v3 = client.Get("/api/v3/traces/" + hex);
  ASSERT_TRUE(v3.ok()) << v3.status();
  ASSERT_EQ(v3->status, 200) << v3->body;
  EXPECT_EQ(V3Spans(v3->body), ExpectedSpans(trace, num_spans, service)) << v3->body;
}

// A hand-written OTLP/JSON request (so the test does not use the daemon's own encoder): one
// trace of three spans, upper-case hex IDs (the spec makes them case-insensitive), int64 times
// as strings, an unknown field that must be ignored.
std::string JsonTraceRequest(uint64_t trace, const std::string& service) {
  const uint64_t start = NowUnixNanos() - 5'000'000;
  std::string spans;
  for (int i = 0; i < 3; ++i) {
    std::string trace_hex = Hex(TraceIdBytes(trace));
    for (char& c : trace_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    absl::StrAppend(
        &spans, i == 0 ? "" : ",", "{\"traceId\":\"", trace_hex, "\",\"spanId\":\"",
        Hex(SpanIdBytes(trace, i)), "\"",
        i == 0 ? ""
               : absl::StrCat(",\"parentSpanId\":\"", Hex(SpanIdBytes(trace, (i - 1) / 2)), "\""),
        ",\"name\":\"", i == 0 ? std::string("root-op") : absl::StrCat("child-op-", i),
        "\",\"kind\":", i == 0 ? 2 : 1, ",\"startTimeUnixNano\":\"", start + i * 1000,
        "\",\"endTimeUnixNano\":\"", start + 4'000'000 - i * 1000,
        "\",\"attributes\":[{\"key\":\"http.status_code\",\"value\":{\"intValue\":"
        "\"200\"}}],\"someFutureField\":{\"x\":1}}");
  }
  return absl::StrCat(
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
      "\"stringValue\":\"",
      service, "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"json-test\"},\"spans\":[", spans,
      "]}]}]}");
}

TEST_F(IngestTest, GrpcMultiSpanTraceReadBackThroughJaegerAndV3) {
  StartDaemon();
  ExportTraceServiceRequest request;
  AddTrace(&request, 1, 7, "checkout");
  AddTrace(&request, 2, 3, "payment");
  OtlpGrpcClient client(daemon_->grpc_target());
  ExportTraceServiceResponse response;
  grpc::Status status = client.Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_FALSE(response.has_partial_success()) << response.DebugString();

  ExpectStoredTrace(daemon_->query_port(), 1, 7, "checkout");
  ExpectStoredTrace(daemon_->query_port(), 2, 3, "payment");

  // Trace IDs are case-insensitive in the query API.
  std::string upper = Hex(TraceIdBytes(1));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  HttpClient query(daemon_->query_port());
  absl::StatusOr<HttpResponse> by_upper = query.Get("/api/traces/" + upper);
  ASSERT_TRUE(by_upper.ok()) << by_upper.status();
  EXPECT_EQ(by_upper->status, 200) << by_upper->body;
}

TEST_F(IngestTest, GrpcGzipCompressedExport) {
  StartDaemon();
  ExportTraceServiceRequest request;
  AddTrace(&request, 3, 4, "gzip-grpc", /*padding_bytes=*/4096);
  OtlpGrpcClient client(daemon_->grpc_target());
  ExportTraceServiceResponse response;
  grpc::Status status = client.Export(request, &response, /*gzip=*/true);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  EXPECT_FALSE(response.has_partial_success());
  ExpectStoredTrace(daemon_->query_port(), 3, 4, "gzip-grpc");
}

TEST_F(IngestTest, HttpProtobufPlainAndGzip) {
  StartDaemon();
  HttpClient client(daemon_->http_port());

  ExportTraceServiceRequest plain;
  AddTrace(&plain, 4, 5, "http-proto");
  absl::StatusOr<HttpResponse> r1 = client.Post("/v1/traces", kProtobuf, plain.SerializeAsString());
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->status, 200) << r1->body;
  EXPECT_EQ(r1->Header("content-type"), kProtobuf);
  ExportTraceServiceResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(r1->body)) << "response is not an ExportTraceServiceResponse";
  EXPECT_FALSE(decoded.has_partial_success());

  // Second request on the same (kept-alive) connection, gzip-compressed.
  ExportTraceServiceRequest zipped;
  AddTrace(&zipped, 5, 4, "http-proto-gzip", /*padding_bytes=*/2048);
  const std::string body = GzipBytes(zipped.SerializeAsString());
  ASSERT_LT(body.size(), zipped.ByteSizeLong() / 4) << "the test body should really be compressed";
  absl::StatusOr<HttpResponse> r2 =
      client.Post("/v1/traces", kProtobuf, body, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(r2->Header("content-type"), kProtobuf);

  ExpectStoredTrace(daemon_->query_port(), 4, 5, "http-proto");
  ExpectStoredTrace(daemon_->query_port(), 5, 4, "http-proto-gzip");
}

TEST_F(IngestTest, HttpJsonPlainAndGzip) {
  StartDaemon();
  HttpClient client(daemon_->http_port());

  absl::StatusOr<HttpResponse> r1 = client.Post("/v1/traces", "application/json; charset=utf-8",
                                                JsonTraceRequest(6, "http-json"));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->status, 200) << r1->body;
  EXPECT_EQ(r1->Header("content-type"), kJson);
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> doc = ParseJson(r1->body);
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE((*doc)->IsObject()) << r1->body;
  EXPECT_FALSE((*doc)->HasMember("partialSuccess") &&
               (*doc)->operator[]("partialSuccess").HasMember("rejectedSpans"))
      << r1->body;

  absl::StatusOr<HttpResponse> r2 =
      client.Post("/v1/traces", kJson, GzipBytes(JsonTraceRequest(7, "http-json-gzip")),
                  {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(r2->Header("content-type"), kJson);

  ExpectStoredTrace(daemon_->query_port(), 6, 3, "http-json");
  ExpectStoredTrace(daemon_->query_port(), 7, 3, "http-json-gzip");
}

TEST_F(IngestTest, GrpcPartialSuccessKeepsTheValidSpans) {
  StartDaemon();
  ExportTraceServiceRequest request;
  AddTrace(&request, 8, 3, "partial-grpc");
  AddRawSpan(&request, "partial-grpc", TraceIdBytes(9).substr(0, 15), SpanIdBytes(9, 0), "", "bad");
  AddRawSpan(&request, "partial-grpc", TraceIdBytes(10), SpanIdBytes(10, 0).substr(0, 7), "",
             "bad");
  OtlpGrpcClient client(daemon_->grpc_target());
  ExportTraceServiceResponse response;
  grpc::Status status = client.Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_NE(response.partial_success().error_message().find("trace_id"), std::string::npos)
      << response.partial_success().error_message();
  EXPECT_NE(response.partial_success().error_message().find("span_id"), std::string::npos)
      << response.partial_success().error_message();

  ExpectStoredTrace(daemon_->query_port(), 8, 3, "partial-grpc");
  HttpClient query(daemon_->query_port());
  absl::StatusOr<HttpResponse> bad = query.Get("/api/traces/" + Hex(TraceIdBytes(10)));
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->status, 404) << "a rejected span was stored: " << bad->body;
}

TEST_F(IngestTest, HttpPartialSuccessProtobufAndJson) {
  StartDaemon();
  HttpClient client(daemon_->http_port());

  ExportTraceServiceRequest request;
  AddTrace(&request, 11, 2, "partial-http");
  AddRawSpan(&request, "partial-http", TraceIdBytes(12).substr(0, 15), SpanIdBytes(12, 0), "",
             "bad");
  absl::StatusOr<HttpResponse> r1 =
      client.Post("/v1/traces", kProtobuf, request.SerializeAsString());
  ASSERT_TRUE(r1.ok()) << r1.status();
  ASSERT_EQ(r1->status, 200) << r1->body;
  ExportTraceServiceResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(r1->body));
  EXPECT_EQ(decoded.partial_success().rejected_spans(), 1) << decoded.DebugString();
  EXPECT_NE(decoded.partial_success().error_message().find("trace_id"), std::string::npos)
      << decoded.DebugString();

  // JSON: one valid span, one with an all-zero trace ID and one with an empty span ID.
  const uint64_t start = NowUnixNanos() - 5'000'000;
  auto span = [&](const std::string& trace_hex, const std::string& span_hex) {
    return absl::StrCat("{\"traceId\":\"", trace_hex, "\",\"spanId\":\"", span_hex,
                        "\",\"name\":\"root-op\",\"startTimeUnixNano\":\"", start,
                        "\",\"endTimeUnixNano\":\"", start + 1000, "\"}");
  };
  const std::string json = absl::StrCat(
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
      "\"stringValue\":\"partial-json\"}}]},\"scopeSpans\":[{\"spans\":[",
      span(Hex(TraceIdBytes(13)), Hex(SpanIdBytes(13, 0))), ",",
      span(std::string(32, '0'), Hex(SpanIdBytes(14, 0))), ",", span(Hex(TraceIdBytes(15)), ""),
      "]}]}]}");
  absl::StatusOr<HttpResponse> r2 = client.Post("/v1/traces", kJson, json);
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(r2->Header("content-type"), kJson);
  absl::StatusOr<std::unique_ptr<rapidjson::Document>> doc = ParseJson(r2->body);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const rapidjson::Document& d = **doc;
  ASSERT_TRUE(d.IsObject() && d.HasMember("partialSuccess")) << r2->body;
  const rapidjson::Value& partial = d["partialSuccess"];
  ASSERT_TRUE(partial.HasMember("rejectedSpans")) << r2->body;
  // int64 is a string in OTLP/JSON; accept a number as well.
  const rapidjson::Value& rejected = partial["rejectedSpans"];
  const std::string rejected_text =
      rejected.IsString() ? rejected.GetString()
                          : (rejected.IsInt64() ? std::to_string(rejected.GetInt64()) : "?");
  EXPECT_EQ(rejected_text, "2") << r2->body;
  ASSERT_TRUE(partial.HasMember("errorMessage") && partial["errorMessage"].IsString()) << r2->body;
  const std::string message = partial["errorMessage"].GetString();
  EXPECT_NE(message.find("trace_id"), std::string::npos) << message;
  EXPECT_NE(message.find("span_id"), std::string::npos) << message;

  ExpectStoredTrace(daemon_->query_port(), 11, 2, "partial-http");
  absl::StatusOr<HttpResponse> json_trace =
      WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(13)));
  ASSERT_TRUE(json_trace.ok()) << json_trace.status();
  ASSERT_EQ(json_trace->status, 200) << json_trace->body;
  EXPECT_EQ(JaegerSpans(json_trace->body).size(), 1u) << json_trace->body;
}

TEST_F(IngestTest, SpansOfOneTraceOverEveryTransportBecomeOneTrace) {
  // Children first (HTTP protobuf, HTTP JSON), root last (gRPC): the trace is decided only after
  // the root arrived, so all the spans are in the first write.
  settings_.decision_wait = "5s";
  StartDaemon();
  ExportTraceServiceRequest all;
  AddTrace(&all, 16, 5, "mixed");
  auto part = [&](std::initializer_list<int> indexes) {
    ExportTraceServiceRequest r;
    auto* rs = r.add_resource_spans();
    *rs->mutable_resource() = all.resource_spans(0).resource();
    auto* ss = rs->add_scope_spans();
    for (int i : indexes) *ss->add_spans() = all.resource_spans(0).scope_spans(0).spans(i);
    return r;
  };
  HttpClient http(daemon_->http_port());
  absl::StatusOr<HttpResponse> r1 =
      http.Post("/v1/traces", kProtobuf, part({3, 4}).SerializeAsString());
  ASSERT_TRUE(r1.ok() && r1->status == 200) << (r1.ok() ? r1->body : r1.status().ToString());
  absl::StatusOr<HttpResponse> r2 =
      http.Post("/v1/traces", kProtobuf, GzipBytes(part({1, 2}).SerializeAsString()),
                {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(r2.ok() && r2->status == 200) << (r2.ok() ? r2->body : r2.status().ToString());
  OtlpGrpcClient grpc_client(daemon_->grpc_target());
  ExportTraceServiceResponse response;
  grpc::Status status = grpc_client.Export(part({0}), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  ExpectStoredTrace(daemon_->query_port(), 16, 5, "mixed");
}

TEST_F(IngestTest, AdminHealthReadinessAndMetrics) {
  StartDaemon();
  HttpClient admin(daemon_->admin_port());
  absl::StatusOr<HttpResponse> healthz = admin.Get("/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->status, 200) << healthz->body;
  // The ready line is printed after the daemon marks itself ready.
  absl::StatusOr<HttpResponse> readyz = admin.Get("/readyz");
  ASSERT_TRUE(readyz.ok()) << readyz.status();
  EXPECT_EQ(readyz->status, 200) << readyz->body;

  ExportTraceServiceRequest over_grpc;
  AddTrace(&over_grpc, 20, 3, "metrics");
  ExportTraceServiceResponse response;
  grpc::Status status = OtlpGrpcClient(daemon_->grpc_target()).Export(over_grpc, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExportTraceServiceRequest over_http;
  AddTrace(&over_http, 21, 2, "metrics");
  absl::StatusOr<HttpResponse> posted =
      HttpClient(daemon_->http_port()).Post("/v1/traces", kProtobuf, over_http.SerializeAsString());
  ASSERT_TRUE(posted.ok() && posted->status == 200)
      << (posted.ok() ? posted->body : posted.status().ToString());

  ExpectStoredTrace(daemon_->query_port(), 20, 3, "metrics");
  ExpectStoredTrace(daemon_->query_port(), 21, 2, "metrics");
  // The store's counter is bumped right after the write that made the traces visible.
  const std::optional<double> stored =
      WaitForMetric(daemon_->admin_port(), "tailtrace_stored_spans_total", 5);
  ASSERT_TRUE(stored.has_value()) << "no tailtrace_stored_spans_total in /metrics";
  EXPECT_EQ(*stored, 5);

  absl::StatusOr<HttpResponse> metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->Header("content-type").rfind("text/plain", 0), 0u)
      << metrics->Header("content-type");
  EXPECT_EQ(MetricValue(metrics->body, "otelcol_receiver_accepted_spans{transport=\"grpc\"}"), 3)
      << metrics->body;
  EXPECT_EQ(MetricValue(metrics->body, "otelcol_receiver_accepted_spans{transport=\"http\"}"), 2)
      << metrics->body;
  EXPECT_EQ(MetricValue(metrics->body, "otelcol_receiver_refused_spans{transport=\"grpc\"}"), 0)
      << metrics->body;
  EXPECT_NE(metrics->body.find("# TYPE otelcol_receiver_accepted_spans counter"),
            std::string::npos);
  // The store's background work: a handful of spans never leaves RocksDB with compaction debt.
  EXPECT_EQ(MetricValue(metrics->body, "tailtrace_store_pending_compaction_bytes"), 0)
      << metrics->body;
  EXPECT_TRUE(MetricValue(metrics->body, "tailtrace_store_background_jobs").has_value())
      << metrics->body;
}

}  // namespace
}  // namespace tailtrace::testing
