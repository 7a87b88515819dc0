#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/gzip.h"
#include "collector/receivers.h"
#include "collector/span_sink.h"
#include "common/metrics.h"
#include "common/utf8.h"
#include "google/rpc/status.pb.h"
#include "tests/collector/test_spans.h"
#include "tests/common/http_test_client.h"

namespace tailtrace::collector {
namespace {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using tailtrace::testing::ClientResponse;
using tailtrace::testing::HttpTestClient;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

class FakeSink : public SpanSink {
 public:
  absl::Status Consume(WireRequest&& request) override {
    std::lock_guard lock(mu_);
    ++calls_;
    if (!status_.ok()) return status_;
    requests_.push_back(testing::Unscanned(request));
    return absl::OkStatus();
  }
  void set_status(absl::Status status) {
    std::lock_guard lock(mu_);
    status_ = std::move(status);
  }
  std::vector<ExportTraceServiceRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int span_count() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& req : requests_) {
      for (const auto& rs : req.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
      }
    }
    return n;
  }

 private:
  std::mutex mu_;
  absl::Status status_;
  std::vector<ExportTraceServiceRequest> requests_;
  int calls_ = 0;
};

std::string TraceId(uint8_t seed) {
  std::string id(16, '\0');
  for (int i = 0; i < 16; ++i) id[i] = static_cast<char>(seed + i);
  return id;
}

std::string SpanId(uint8_t seed) {
  std::string id(8, '\0');
  for (int i = 0; i < 8; ++i) id[i] = static_cast<char>(seed + i + 1);
  return id;
}

// `valid` good spans, then spans with a 15-byte trace ID and with an all-zero span ID.
ExportTraceServiceRequest MakeRequest(int valid, int bad_trace_id = 0, int zero_span_id = 0) {
  ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("checkout");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("lib");
  for (int i = 0; i < valid; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(TraceId(1));
    span->set_span_id(SpanId(static_cast<uint8_t>(i * 10)));
    span->set_name(absl::StrCat("op", i));
  }
  for (int i = 0; i < bad_trace_id; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(TraceId(1).substr(0, 15));
    span->set_span_id(SpanId(200));
    span->set_name("bad trace id");
  }
  for (int i = 0; i < zero_span_id; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(TraceId(1));
    span->set_span_id(std::string(8, '\0'));
    span->set_name("zero span id");
  }
  return req;
}

// One span in OTLP/JSON; span_id_hex replaces the span ID.
std::string JsonRequest(const std::string& span_id_hex = "eee19b7ec3c1b174") {
  return absl::StrCat(
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":)",
      R"({"stringValue":"checkout"}}]},"scopeSpans":[{"scope":{"name":"lib"},"spans":[)",
      R"({"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":")", span_id_hex,
      R"(","name":"GET /cart","kind":2,"startTimeUnixNano":"1544712660000000000",)",
      R"("endTimeUnixNano":"1544712661000000000"}]}]}]})");
}

google::rpc::Status ParseStatus(const ClientResponse& res) {
  google::rpc::Status status;
  if (res.Header("content-type") == kProtobuf) {
    EXPECT_TRUE(status.ParseFromString(res.body)) << "not a protobuf Status";
  } else {
    EXPECT_EQ(res.Header("content-type"), kJson);
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(res.body, &status).ok())
        << "not a JSON Status: " << res.body;
  }
  return status;
}

class HttpReceiverTest : public ::testing::Test {
 protected:
  void Start(uint64_t max_body_bytes = 64ull << 20) {
    HttpReceiverOptions options;
    options.endpoint = "127.0.0.1:0";
    options.max_request_body_bytes = max_body_bytes;
    auto receiver = HttpReceiver::Create(options, &sink_, &metrics_);
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = std::move(*receiver);
    client_ = std::make_unique<HttpTestClient>(receiver_->port());
    ASSERT_TRUE(client_->connected());
  }

