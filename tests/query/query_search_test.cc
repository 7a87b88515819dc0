// The search endpoints of QueryService over an InMemoryTraceStore (whose search semantics are
// tested in tests/storage): parameters, 400s, envelopes, order, limit, traceID=, tags and
// dependencies.

#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_service.h"
#include "rapidjson/document.h"
#include "storage/index/keys.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using testing::Get;
using testing::ParseJson;

namespace trace_v1 = opentelemetry::proto::trace::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Params;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000 * kMs;
constexpr int64_t kNow = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

TraceId Id(uint64_t n) {
  std::string b;
  storage::PutFixed64BE(&b, 0);
  storage::PutFixed64BE(&b, n);
  return TraceId::FromBytes(b);
}

struct Span {
  std::string service;
  std::string name;
  uint64_t id = 1;
  uint64_t parent = 0;
  int64_t start_ns = 0;
  int64_t duration_ns = kMs;
  bool error = false;
  std::string user = {};  // "user.id" attribute when not empty
};

trace_v1::TracesData Build(const TraceId& trace, const std::vector<Span>& spans) {
  trace_v1::TracesData data;
  for (const Span& s : spans) {
    auto* rs = data.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(s.service);
    auto* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(std::string(trace.view()));
    std::string id;
    storage::PutFixed64BE(&id, s.id);
    span->set_span_id(id);
    if (s.parent != 0) {
      std::string parent;
      storage::PutFixed64BE(&parent, s.parent);
      span->set_parent_span_id(parent);
    }
    span->set_name(s.name);
    span->set_kind(trace_v1::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(static_cast<uint64_t>(s.start_ns));
    span->set_end_time_unix_nano(static_cast<uint64_t>(s.start_ns + s.duration_ns));
    if (s.error) span->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_ERROR);
    if (!s.user.empty()) {
      auto* a = span->add_attributes();
      a->set_key("user.id");
      a->mutable_value()->set_string_value(s.user);
    }
  }
  return data;
}

class QuerySearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Trace 1: fast checkout by ann, an hour ago.
    Write(Id(1), {{"front", "GET /checkout", 1, 0, kNow - 3600 * kSec, 20 * kMs, false, "ann"},
                  {"inventory", "reserve", 2, 1, kNow - 3600 * kSec + kMs, 5 * kMs}});
    // Trace 2: slow inventory (4 s) for bob, half an hour ago.
    Write(Id(2), {{"front", "GET /checkout", 1, 0, kNow - 1800 * kSec, 4100 * kMs, false, "bob"},
                  {"inventory", "reserve", 2, 1, kNow - 1800 * kSec + kMs, 4 * kSec}});
    // Trace 3: failed payment for ann, ten minutes ago, kept by the "errors" policy.
    Write(Id(3),
          {{"front", "GET /checkout", 1, 0, kNow - 600 * kSec, 30 * kMs, false, "ann"},
           {"payment", "charge", 2, 1, kNow - 600 * kSec + kMs, 10 * kMs, true}},
          "errors", 4.0);
    // Trace 4: three days ago, outside the default lookback.
    Write(Id(4), {{"front", "GET /", 1, 0, kNow - 3 * 24 * 3600 * kSec}});
  }

  void Write(const TraceId& id, const std::vector<Span>& spans, std::string policy = "",
             double rate = 1.0) {
    datas_.push_back(Build(id, spans));
    const storage::TraceWrite w{id, &datas_.back(), std::move(policy), rate, {}};
    ASSERT_TRUE(store_.Write({&w, 1}).ok());
  }

  // Trace IDs of a Jaeger envelope's data, checking the envelope.
  std::vector<std::string> JaegerIds(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document doc = ParseJson(r);
    std::vector<std::string> ids;
    if (!doc.IsObject() || !doc["data"].IsArray()) {
      ADD_FAILURE() << r.body;
      return ids;
    }
    for (const auto& t : doc["data"].GetArray()) ids.push_back(t["traceID"].GetString());
    EXPECT_EQ(doc["total"].GetUint64(), ids.size());
    EXPECT_EQ(doc["limit"].GetInt(), 0);
    EXPECT_EQ(doc["offset"].GetInt(), 0);
    return ids;
  }

  std::string JaegerError(const http::Response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    rapidjson::Document doc = ParseJson(r);
    if (!doc.IsObject() || !doc["errors"].IsArray() || doc["errors"].Empty()) return "";
    EXPECT_TRUE(doc["data"].IsNull());
    EXPECT_EQ(doc["errors"][0]["code"].GetInt(), status);
    return doc["errors"][0]["msg"].GetString();
  }

  std::string V3Error(const http::Response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    rapidjson::Document doc = ParseJson(r);
    if (!doc.IsObject() || !doc.HasMember("error")) return "";
    EXPECT_EQ(doc["error"]["httpCode"].GetInt(), status);
    return doc["error"]["message"].GetString();
  }

  http::Response Call(const http::Request& r) { return service_.Handle(r); }

  std::vector<trace_v1::TracesData> datas_;
  storage::InMemoryTraceStore store_;
  FakeClock clock_{kNow};
  QueryService service_{&store_, &clock_};
};

