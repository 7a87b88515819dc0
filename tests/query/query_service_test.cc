#include "query/query_service.h"

#include <string>
#include <utility>
#include <vector>

#include "common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/otlp_json.h"
#include "rapidjson/document.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"
#include "tests/storage/failing_trace_store.h"

namespace tailtrace::query {
namespace {

using testing::Get;
using testing::ParseJson;
using testing::Post;

namespace trace_v1 = opentelemetry::proto::trace::v1;
using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

const std::string kTraceId = Bytes({0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
const std::string kTraceHex = "abcd0000000000000000000000000001";
// A Jaeger-style 64-bit trace ID (high half zero).
const std::string kShortTraceId = Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xef, 0x42});

void AddSpan(trace_v1::TracesData* data, const std::string& trace_id, const std::string& service,
             const std::string& name, trace_v1::Span::SpanKind kind, uint8_t span_id) {
  auto* rs = data->add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(trace_id);
  span->set_span_id(std::string(7, '\0') + static_cast<char>(span_id));
  span->set_name(name);
  span->set_kind(kind);
  span->set_start_time_unix_nano(1'700'000'000'000'000'000ull + span_id * 1000);
  span->set_end_time_unix_nano(1'700'000'000'000'000'000ull + span_id * 1000 + 5000);
}

using FailingStore = storage::testing::FailingTraceStore;

// Checks the Jaeger error envelope and returns the error message.
std::string JaegerErrorMessage(const http::Response& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  rapidjson::Document doc = ParseJson(r);
  if (!doc.IsObject()) return "";
  EXPECT_TRUE(doc["data"].IsNull());
  EXPECT_EQ(doc["total"].GetInt(), 0);
  EXPECT_EQ(doc["limit"].GetInt(), 0);
  EXPECT_EQ(doc["offset"].GetInt(), 0);
  EXPECT_TRUE(doc["errors"].IsArray());
  if (!doc["errors"].IsArray() || doc["errors"].Size() != 1) return "";
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), status);
  return doc["errors"][0]["msg"].GetString();
}

// Checks the api_v3 (grpc-gateway) error shape and returns the message.
std::string V3ErrorMessage(const http::Response& r, int status, int grpc_code) {
  EXPECT_EQ(r.status, status) << r.body;
  rapidjson::Document doc = ParseJson(r);
  if (!doc.IsObject() || !doc.HasMember("error")) {
    ADD_FAILURE() << r.body;
    return "";
  }
  EXPECT_EQ(doc.MemberCount(), 1u);
  const auto& e = doc["error"];
  EXPECT_EQ(e["httpCode"].GetInt(), status);
  EXPECT_EQ(e["grpcCode"].GetInt(), grpc_code);
  EXPECT_TRUE(e["httpStatus"].IsString());
  return e["message"].GetString();
}

// The Jaeger success envelope's "data", with total checked.
const rapidjson::Value& JaegerData(const rapidjson::Document& doc, size_t total) {
  EXPECT_EQ(doc["total"].GetUint64(), total);
  EXPECT_EQ(doc["limit"].GetInt(), 0);
  EXPECT_EQ(doc["offset"].GetInt(), 0);
  EXPECT_TRUE(doc["errors"].IsNull());
  return doc["data"];
}

std::vector<std::string> Strings(const rapidjson::Value& array) {
  std::vector<std::string> out;
  for (const auto& v : array.GetArray()) out.push_back(v.GetString());
  return out;
}

class QueryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trace_v1::TracesData data;
    AddSpan(&data, kTraceId, "frontend", "checkout", trace_v1::Span::SPAN_KIND_SERVER, 1);
    AddSpan(&data, kTraceId, "frontend", "checkout", trace_v1::Span::SPAN_KIND_CLIENT, 2);
    AddSpan(&data, kTraceId, "frontend", "auth", trace_v1::Span::SPAN_KIND_INTERNAL, 3);
    AddSpan(&data, kTraceId, "backend", "GET /stock", trace_v1::Span::SPAN_KIND_SERVER, 4);
    AddSpan(&data, kTraceId, "backend", "poll", trace_v1::Span::SPAN_KIND_UNSPECIFIED, 5);
    AddSpan(&data, kTraceId, "pay/v2", "charge", trace_v1::Span::SPAN_KIND_SERVER, 7);
    storage::TraceWrite w{TraceId::FromBytes(kTraceId), &data, "errors", 1.0, {}};
    trace_v1::TracesData short_data;
    AddSpan(&short_data, kShortTraceId, "legacy", "old", trace_v1::Span::SPAN_KIND_SERVER, 6);
    storage::TraceWrite w2{TraceId::FromBytes(kShortTraceId), &short_data, "", 1.0, {}};
    std::vector<storage::TraceWrite> writes{w, w2};
    ASSERT_TRUE(store_.Write(writes).ok());
  }

  http::Response Call(const http::Request& r) { return service_.Handle(r); }

  storage::InMemoryTraceStore store_;
  FakeClock clock_;
  QueryService service_{&store_, &clock_};
};

TEST_F(QueryServiceTest, GetTraceReturnsEnvelopeWithOneTrace) {
  http::Response r = Call(Get("/api/traces/" + kTraceHex));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  const auto& data = JaegerData(doc, 1);
  ASSERT_TRUE(data.IsArray());
  ASSERT_EQ(data.Size(), 1u);
  EXPECT_EQ(std::string(data[0]["traceID"].GetString()), kTraceHex);
  EXPECT_EQ(data[0]["spans"].Size(), 6u);
  EXPECT_EQ(data[0]["processes"].MemberCount(), 3u);
}

TEST_F(QueryServiceTest, GetTraceAcceptsUpperCaseShortIdsAndTrailingSlash) {
  http::Response r = Call(Get("/api/traces/ABCD0000000000000000000000000001/"));
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call(Get("/api/traces/BEEF42"));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  EXPECT_EQ(std::string(doc["data"][0]["traceID"].GetString()), std::string(26, '0') + "beef42");
}