  ClientResponse Post(const std::string& body, const std::string& content_type,
                      const std::string& content_encoding = "",
                      const std::string& path = "/v1/traces") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    if (!content_encoding.empty()) headers.emplace_back("Content-Encoding", content_encoding);
    // A fresh connection when the server closed the last one (e.g. after a 413).
    if (!client_->connected() || client_->error()) {
      client_ = std::make_unique<HttpTestClient>(receiver_->port());
    }
    return client_->Send("POST", path, body, headers);
  }

  uint64_t CounterValue(const std::string& name, const Labels& labels) {
    return metrics_.GetCounter(name, "", labels)->Value();
  }

  MetricsRegistry metrics_;
  FakeSink sink_;
  std::unique_ptr<HttpReceiver> receiver_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(HttpReceiverTest, ProtobufRequestReachesTheSink) {
  Start();
  const ClientResponse res = Post(MakeRequest(3).SerializeAsString(), kProtobuf);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.Header("content-type"), kProtobuf);
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(res.body));
  EXPECT_FALSE(response.has_partial_success());  // full success leaves it unset
  ASSERT_EQ(sink_.requests().size(), 1u);
  EXPECT_EQ(sink_.span_count(), 3);
  EXPECT_EQ(sink_.requests()[0].resource_spans(0).scope_spans(0).spans(2).name(), "op2");
}

TEST_F(HttpReceiverTest, JsonRequestReachesTheSink) {
  Start();
  const ClientResponse res = Post(JsonRequest(), "application/json; charset=utf-8");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.Header("content-type"), kJson);
  EXPECT_THAT(res.body, Not(HasSubstr("partialSuccess")));
  const std::vector<ExportTraceServiceRequest> requests = sink_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& span = requests[0].resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(span.name(), "GET /cart");
  EXPECT_EQ(span.trace_id(),
            std::string("\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c", 16));
  EXPECT_EQ(span.span_id(), std::string("\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74", 8));
}

TEST_F(HttpReceiverTest, GzipAndDeflateBodies) {
  Start();
  ClientResponse res = Post(Gzip(MakeRequest(2).SerializeAsString()), kProtobuf, "gzip");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.Header("content-type"), kProtobuf);
  res = Post(Gzip(JsonRequest()), kJson, "GZIP");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.Header("content-type"), kJson);

  const std::string plain = MakeRequest(1).SerializeAsString();
  std::string deflated(compressBound(plain.size()), '\0');
  uLongf size = deflated.size();
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(deflated.data()), &size,
                     reinterpret_cast<const Bytef*>(plain.data()), plain.size()),
            Z_OK);
  deflated.resize(size);
  res = Post(deflated, kProtobuf, "deflate");
  ASSERT_EQ(res.status, 200) << res.body;
  res = Post(plain, kProtobuf, "identity");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(sink_.span_count(), 2 + 1 + 1 + 1);
}

TEST_F(HttpReceiverTest, PartialSuccessKeepsValidSpans) {
  Start();
  const ClientResponse res =
      Post(MakeRequest(2, /*bad_trace_id=*/1, /*zero_span_id=*/1).SerializeAsString(), kProtobuf);
  ASSERT_EQ(res.status, 200);
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(res.body));
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_THAT(response.partial_success().error_message(), HasSubstr("trace_id"));
  EXPECT_THAT(response.partial_success().error_message(), HasSubstr("span_id"));
  EXPECT_EQ(sink_.span_count(), 2);
}

TEST_F(HttpReceiverTest, PartialSuccessInJson) {
  Start();
  const ClientResponse res = Post(JsonRequest("0000000000000000"), kJson);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.Header("content-type"), kJson);
  ExportTraceServiceResponse response;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(res.body, &response).ok()) << res.body;
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_THAT(response.partial_success().error_message(), HasSubstr("span_id"));
  EXPECT_EQ(sink_.calls(), 0);  // nothing valid left: the sink is not called
}