const std::string kHex1 = Id(1).Hex();
const std::string kHex2 = Id(2).Hex();
const std::string kHex3 = Id(3).Hex();
const std::string kHex4 = Id(4).Hex();

TEST_F(QuerySearchTest, JaegerSearchByServiceIsNewestFirstWithinTheDefaultLookback) {
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "front"}}))),
              ElementsAre(kHex3, kHex2, kHex1));
  // An explicit start reaches the old trace.
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "front"}, {"lookback", "7d"}}))),
              ElementsAre(kHex3, kHex2, kHex1, kHex4));
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "front"}, {"limit", "2"}}))),
              ElementsAre(kHex3, kHex2));
}

TEST_F(QuerySearchTest, JaegerSearchReturnsWholeTracesInTheJaegerModel) {
  http::Response r = Call(Get("/api/traces", {{"service", "inventory"}, {"minDuration", "3s"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  ASSERT_EQ(doc["data"].Size(), 1u);
  const auto& trace = doc["data"][0];
  EXPECT_EQ(std::string(trace["traceID"].GetString()), kHex2);
  // Both spans, not just the slow one.
  EXPECT_EQ(trace["spans"].Size(), 2u);
  EXPECT_TRUE(trace["processes"].IsObject());
  EXPECT_TRUE(doc["errors"].IsNull());
}

TEST_F(QuerySearchTest, DurationsApplyToTheServiceSpans) {
  // The front span of trace 2 is 4.1 s, inventory's 4 s: maxDuration 4s keeps inventory only.
  EXPECT_THAT(JaegerIds(Call(
                  Get("/api/traces",
                      {{"service", "inventory"}, {"minDuration", "3s"}, {"maxDuration", "4s"}}))),
              ElementsAre(kHex2));
  EXPECT_TRUE(
      JaegerIds(Call(Get("/api/traces",
                         {{"service", "front"}, {"minDuration", "3s"}, {"maxDuration", "4s"}})))
          .empty());
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "front"},
                                                 {"operation", "GET /checkout"},
                                                 {"minDuration", "25ms"}}))),
              ElementsAre(kHex3, kHex2));
}

TEST_F(QuerySearchTest, TagsAsJsonAndAsKeyValue) {
  EXPECT_THAT(
      JaegerIds(Call(Get("/api/traces", {{"service", "front"}, {"tags", R"({"user.id":"ann"})"}}))),
      ElementsAre(kHex3, kHex1));
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "front"}, {"tag", "user.id:bob"}}))),
              ElementsAre(kHex2));
  // error=true finds the failed trace, with or without a service.
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"tags", R"({"error":"true"})"}}))),
              ElementsAre(kHex3));
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "payment"}, {"tag", "error:true"}}))),
              ElementsAre(kHex3));
  // AND of tags that hold on different services needs no service.
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"tag", "error:true"}, {"tag", "user.id:ann"}}))),
              ElementsAre(kHex3));
  EXPECT_TRUE(
      JaegerIds(Call(Get("/api/traces", {{"service", "front"}, {"tag", "error:true"}}))).empty());
}