// query.max_trace_spans: the fixture's trace has 6 spans, the short one 1.
TEST_F(QueryServiceTest, TraceOverMaxTraceSpansIs422NamingTheLimit) {
  QueryOptions options;
  options.max_trace_spans = 5;
  QueryService bounded(&store_, &clock_, options);
  const std::string msg = JaegerErrorMessage(bounded.Handle(Get("/api/traces/" + kTraceHex)), 422);
  EXPECT_NE(msg.find("more than 5 spans (query.max_trace_spans)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(kTraceHex), std::string::npos) << msg;
  const std::string v3 =
      V3ErrorMessage(bounded.Handle(Get("/api/v3/traces/" + kTraceHex)), 422, /*grpc_code=*/8);
  EXPECT_NE(v3.find("query.max_trace_spans"), std::string::npos) << v3;
  // At the limit exactly, the trace is answered.
  options.max_trace_spans = 6;
  QueryService at_limit(&store_, &clock_, options);
  EXPECT_EQ(at_limit.Handle(Get("/api/traces/" + kTraceHex)).status, 200);
}

TEST_F(QueryServiceTest, TracesByIdListTheTooLargeOneInErrors) {
  QueryOptions options;
  options.max_trace_spans = 5;
  QueryService bounded(&store_, &clock_, options);
  http::Response r = bounded.Handle(
      Get("/api/traces", {{"traceID", kTraceHex}, {"traceID", "beef42"}, {"traceID", "77"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  EXPECT_EQ(doc["total"].GetUint64(), 1u);
  ASSERT_EQ(doc["data"].Size(), 1u);
  EXPECT_EQ(std::string(doc["data"][0]["traceID"].GetString()), std::string(26, '0') + "beef42");
  ASSERT_TRUE(doc["errors"].IsArray());
  ASSERT_EQ(doc["errors"].Size(), 2u);
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), 422);
  EXPECT_EQ(std::string(doc["errors"][0]["traceID"].GetString()), kTraceHex);
  EXPECT_NE(std::string(doc["errors"][0]["msg"].GetString()).find("query.max_trace_spans"),
            std::string::npos);
  EXPECT_EQ(doc["errors"][1]["code"].GetInt(), 404);
}

TEST_F(QueryServiceTest, GetUnknownTraceIs404) {
  http::Response r = Call(Get("/api/traces/1234"));
  EXPECT_EQ(JaegerErrorMessage(r, 404), "trace not found");
}

TEST_F(QueryServiceTest, MalformedTraceIdIs400NamingTheParameter) {
  for (const std::string id :
       {"xyz", "12345678901234567890123456789012a", "abcd000000000000000000000000000g"}) {
    http::Response r = Call(Get("/api/traces/" + id));
    const std::string msg = JaegerErrorMessage(r, 400);
    EXPECT_NE(msg.find("traceID"), std::string::npos) << id << ": " << msg;
    EXPECT_NE(msg.find("\"" + id + "\""), std::string::npos) << id << ": " << msg;
  }
}

TEST_F(QueryServiceTest, Services) {
  http::Response r = Call(Get("/api/services"));
  ASSERT_EQ(r.status, 200);
  rapidjson::Document doc = ParseJson(r);
  EXPECT_EQ(Strings(JaegerData(doc, 4)),
            (std::vector<std::string>{"backend", "frontend", "legacy", "pay/v2"}));
}

// The Jaeger UI's upload of OTLP/JSON files: each trace of the body comes back as a Jaeger trace,
// in order of first appearance, with its spans and services.
TEST_F(QueryServiceTest, TransformTurnsOtlpJsonIntoJaegerTraces) {
  const std::string other = Bytes({0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x22});
  trace_v1::TracesData data;
  AddSpan(&data, other, "cart", "GET /cart", trace_v1::Span::SPAN_KIND_SERVER, 1);
  AddSpan(&data, kTraceId, "shop", "checkout", trace_v1::Span::SPAN_KIND_SERVER, 2);
  AddSpan(&data, other, "db", "SELECT", trace_v1::Span::SPAN_KIND_CLIENT, 3);
  const http::Response r = Call(Post("/api/transform", otlp_json::TracesDataToJson(data)));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  const auto& traces = doc["data"];
  ASSERT_EQ(traces.Size(), 2u);
  EXPECT_EQ(doc["total"].GetInt(), 2);
  EXPECT_STREQ(traces[0]["traceID"].GetString(), "11000000000000000000000000000022");
  EXPECT_EQ(traces[0]["spans"].Size(), 2u);
  EXPECT_EQ(traces[0]["processes"].MemberCount(), 2u);
  EXPECT_STREQ(traces[1]["traceID"].GetString(), kTraceHex.c_str());
  ASSERT_EQ(traces[1]["spans"].Size(), 1u);
  EXPECT_STREQ(traces[1]["spans"][0]["operationName"].GetString(), "checkout");
  EXPECT_STREQ(traces[1]["processes"]["p1"]["serviceName"].GetString(), "shop");
  // tailtraced did not sample these traces: no sampling tags on their roots.
  for (const auto& tag : traces[1]["spans"][0]["tags"].GetArray()) {
    EXPECT_NE(std::string(tag["key"].GetString()), "sampling.rate");
  }
}

TEST_F(QueryServiceTest, TransformNamesWhatIsWrongWithTheBody) {
  EXPECT_THAT(JaegerErrorMessage(Call(Post("/api/transform", "{\"resourceSpans\": 5}")), 400),
              HasSubstr("resourceSpans"));
  EXPECT_THAT(JaegerErrorMessage(Call(Post("/api/transform", "not json")), 400),
              HasSubstr("not an OTLP/JSON trace export"));
  const std::string no_trace_id =
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"0000000000000001"}]}]}]})";
  EXPECT_THAT(JaegerErrorMessage(Call(Post("/api/transform", no_trace_id)), 400),
              HasSubstr("resourceSpans[0].scopeSpans[0].spans[0].traceId"));
  const http::Response get = Call(Get("/api/transform"));
  EXPECT_EQ(get.status, 405);
  EXPECT_THAT(get.body, HasSubstr("use POST"));
  // An empty export is no trace, not an error.
  const http::Response empty = Call(Post("/api/transform", "{}"));
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(ParseJson(empty)["data"].Size(), 0u);
}

