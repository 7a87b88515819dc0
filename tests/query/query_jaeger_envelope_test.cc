// The exact bytes of the Jaeger trace responses of QueryService (trace by ID, traces by ID with
// one missing, search): the envelope the service writes with JsonBuffer must be the one it wrote
// through rapidjson's Writer, around the reference rendering of each trace.

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "query/query_service.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/jaeger_json_reference.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using testing::Get;

namespace trace_v1 = opentelemetry::proto::trace::v1;

constexpr uint64_t kStartNs = 1'700'000'000'000'000'000ull;

std::string Id(uint8_t first, uint8_t last, size_t bytes) {
  std::string s(bytes, '\0');
  s.front() = static_cast<char>(first);
  s.back() = static_cast<char>(last);
  return s;
}

class QueryJaegerEnvelopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint8_t t = 1; t <= 3; ++t) {
      trace_v1::TracesData data;
      auto* rs = data.add_resource_spans();
      auto* kv = rs->mutable_resource()->add_attributes();
      kv->set_key("service.name");
      kv->mutable_value()->set_string_value("front\"end");
      for (uint8_t s = 1; s <= 3; ++s) {
        auto* span = rs->add_scope_spans()->add_spans();
        span->set_trace_id(Id(0xab, t, 16));
        span->set_span_id(Id(t, s, 8));
        if (s > 1) span->set_parent_span_id(Id(t, 1, 8));
        span->set_name("op\n" + std::to_string(s));
        span->set_start_time_unix_nano(kStartNs + t * 1'000'000 + s * 1000);
        span->set_end_time_unix_nano(kStartNs + t * 1'000'000 + 5'000'000);
        auto* attr = span->add_attributes();
        attr->set_key("user.id");
        attr->mutable_value()->set_string_value("u\\" + std::to_string(t));
      }
      storage::TraceWrite w{TraceId::FromBytes(Id(0xab, t, 16)), &data, "p", 2.0, {}};
      std::vector<storage::TraceWrite> writes{w};
      ASSERT_TRUE(store_.Write(writes).ok());
    }
  }

  std::string Reference(uint8_t t) {
    auto got = store_.GetTrace(TraceId::FromBytes(Id(0xab, t, 16)));
    EXPECT_TRUE(got.ok() && got->has_value());
    return reference::RenderJaegerTrace(**got);
  }

  storage::InMemoryTraceStore store_;
  FakeClock clock_{static_cast<int64_t>(kStartNs) + 60'000'000'000};
  QueryService service_{&store_, &clock_};
};

TEST_F(QueryJaegerEnvelopeTest, TraceById) {
  const http::Response r = service_.Handle(Get("/api/traces/ab000000000000000000000000000002"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            R"({"data":[)" + Reference(2) + R"(],"total":1,"limit":0,"offset":0,"errors":null})");
}

TEST_F(QueryJaegerEnvelopeTest, TracesByIdListMissingOnesInErrors) {
  const http::Response r =
      service_.Handle(Get("/api/traces", {{"traceID", "ab000000000000000000000000000001"},
                                          {"traceID", "ab0000000000000000000000000000ff"},
                                          {"traceID", "ab000000000000000000000000000003"},
                                          {"traceID", "cd"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"data":[)" + Reference(1) + "," + Reference(3) +
          R"(],"total":2,"limit":0,"offset":0,"errors":[)"
          R"({"code":404,"msg":"trace not found","traceID":"ab0000000000000000000000000000ff"},)"
          R"({"code":404,"msg":"trace not found","traceID":"000000000000000000000000000000cd"}]})");
}

TEST_F(QueryJaegerEnvelopeTest, TracesByIdAllMissing) {
  const http::Response r =
      service_.Handle(Get("/api/traces", {{"traceID", "ab0000000000000000000000000000ff"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"data":[],"total":0,"limit":0,"offset":0,"errors":[)"
      R"({"code":404,"msg":"trace not found","traceID":"ab0000000000000000000000000000ff"}]})");
}

TEST_F(QueryJaegerEnvelopeTest, SearchRendersEveryFoundTraceNewestFirst) {
  const http::Response r = service_.Handle(Get("/api/traces", {{"service", "front\"end"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"data":[)" + Reference(3) + "," + Reference(2) + "," + Reference(1) +
                        R"(],"total":3,"limit":0,"offset":0,"errors":null})");
}

TEST_F(QueryJaegerEnvelopeTest, SearchWithoutMatchIsAnEmptyArray) {
  const http::Response r = service_.Handle(Get("/api/traces", {{"service", "nobody"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"data":[],"total":0,"limit":0,"offset":0,"errors":null})");
}

}  // namespace
}  // namespace tailtrace::query