TEST_F(QuerySearchTest, UnknownServiceIsAnEmptyResult) {
  http::Response r = Call(Get("/api/traces", {{"service", "nope"}}));
  EXPECT_TRUE(JaegerIds(r).empty());
  EXPECT_THAT(r.body, HasSubstr("\"data\":[]"));
}

TEST_F(QuerySearchTest, TraceIdsAreFetchedAndMissingOnesReported) {
  http::Response r = Call(
      Get("/api/traces",
          {{"traceID", kHex2}, {"traceID", "ffff"}, {"traceID", kHex4}, {"service", "ignored"}}));
  EXPECT_THAT(JaegerIds(r), ElementsAre(kHex2, kHex4));
  rapidjson::Document doc = ParseJson(r);
  ASSERT_TRUE(doc["errors"].IsArray());
  ASSERT_EQ(doc["errors"].Size(), 1u);
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), 404);
  EXPECT_EQ(std::string(doc["errors"][0]["traceID"].GetString()),
            "0000000000000000000000000000ffff");
}

TEST_F(QuerySearchTest, BadJaegerParametersAre400NamingThem) {
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"minDuration", "soon"}})), 400),
              HasSubstr("minDuration"));
  EXPECT_THAT(
      JaegerError(Call(Get("/api/traces", {{"minDuration", "2s"}, {"maxDuration", "1s"}})), 400),
      HasSubstr("maxDuration"));
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"start", "x"}})), 400), HasSubstr("start"));
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"limit", "-1"}})), 400), HasSubstr("limit"));
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"limit", "1000000"}})), 400),
              HasSubstr("limit"));
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"tags", "{"}})), 400), HasSubstr("tags"));
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"traceID", "zz"}})), 400),
              HasSubstr("traceID"));
  EXPECT_THAT(JaegerError(Call(Get("/api/traces", {{"operation", "GET"}})), 400),
              HasSubstr("service"));
  // A tag value the index never holds is refused by the store: also a 400.
  EXPECT_THAT(
      JaegerError(Call(Get("/api/traces", {{"tag", "user.id:" + std::string(300, 'x')}})), 400),
      HasSubstr("max_value_length"));
}