// As Jaeger's query service: prettyPrint=true indents the same document.
TEST_F(QueryServiceTest, PrettyPrintIndentsTheSameAnswer) {
  const http::Response compact = Call(Get("/api/traces/" + kTraceHex));
  const http::Response pretty = Call(Get("/api/traces/" + kTraceHex, {{"prettyPrint", "true"}}));
  ASSERT_EQ(pretty.status, 200);
  EXPECT_EQ(pretty.content_type, "application/json");
  EXPECT_NE(pretty.body.find("{\n    \"data\": [\n        {\n"), std::string::npos)
      << pretty.body.substr(0, 200);
  rapidjson::Document a = ParseJson(compact);
  rapidjson::Document b = ParseJson(pretty);
  EXPECT_TRUE(a == b) << "indenting changed the document";
  EXPECT_EQ(Call(Get("/api/services", {{"prettyPrint", "false"}})).body,
            Call(Get("/api/services")).body);
}

TEST_F(QueryServiceTest, ServiceOperationsAreDeduplicatedNames) {
  http::Response r = Call(Get("/api/services/frontend/operations"));
  ASSERT_EQ(r.status, 200);
  rapidjson::Document doc = ParseJson(r);
  EXPECT_EQ(Strings(JaegerData(doc, 2)), (std::vector<std::string>{"auth", "checkout"}));

  r = Call(Get("/api/services/pay/v2/operations"));
  ASSERT_EQ(r.status, 200);
  doc = ParseJson(r);
  EXPECT_EQ(Strings(JaegerData(doc, 1)), (std::vector<std::string>{"charge"}));

  r = Call(Get("/api/services/nobody/operations"));
  ASSERT_EQ(r.status, 200);
  doc = ParseJson(r);
  EXPECT_EQ(JaegerData(doc, 0).Size(), 0u);
}