TEST_F(HttpReceiverTest, AllSpansInvalidDoesNotCallTheSink) {
  Start();
  const ClientResponse res = Post(MakeRequest(0, 1, 2).SerializeAsString(), kProtobuf);
  ASSERT_EQ(res.status, 200);
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(res.body));
  EXPECT_EQ(response.partial_success().rejected_spans(), 3);
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(HttpReceiverTest, EmptyRequestIsSuccess) {
  Start();
  const ClientResponse res = Post("", kProtobuf);
  ASSERT_EQ(res.status, 200);
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(res.body));
  EXPECT_FALSE(response.has_partial_success());
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(HttpReceiverTest, MalformedProtobufIs400WithProtobufStatus) {
  Start();
  const ClientResponse res = Post(std::string("\x0a\x05\x01\x02", 4), kProtobuf);
  ASSERT_EQ(res.status, 400);
  EXPECT_EQ(res.Header("content-type"), kProtobuf);
  const google::rpc::Status status = ParseStatus(res);
  EXPECT_EQ(status.code(), 3);
  EXPECT_THAT(status.message(), HasSubstr("protobuf"));
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(HttpReceiverTest, InvalidUtf8Is400NamingWhere) {
  Start();
  ExportTraceServiceRequest request = MakeRequest(3);
  request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(2)->set_name("\xc3(");
  const ClientResponse res = Post(request.SerializeAsString(), kProtobuf);
  ASSERT_EQ(res.status, 400) << res.body;
  const google::rpc::Status status = ParseStatus(res);
  EXPECT_EQ(status.code(), 3);
  EXPECT_THAT(status.message(), HasSubstr("resource_spans[0].scope_spans[0].spans[2]"));
  EXPECT_THAT(status.message(), HasSubstr("UTF-8"));
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(HttpReceiverTest, MalformedJsonIs400WithJsonStatus) {
  Start();
  ClientResponse res = Post("{not json", kJson);
  ASSERT_EQ(res.status, 400);
  google::rpc::Status status = ParseStatus(res);
  EXPECT_EQ(status.code(), 3);
  EXPECT_THAT(status.message(), HasSubstr("OTLP/JSON"));

  // A trace ID of the wrong length is named by its JSON path.
  std::string bad_trace = JsonRequest();
  bad_trace.replace(bad_trace.find("5B8E"), 4, "");
  res = Post(bad_trace, kJson);
  ASSERT_EQ(res.status, 400) << res.body;
  status = ParseStatus(res);
  EXPECT_THAT(status.message(), HasSubstr("traceId"));
  EXPECT_EQ(sink_.calls(), 0);
}

// Request bytes quoted in an error are escaped, in JSON and in protobuf status bodies alike.
TEST_F(HttpReceiverTest, ErrorBodiesEscapeInvalidUtf8FromTheRequest) {
  Start();
  ClientResponse res = Post("x", "text/plain\xff\xc3");
  ASSERT_EQ(res.status, 415);
  EXPECT_EQ(FindInvalidUtf8(res.body), std::string_view::npos) << res.body;
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("text/plain\\xff\\xc3"));
  res = Post(MakeRequest(1).SerializeAsString(), kProtobuf, "", "/v1/\xf0\x9f");
  ASSERT_EQ(res.status, 404);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("/v1/\\xf0\\x9f"));
  res = Post(MakeRequest(1).SerializeAsString(), kJson, "br\xfe");
  ASSERT_EQ(res.status, 415);
  EXPECT_EQ(FindInvalidUtf8(res.body), std::string_view::npos) << res.body;
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("br\\xfe"));
  // The crashing inputs of issue 10 are refused with their position.
  res = Post("{\"a\":\"\xf0", kJson);
  ASSERT_EQ(res.status, 400);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("byte offset 6: invalid UTF-8 encoding"));
  res = Post(R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":)"
             R"({"doubleValue":128.74836467836484838364836483643636483648e-336}}]}}]})",
             kJson);
  EXPECT_EQ(res.status, 200) << res.body;
}

TEST_F(HttpReceiverTest, CorruptGzipIs400) {
  Start();
  const ClientResponse res = Post("this is not gzip", kProtobuf, "gzip");
  ASSERT_EQ(res.status, 400);
  const google::rpc::Status status = ParseStatus(res);
  EXPECT_EQ(status.code(), 3);
  EXPECT_THAT(status.message(), HasSubstr("gzip"));
}

TEST_F(HttpReceiverTest, WrongPathMethodTypeAndEncoding) {
  Start();
  ClientResponse res = Post(MakeRequest(1).SerializeAsString(), kProtobuf, "", "/v1/metrics");
  EXPECT_EQ(res.status, 404);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("/v1/metrics"));

  res = client_->Send("GET", "/v1/traces");
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.Header("allow"), "POST");
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("GET"));

  res = Post("hello", "text/plain");
  EXPECT_EQ(res.status, 415);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("text/plain"));

  res = Post("hello", "");
  EXPECT_EQ(res.status, 415);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("Content-Type"));

  res = Post(MakeRequest(1).SerializeAsString(), kProtobuf, "br");
  EXPECT_EQ(res.status, 415);
  EXPECT_EQ(res.Header("content-type"), kProtobuf);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("\"br\""));
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(HttpReceiverTest, TooLargeRawBodyIs413) {
  Start(/*max_body_bytes=*/1024);
  const ClientResponse res = Post(std::string(2000, 'x'), kProtobuf);
  EXPECT_EQ(res.status, 413);
  EXPECT_EQ(sink_.calls(), 0);
}