TEST_F(QuerySearchTest, V3SearchReturnsOtlpJsonNewestTraceFirst) {
  http::Response r = Call(Get("/api/v3/traces", {{"query.service_name", "front"},
                                                 {"query.attributes", R"({"user.id":"ann"})"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  const auto& rs = doc["result"]["resourceSpans"];
  ASSERT_TRUE(rs.IsArray());
  std::vector<std::string> trace_ids;
  for (const auto& resource : rs.GetArray()) {
    for (const auto& ss : resource["scopeSpans"].GetArray()) {
      for (const auto& span : ss["spans"].GetArray()) {
        const std::string id = span["traceId"].GetString();
        if (trace_ids.empty() || trace_ids.back() != id) trace_ids.push_back(id);
      }
    }
  }
  EXPECT_THAT(trace_ids, ElementsAre(kHex3, kHex1));
  EXPECT_EQ(rs.Size(), 4u);  // two resources per trace

  r = Call(Get("/api/v3/traces", {{"query.serviceName", "inventory"},
                                  {"query.durationMin", "3s"},
                                  {"query.startTimeMin", "2023-11-14T21:00:00Z"},
                                  {"query.startTimeMax", "2023-11-14T22:13:20Z"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(kHex2));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr(kHex1)));
}

TEST_F(QuerySearchTest, V3EmptyResultAndErrors) {
  http::Response r = Call(Get("/api/v3/traces", {{"query.service_name", "nope"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  ASSERT_TRUE(doc["result"].IsObject());
  EXPECT_TRUE(!doc["result"].HasMember("resourceSpans") || doc["result"]["resourceSpans"].Empty());
  EXPECT_THAT(V3Error(Call(Get("/api/v3/traces", {{"query.start_time_min", "yesterday"}})), 400),
              HasSubstr("query.start_time_min"));
  EXPECT_THAT(V3Error(Call(Get("/api/v3/traces", {{"query.num_traces", "-1"}})), 400),
              HasSubstr("query.num_traces"));
  EXPECT_THAT(V3Error(Call(Get("/api/v3/trace-summaries", {{"query.duration_max", "x"}})), 400),
              HasSubstr("query.duration_max"));
}

TEST_F(QuerySearchTest, TraceSummariesListWithoutSpans) {
  http::Response r = Call(
      Get("/api/v3/trace-summaries", {{"query.service_name", "front"}, {"query.num_traces", "2"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  const auto& s = doc["summaries"];
  ASSERT_EQ(s.Size(), 2u);
  EXPECT_EQ(std::string(s[0]["traceId"].GetString()), kHex3);
  EXPECT_EQ(std::string(s[1]["traceId"].GetString()), kHex2);
  EXPECT_EQ(std::string(s[0]["rootServiceName"].GetString()), "front");
  EXPECT_EQ(std::string(s[0]["rootOperationName"].GetString()), "GET /checkout");
  EXPECT_EQ(std::string(s[0]["minStartTimeUnixNano"].GetString()),
            std::to_string(kNow - 600 * kSec));
  EXPECT_EQ(std::string(s[0]["maxEndTimeUnixNano"].GetString()),
            std::to_string(kNow - 600 * kSec + 30 * kMs));
  EXPECT_EQ(std::string(s[0]["durationNano"].GetString()), std::to_string(30 * kMs));
  EXPECT_EQ(s[0]["spanCount"].GetUint(), 2u);
  EXPECT_EQ(s[0]["errorSpanCount"].GetUint(), 1u);
  EXPECT_EQ(s[0]["orphanSpanCount"].GetUint(), 0u);
  ASSERT_EQ(s[0]["services"].Size(), 2u);
  EXPECT_EQ(std::string(s[0]["services"][1]["name"].GetString()), "payment");
  EXPECT_EQ(s[0]["services"][1]["errorSpanCount"].GetUint(), 1u);
  EXPECT_FALSE(s[0].HasMember("spans"));
  // The sampling decision: the policy only when there is one, the rate when known.
  EXPECT_EQ(std::string(s[0]["samplingPolicy"].GetString()), "errors");
  EXPECT_EQ(s[0]["samplingRate"].GetDouble(), 4.0);
  EXPECT_FALSE(s[1].HasMember("samplingPolicy")) << r.body;
  EXPECT_EQ(s[1]["samplingRate"].GetDouble(), 1.0);
}

TEST_F(QuerySearchTest, TraceSummariesLeaveOutASamplingDecisionNotKnown) {
  // As a summary an earlier version stored reads: no policy, rate 0.
  Write(Id(5), {{"legacy", "GET /", 1, 0, kNow - 60 * kSec}}, "", 0);
  http::Response r = Call(Get("/api/v3/trace-summaries", {{"query.service_name", "legacy"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  ASSERT_EQ(doc["summaries"].Size(), 1u) << r.body;
  EXPECT_FALSE(doc["summaries"][0].HasMember("samplingPolicy")) << r.body;
  EXPECT_FALSE(doc["summaries"][0].HasMember("samplingRate")) << r.body;
}

TEST_F(QuerySearchTest, DependenciesInTheJaegerEnvelope) {
  http::Response r = Call(
      Get("/api/dependencies", {{"endTs", std::to_string(kNow / kMs)}, {"lookback", "86400000"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc = ParseJson(r);
  const auto& data = doc["data"];
  ASSERT_EQ(data.Size(), 2u);
  EXPECT_EQ(std::string(data[0]["parent"].GetString()), "front");
  EXPECT_EQ(std::string(data[0]["child"].GetString()), "inventory");
  EXPECT_EQ(data[0]["callCount"].GetUint64(), 2u);
  ASSERT_TRUE(data[0].HasMember("errorCount")) << r.body;
  EXPECT_EQ(data[0]["errorCount"].GetUint64(), 0u);
  EXPECT_EQ(std::string(data[1]["child"].GetString()), "payment");
  EXPECT_EQ(data[1]["callCount"].GetUint64(), 1u);
  EXPECT_EQ(data[1]["errorCount"].GetUint64(), 1u) << "the payment span failed";
  EXPECT_EQ(doc["total"].GetUint64(), 2u);
  // The default window is the last 24 h before now.
  r = Call(Get("/api/dependencies", {{"service", "payment"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  doc = ParseJson(r);
  ASSERT_EQ(doc["data"].Size(), 1u);
  EXPECT_EQ(std::string(doc["data"][0]["child"].GetString()), "payment");
  // A window before everything.
  r = Call(Get("/api/dependencies", {{"endTs", "1000"}, {"lookback", "1000"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ParseJson(r)["data"].Size(), 0u);
  EXPECT_THAT(JaegerError(Call(Get("/api/dependencies", {{"endTs", "today"}})), 400),
              HasSubstr("endTs"));
  EXPECT_THAT(JaegerError(Call(Get("/api/dependencies", {{"lookback", "-5"}})), 400),
              HasSubstr("lookback"));
}

TEST_F(QuerySearchTest, ClockGivesNow) {
  // Two days later trace 1 (an hour older than the others) falls out of the default window first.
  clock_.Advance(2 * 24 * 3600 * kSec - 3000 * kSec);
  EXPECT_THAT(JaegerIds(Call(Get("/api/traces", {{"service", "front"}}))),
              ElementsAre(kHex3, kHex2));
}

// A store whose searches fail.
class FailingSearchStore final : public storage::TraceStore {
 public:
  explicit FailingSearchStore(absl::Status status) : status_(std::move(status)) {}
  absl::Status Write(std::span<const storage::TraceWrite>) override { return status_; }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId&) override {
    return status_;
  }
  absl::StatusOr<std::vector<std::string>> GetServices() override { return status_; }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string&, int) override {
    return status_;
  }
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(
      const storage::TraceQuery&) override {
    return status_;
  }
  absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(int64_t, int64_t) override {
    return status_;
  }
  absl::Status Flush() override { return status_; }
  storage::StoreStats Stats() const override { return {}; }

 private:
  absl::Status status_;
};

TEST(QuerySearchFailureTest, StoreFailuresAre503Or500) {
  FakeClock clock(kNow);
  FailingSearchStore unavailable(absl::UnavailableError("disk on fire"));
  QueryService a(&unavailable, &clock);
  EXPECT_EQ(a.Handle(Get("/api/traces", {{"service", "x"}})).status, 503);
  EXPECT_EQ(a.Handle(Get("/api/v3/traces")).status, 503);
  EXPECT_EQ(a.Handle(Get("/api/v3/trace-summaries")).status, 503);
  EXPECT_EQ(a.Handle(Get("/api/dependencies")).status, 503);
  FailingSearchStore corrupt(absl::DataLossError("bad bytes"));
  QueryService b(&corrupt, &clock);
  http::Response r = b.Handle(Get("/api/traces", {{"service", "x"}}));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("bad bytes"));
}

TEST(QuerySearchFailureTest, SearchIsGetOnly) {
  FakeClock clock(kNow);
  storage::InMemoryTraceStore store;
  QueryService service(&store, &clock);
  for (const char* path :
       {"/api/traces", "/api/v3/traces", "/api/v3/trace-summaries", "/api/dependencies"}) {
    http::Request r = Get(path);
    r.method = "POST";
    EXPECT_EQ(service.Handle(r).status, 405) << path;
  }
}

}  // namespace
}  // namespace tailtrace::query