TEST_F(QueryServiceTest, OperationsWithKinds) {
  http::Response r = Call(Get("/api/operations", {{"service", "frontend"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  const auto& data = JaegerData(doc, 3);
  ASSERT_EQ(data.Size(), 3u);
  std::vector<std::pair<std::string, std::string>> ops;
  for (const auto& op : data.GetArray())
    ops.emplace_back(op["name"].GetString(), op["spanKind"].GetString());
  EXPECT_EQ(ops, (std::vector<std::pair<std::string, std::string>>{
                     {"auth", "internal"}, {"checkout", "server"}, {"checkout", "client"}}));

  r = Call(Get("/api/operations", {{"service", "frontend"}, {"spanKind", "server"}}));
  ASSERT_EQ(r.status, 200);
  doc = ParseJson(r);
  const auto& server = JaegerData(doc, 1);
  ASSERT_EQ(server.Size(), 1u);
  EXPECT_EQ(std::string(server[0]["name"].GetString()), "checkout");
  EXPECT_EQ(std::string(server[0]["spanKind"].GetString()), "server");

  // An empty spanKind means every kind; "unspecified" selects kind 0, rendered as "".
  r = Call(Get("/api/operations", {{"service", "backend"}, {"spanKind", ""}}));
  doc = ParseJson(r);
  EXPECT_EQ(JaegerData(doc, 2).Size(), 2u);
  r = Call(Get("/api/operations", {{"service", "backend"}, {"spanKind", "unspecified"}}));
  doc = ParseJson(r);
  const auto& unspecified = JaegerData(doc, 1);
  ASSERT_EQ(unspecified.Size(), 1u);
  EXPECT_EQ(std::string(unspecified[0]["name"].GetString()), "poll");
  EXPECT_EQ(std::string(unspecified[0]["spanKind"].GetString()), "");
}

TEST_F(QueryServiceTest, OperationsParameterErrors) {
  std::string msg = JaegerErrorMessage(Call(Get("/api/operations")), 400);
  EXPECT_NE(msg.find("service"), std::string::npos) << msg;
  msg = JaegerErrorMessage(Call(Get("/api/operations", {{"service", ""}})), 400);
  EXPECT_NE(msg.find("service"), std::string::npos) << msg;
  msg = JaegerErrorMessage(
      Call(Get("/api/operations", {{"service", "frontend"}, {"spanKind", "sever"}})), 400);
  EXPECT_NE(msg.find("spanKind"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sever"), std::string::npos) << msg;
}

TEST_F(QueryServiceTest, NonGetIs405) {
  for (const std::string& path :
       std::vector<std::string>{"/api/traces/" + kTraceHex, "/api/services",
                                "/api/services/frontend/operations", "/api/operations"}) {
    http::Request req = Get(path);
    req.method = "POST";
    http::Response r = Call(req);
    const std::string msg = JaegerErrorMessage(r, 405);
    EXPECT_NE(msg.find("POST"), std::string::npos) << msg;
    bool allow = false;
    for (const auto& [k, v] : r.headers) allow |= (k == "Allow" && v == "GET");
    EXPECT_TRUE(allow) << path;
  }
  http::Request req = Get("/api/v3/services");
  req.method = "DELETE";
  V3ErrorMessage(Call(req), 405, 12);
}

TEST_F(QueryServiceTest, UnknownPathsAre404) {
  for (const std::string path :
       {"/api/nope", "/api/services/frontend", "/api/traces/a/b", "/api/services//operations",
        "/api/services/operations", "/metrics", "/"}) {
    const std::string msg = JaegerErrorMessage(Call(Get(path)), 404);
    EXPECT_NE(msg.find("unknown path"), std::string::npos) << path << ": " << msg;
  }
  V3ErrorMessage(Call(Get("/api/v3/nope")), 404, 5);
  V3ErrorMessage(Call(Get("/api/v3")), 404, 5);
}

// Request bytes quoted in an error are escaped: the body stays valid UTF-8 JSON.
TEST_F(QueryServiceTest, ErrorBodiesEscapeInvalidUtf8FromTheRequest) {
  const std::string bad = "/api/x\xff\xc3";
  std::string msg = JaegerErrorMessage(Call(Get(bad)), 404);
  EXPECT_EQ(msg, "unknown path /api/x\\xff\\xc3");
  EXPECT_EQ(FindInvalidUtf8(Call(Get(bad)).body), std::string_view::npos);
  msg = V3ErrorMessage(Call(Get("/api/v3/\xf0")), 404, 5);
  EXPECT_EQ(msg, "unknown path /api/v3/\\xf0");
  // A tags key with invalid UTF-8 (escaped \udc00 decodes to a surrogate) and a raw invalid byte.
  http::Response r =
      Call(Get("/api/traces", {{"service", "frontend"}, {"tags", "{\"k\\udc00\":[]}"}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(FindInvalidUtf8(r.body), std::string_view::npos) << r.body;
  msg = JaegerErrorMessage(
      Call(Get("/api/traces", {{"service", "frontend"}, {"tags", "{\"k\xff\":1}"}})), 400);
  EXPECT_EQ(msg, "malformed parameter tags: invalid JSON at byte offset 3: invalid UTF-8 encoding");
}

// The searches themselves are tested in query_search_test.cc.
TEST_F(QueryServiceTest, SearchEndpointsAnswer) {
  EXPECT_EQ(Call(Get("/api/traces", {{"service", "frontend"}})).status, 200);
  EXPECT_EQ(Call(Get("/api/v3/traces")).status, 200);
  EXPECT_EQ(Call(Get("/api/v3/trace-summaries")).status, 200);
  EXPECT_EQ(Call(Get("/api/dependencies")).status, 200);
}

TEST_F(QueryServiceTest, V3Services) {
  http::Response r = Call(Get("/api/v3/services"));
  ASSERT_EQ(r.status, 200);
  rapidjson::Document doc = ParseJson(r);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc.MemberCount(), 1u);
  EXPECT_EQ(Strings(doc["services"]),
            (std::vector<std::string>{"backend", "frontend", "legacy", "pay/v2"}));
}

TEST_F(QueryServiceTest, V3Operations) {
  http::Response r = Call(Get("/api/v3/operations", {{"service", "frontend"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  ASSERT_TRUE(doc["operations"].IsArray());
  EXPECT_EQ(doc["operations"].Size(), 3u);
  r = Call(Get("/api/v3/operations", {{"service", "frontend"}, {"span_kind", "client"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  doc = ParseJson(r);
  ASSERT_EQ(doc["operations"].Size(), 1u);
  EXPECT_EQ(std::string(doc["operations"][0]["name"].GetString()), "checkout");
  EXPECT_EQ(std::string(doc["operations"][0]["spanKind"].GetString()), "client");

  std::string msg = V3ErrorMessage(Call(Get("/api/v3/operations")), 400, 3);
  EXPECT_NE(msg.find("service"), std::string::npos) << msg;
  msg = V3ErrorMessage(
      Call(Get("/api/v3/operations", {{"service", "frontend"}, {"span_kind", "bogus"}})), 400, 3);
  EXPECT_NE(msg.find("span_kind"), std::string::npos) << msg;
}

TEST_F(QueryServiceTest, V3TraceWrapsOtlpJsonInResult) {
  http::Response r = Call(Get("/api/v3/traces/" + kTraceHex));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc.MemberCount(), 1u);
  const auto& rs = doc["result"]["resourceSpans"];
  ASSERT_TRUE(rs.IsArray());
  size_t spans = 0;
  for (const auto& r1 : rs.GetArray()) {
    for (const auto& ss : r1["scopeSpans"].GetArray()) {
      for (const auto& s : ss["spans"].GetArray()) {
        EXPECT_EQ(std::string(s["traceId"].GetString()), kTraceHex);
        ++spans;
      }
    }
  }
  EXPECT_EQ(spans, 6u);
}

TEST_F(QueryServiceTest, V3TraceErrors) {
  EXPECT_EQ(V3ErrorMessage(Call(Get("/api/v3/traces/77")), 404, 5), "trace not found");
  const std::string msg = V3ErrorMessage(Call(Get("/api/v3/traces/not-hex")), 400, 3);
  EXPECT_NE(msg.find("trace_id"), std::string::npos) << msg;
}

struct StoreErrorCase {
  absl::Status status;
  int http_status;
};

class QueryServiceStoreErrorTest : public ::testing::TestWithParam<StoreErrorCase> {};

TEST_P(QueryServiceStoreErrorTest, StoreFailuresBecomeErrorsNotCrashes) {
  FailingStore store(GetParam().status);
  FakeClock clock;
  QueryService service(&store, &clock);
  const int want = GetParam().http_status;
  for (const std::string& path :
       std::vector<std::string>{"/api/traces/" + kTraceHex, "/api/services",
                                "/api/services/frontend/operations", "/api/operations"}) {
    const std::string msg =
        JaegerErrorMessage(service.Handle(Get(path, {{"service", "frontend"}})), want);
    EXPECT_NE(msg.find("disk on fire"), std::string::npos) << path << ": " << msg;
  }
  const int grpc = want == 503 ? 14 : 13;
  for (const std::string& path : std::vector<std::string>{
           "/api/v3/traces/" + kTraceHex, "/api/v3/services", "/api/v3/operations"}) {
    const std::string msg =
        V3ErrorMessage(service.Handle(Get(path, {{"service", "frontend"}})), want, grpc);
    EXPECT_NE(msg.find("disk on fire"), std::string::npos) << path << ": " << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, QueryServiceStoreErrorTest,
    ::testing::Values(StoreErrorCase{absl::UnavailableError("disk on fire"), 503},
                      StoreErrorCase{absl::InternalError("disk on fire"), 500},
                      StoreErrorCase{absl::DataLossError("disk on fire"), 500}));

// storage.enabled: false: every path answers 503 with the message, in the envelope of its API.
TEST(NoStoreResponseTest, AnswersEveryPathWith503InItsApisEnvelope) {
  const std::string message = "this tailtraced keeps no traces; query tempo:4317 instead";
  const http::Response jaeger = NoStoreResponse("/api/traces/" + kTraceHex, message);
  EXPECT_EQ(jaeger.status, 503);
  rapidjson::Document doc = ParseJson(jaeger);
  ASSERT_TRUE(doc.HasMember("errors"));
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), 503);
  EXPECT_EQ(std::string(doc["errors"][0]["msg"].GetString()), message);
  EXPECT_TRUE(doc["data"].IsNull());

  const http::Response v3 = NoStoreResponse("/api/v3/services", message);
  EXPECT_EQ(v3.status, 503);
  doc = ParseJson(v3);
  ASSERT_TRUE(doc.HasMember("error"));
  EXPECT_EQ(doc["error"]["httpCode"].GetInt(), 503);
  EXPECT_EQ(doc["error"]["grpcCode"].GetInt(), 14);
  EXPECT_EQ(std::string(doc["error"]["message"].GetString()), message);
}

}  // namespace
}  // namespace tailtrace::query