TEST_F(HttpReceiverTest, GzipBombIs413) {
  constexpr uint64_t kLimit = 64 * 1024;
  Start(kLimit);
  const std::string bomb = Gzip(std::string(4 << 20, '\0'));
  ASSERT_LT(bomb.size(), kLimit);  // passes the raw limit, exceeds it once decompressed
  ClientResponse res = Post(bomb, kJson, "gzip");
  EXPECT_EQ(res.status, 413);
  EXPECT_THAT(ParseStatus(res).message(), HasSubstr("limit of 65536 bytes"));
  EXPECT_EQ(sink_.calls(), 0);
  // Just under the limit is fine.
  res = Post(Gzip(MakeRequest(1).SerializeAsString()), kProtobuf, "gzip");
  EXPECT_EQ(res.status, 200);
}

TEST_F(HttpReceiverTest, FullPipelineIs503WithRetryAfter) {
  Start();
  sink_.set_status(absl::UnavailableError("shard 3 queue is full"));
  ClientResponse res = Post(MakeRequest(2).SerializeAsString(), kProtobuf);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.Header("retry-after"), "1");
  google::rpc::Status status = ParseStatus(res);
  EXPECT_EQ(status.code(), 14);
  EXPECT_THAT(status.message(), HasSubstr("shard 3 queue is full"));

  // Another cause is named as it is, not as a full pipeline.
  sink_.set_status(absl::UnavailableError("trace store cannot write: Too many open files"));
  res = Post(MakeRequest(2).SerializeAsString(), kProtobuf);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(ParseStatus(res).message(),
            "retry later: trace store cannot write: Too many open files");

  sink_.set_status(absl::FailedPreconditionError("shutting down"));
  res = Post(JsonRequest(), kJson);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(ParseStatus(res).code(), 14);

  sink_.set_status(absl::InternalError("disk on fire"));
  res = Post(JsonRequest(), kJson);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.Header("retry-after"), "");
}

TEST_F(HttpReceiverTest, Metrics) {
  Start();
  ASSERT_EQ(Post(MakeRequest(3).SerializeAsString(), kProtobuf).status, 200);
  ASSERT_EQ(Post(MakeRequest(2, 1, 1).SerializeAsString(), kProtobuf).status, 200);
  sink_.set_status(absl::UnavailableError("full"));
  ASSERT_EQ(Post(MakeRequest(1).SerializeAsString(), kProtobuf).status, 503);
  ASSERT_EQ(Post("", kProtobuf, "", "/nope").status, 404);

  const Labels http = {{"transport", "http"}};
  EXPECT_EQ(CounterValue("otelcol_receiver_accepted_spans", http), 5u);
  EXPECT_EQ(CounterValue("otelcol_receiver_refused_spans", http), 2u + 1u);
  EXPECT_EQ(CounterValue("tailtrace_http_requests_total", {{"code", "200"}}), 2u);
  EXPECT_EQ(CounterValue("tailtrace_http_requests_total", {{"code", "503"}}), 1u);
  EXPECT_EQ(CounterValue("tailtrace_http_requests_total", {{"code", "404"}}), 1u);
  EXPECT_EQ(CounterValue("tailtrace_http_requests_total", {{"code", "400"}}), 0u);
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("otelcol_receiver_accepted_spans{transport=\"http\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("tailtrace_http_request_duration_seconds_count 4\n"));
}

TEST_F(HttpReceiverTest, BadEndpointIsAnError) {
  HttpReceiverOptions options;
  options.endpoint = "127.0.0.1:notaport";
  auto receiver = HttpReceiver::Create(options, &sink_, &metrics_);
  ASSERT_FALSE(receiver.ok());
  EXPECT_THAT(receiver.status().message(), HasSubstr("127.0.0.1:notaport"));
}

TEST_F(HttpReceiverTest, ShutdownIsIdempotent) {
  Start();
  const int port = receiver_->port();
  receiver_->Shutdown();
  receiver_->Shutdown();
  HttpTestClient late(port);
  EXPECT_FALSE(late.connected() && late.Send("POST", "/v1/traces").status != 0);
}

}  // namespace
}  // namespace tailtrace::collector
