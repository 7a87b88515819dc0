// The Jaeger SPM API (/api/metrics/...) over span metrics points in an InMemoryTraceStore.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_service.h"
#include "query/spm.h"
#include "rapidjson/document.h"
#include "spanmetrics/quantile.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"
#include "tests/storage/failing_trace_store.h"

namespace tailtrace::query {
namespace {

using ::testing::ElementsAre;
using testing::Get;
using ::testing::HasSubstr;
using ::testing::IsNan;
using testing::Params;
using testing::ParseJson;

constexpr int64_t kNsPerMs = 1'000'000;
// 2023-11-14T22:14:00Z, 40 s after the FakeClock's default now.
constexpr int64_t kEndMs = 1'700'000'040'000;
constexpr int kServer = 2;
constexpr int kClient = 3;
constexpr int kOk = 1;
constexpr int kError = 2;
const std::vector<double> kBounds = {10, 100, 1000};

// A point `ago_s` seconds before kEndMs.
storage::MetricPoint Point(std::string service, std::string operation, int kind, int status,
                           int64_t ago_s, std::vector<uint64_t> counts,
                           std::vector<double> bounds = kBounds) {
  storage::MetricPoint p;
  p.series = {std::move(service), std::move(operation), kind, status};
  p.time_ns = (kEndMs - ago_s * 1000) * kNsPerMs;
  for (uint64_t c : counts) p.calls += c;
  p.counts = std::move(counts);
  p.bounds_ms = std::move(bounds);
  return p;
}

// endTs = kEndMs, times kEndMs - 120 s, - 60 s and kEndMs, each over the minute before it.
Params Range(Params more = {}) {
  Params p = {{"endTs", std::to_string(kEndMs)},
              {"lookback", "120000"},
              {"step", "60000"},
              {"ratePer", "60000"}};
  p.insert(p.end(), more.begin(), more.end());
  return p;
}

constexpr char kT0[] = "2023-11-14T22:12:00Z";
constexpr char kT1[] = "2023-11-14T22:13:00Z";
constexpr char kT2[] = "2023-11-14T22:14:00Z";

// A metric point's value: the number, or NaN for jsonpb's "NaN" string.
double Value(const rapidjson::Value& point) {
  const rapidjson::Value& v = point["gaugeValue"]["doubleValue"];
  if (v.IsString() && std::string(v.GetString()) == "NaN") return std::nan("");
  EXPECT_TRUE(v.IsNumber()) << "not a number";
  return v.IsNumber() ? v.GetDouble() : -1;
}

std::vector<double> Values(const rapidjson::Value& metric) {
  std::vector<double> out;
  for (const auto& p : metric["metricPoints"].GetArray()) out.push_back(Value(p));
  return out;
}

std::vector<std::string> Stamps(const rapidjson::Value& metric) {
  std::vector<std::string> out;
  for (const auto& p : metric["metricPoints"].GetArray()) out.push_back(p["timestamp"].GetString());
  return out;
}

// "service" or "service/operation" of a metric's labels, checking service_name comes first.
std::string LabelsOf(const rapidjson::Value& metric) {
  const auto& labels = metric["labels"];
  EXPECT_STREQ(labels[0]["name"].GetString(), "service_name");
  std::string out = labels[0]["value"].GetString();
  if (labels.Size() > 1) {
    EXPECT_STREQ(labels[1]["name"].GetString(), "operation");
    out += "/" + std::string(labels[1]["value"].GetString());
  }
  return out;
}

// The Jaeger error envelope's message, with its code checked.
std::string ErrorMessage(const http::Response& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  rapidjson::Document doc = ParseJson(r);
  if (!doc.IsObject() || !doc.HasMember("errors") || !doc["errors"].IsArray()) return "";
  EXPECT_TRUE(doc["data"].IsNull());
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), status);
  return doc["errors"][0]["msg"].GetString();
}

class QuerySpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Write({
        // checkout/pay, server: 12 calls 150 s ago, 30 at 90 s, 60 + 6 errors at 30 s.
        Point("checkout", "pay", kServer, kOk, 150, {12, 0, 0, 0}),
        Point("checkout", "pay", kServer, kOk, 90, {10, 15, 5, 0}),
        Point("checkout", "pay", kServer, kOk, 30, {0, 30, 20, 10}),
        Point("checkout", "pay", kServer, kError, 30, {0, 0, 0, 6}),
        // checkout/refund, server: 6 calls at 30 s.
        Point("checkout", "refund", kServer, kOk, 30, {0, 6, 0, 0}),
        // checkout/bank, client: 120 calls at 30 s.
        Point("checkout", "bank", kClient, kOk, 30, {0, 0, 120, 0}),
        // cart: 3 calls 150 s ago only.
        Point("cart", "add", kServer, kOk, 150, {3, 0, 0, 0}),
    });
  }

  void Write(std::vector<storage::MetricPoint> points) {
    ASSERT_TRUE(store_.WriteMetricPoints(points).ok());
  }

  rapidjson::Document Ok(const std::string& path, const Params& params) {
    const http::Response r = service_.Handle(Get(path, params));
    EXPECT_EQ(r.status, 200) << r.body;
    return ParseJson(r);
  }

  storage::InMemoryTraceStore store_;
  FakeClock clock_;
  QueryService service_{&store_, &clock_};
};

TEST_F(QuerySpmTest, CallRateIsTheExactJaegerMetricFamily) {
  const http::Response r = service_.Handle(Get("/api/metrics/calls", Range({{"service", "cart"}})));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, std::string(R"({"name":"service_call_rate","type":"GAUGE",)"
                                R"("help":"calls/sec, grouped by service","metrics":[{"labels":[)"
                                R"({"name":"service_name","value":"cart"}],"metricPoints":[)"
                                R"({"gaugeValue":{"doubleValue":0.05},"timestamp":")") +
                        kT0 + R"("},{"gaugeValue":{"doubleValue":0.0},"timestamp":")" + kT1 +
                        R"("},{"gaugeValue":{"doubleValue":0.0},"timestamp":")" + kT2 +
                        R"("}]}]})");
  EXPECT_TRUE(r.headers.empty());
}

TEST_F(QuerySpmTest, CallRateCountsEachWindowOverRatePerSeconds) {
  const rapidjson::Document doc = Ok("/api/metrics/calls", Range({{"service", "checkout"}}));
  ASSERT_EQ(doc["metrics"].Size(), 1u);
  const auto& m = doc["metrics"][0];
  EXPECT_EQ(LabelsOf(m), "checkout");
  EXPECT_EQ(m["labels"].Size(), 1u);
  // Server spans only (the default): 12, 30 and 60 + 6 + 6 calls a minute.
  EXPECT_THAT(Values(m), ElementsAre(12.0 / 60, 30.0 / 60, 72.0 / 60));
  EXPECT_THAT(Stamps(m), ElementsAre(kT0, kT1, kT2));
}

TEST_F(QuerySpmTest, ASlotCountsInTheWindowItStartsIn) {
  // Slots starting exactly at kT1 and at kT0: [t - ratePer, t) holds its start, not its end.
  Write({Point("edge", "op", kServer, kOk, 60, {60, 0, 0, 0}),
         Point("edge", "op", kServer, kOk, 120, {30, 0, 0, 0}),
         // Starts at endTs: in no window, so "late" is not listed.
         Point("late", "op", kServer, kOk, 0, {5, 0, 0, 0})});
  const rapidjson::Document doc =
      Ok("/api/metrics/calls", Range({{"service", "edge"}, {"service", "late"}}));
  ASSERT_EQ(doc["metrics"].Size(), 1u);
  EXPECT_EQ(LabelsOf(doc["metrics"][0]), "edge");
  // Before edge's first slot (kT0 - 60 s ... kT0) there is no value.
  EXPECT_THAT(Values(doc["metrics"][0]), ElementsAre(IsNan(), 0.5, 1.0));
}

TEST_F(QuerySpmTest, RatePerWidensTheWindow) {
  Params p = Range({{"service", "checkout"}});
  p[3].second = "120000";  // ratePer: 2 minutes
  const rapidjson::Document doc = Ok("/api/metrics/calls", p);
  // kT0: 12 (150 s ago); kT1: 12 + 30; kT2: 30 + 72.
  EXPECT_THAT(Values(doc["metrics"][0]), ElementsAre(12.0 / 120, 42.0 / 120, 102.0 / 120));
}

TEST_F(QuerySpmTest, ErrorRateIsTheFractionOfCallsAndNaNWithoutCalls) {
  const http::Response r = service_.Handle(
      Get("/api/metrics/errors", Range({{"service", "checkout"}, {"service", "cart"}})));
  EXPECT_THAT(r.body, HasSubstr(R"({"doubleValue":"NaN"})"));
  const rapidjson::Document doc = ParseJson(r);
  EXPECT_STREQ(doc["name"].GetString(), "service_error_rate");
  EXPECT_STREQ(doc["help"].GetString(),
               "error rate, computed as a fraction of errors/sec over calls/sec, grouped by "
               "service");
  ASSERT_EQ(doc["metrics"].Size(), 2u);
  EXPECT_EQ(LabelsOf(doc["metrics"][0]), "cart");
  const std::vector<double> cart = Values(doc["metrics"][0]);
  EXPECT_EQ(cart[0], 0.0);                                            // calls but no error
  EXPECT_TRUE(std::isnan(cart[1]) && std::isnan(cart[2])) << r.body;  // no call
  EXPECT_EQ(LabelsOf(doc["metrics"][1]), "checkout");
  EXPECT_THAT(Values(doc["metrics"][1]), ElementsAre(0.0, 0.0, 6.0 / 72));
}

TEST_F(QuerySpmTest, LatenciesAreTheQuantileOfTheWindowsBuckets) {
  const rapidjson::Document doc =
      Ok("/api/metrics/latencies", Range({{"service", "checkout"}, {"quantile", "0.5"}}));
  EXPECT_STREQ(doc["name"].GetString(), "service_latencies");
  EXPECT_STREQ(doc["help"].GetString(), "0.50th quantile latency, grouped by service");
  const std::vector<double> v = Values(doc["metrics"][0]);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_DOUBLE_EQ(v[0], 5);                           // 12 in (0, 10]: the median is halfway
  const std::vector<uint64_t> last = {0, 36, 20, 16};  // pay ok + pay error + refund
  EXPECT_DOUBLE_EQ(v[2], spanmetrics::HistogramQuantile(0.5, kBounds, last));
  // Rank 36 of 72: the last of the 36 in (10, 100].
  EXPECT_DOUBLE_EQ(v[2], 100);
}

TEST_F(QuerySpmTest, LatenciesOfAnEmptyWindowAreNaN) {
  const rapidjson::Document doc =
      Ok("/api/metrics/latencies", Range({{"service", "cart"}, {"quantile", "0.95"}}));
  EXPECT_STREQ(doc["help"].GetString(), "0.95th quantile latency, grouped by service");
  const std::vector<double> v = Values(doc["metrics"][0]);
  EXPECT_DOUBLE_EQ(v[0], 9.5);
  EXPECT_TRUE(std::isnan(v[1]));
  EXPECT_TRUE(std::isnan(v[2]));
}

TEST_F(QuerySpmTest, LatenciesSumOnlyPointsWithTheNewestBounds) {
  // 90 s ago, other buckets: its calls count, its histogram does not.
  Write({Point("search", "find", kServer, kOk, 90, {0, 1000}, {5}),
         Point("search", "find", kServer, kOk, 30, {4, 0, 0, 0})});
  Params p = Range({{"service", "search"}, {"quantile", "0.5"}});
  p[3].second = "120000";  // ratePer 2 min: the last window holds both points
  const rapidjson::Document lat = Ok("/api/metrics/latencies", p);
  EXPECT_DOUBLE_EQ(Values(lat["metrics"][0])[2], 5);  // the 4 in (0, 10], not the 1000 above 5
  p.pop_back();
  const rapidjson::Document calls = Ok("/api/metrics/calls", p);
  EXPECT_DOUBLE_EQ(Values(calls["metrics"][0])[2], 1004.0 / 120);
}

TEST_F(QuerySpmTest, GroupByOperationLabelsEachOperation) {
  const rapidjson::Document doc =
      Ok("/api/metrics/calls", Range({{"service", "checkout"}, {"groupByOperation", "true"}}));
  EXPECT_STREQ(doc["name"].GetString(), "service_operation_call_rate");
  EXPECT_STREQ(doc["help"].GetString(), "calls/sec, grouped by service & operation");
  ASSERT_EQ(doc["metrics"].Size(), 2u);
  EXPECT_EQ(LabelsOf(doc["metrics"][0]), "checkout/pay");
  EXPECT_THAT(Values(doc["metrics"][0]), ElementsAre(12.0 / 60, 30.0 / 60, 66.0 / 60));
  EXPECT_EQ(LabelsOf(doc["metrics"][1]), "checkout/refund");
  // refund's first slot is in kT2's window only: before it, the series did not exist.
  EXPECT_THAT(Values(doc["metrics"][1]), ElementsAre(IsNan(), IsNan(), 6.0 / 60));

  const rapidjson::Document errors =
      Ok("/api/metrics/errors", Range({{"service", "checkout"}, {"groupByOperation", "1"}}));
  EXPECT_STREQ(errors["name"].GetString(), "service_operation_error_rate");
  const rapidjson::Document lat =
      Ok("/api/metrics/latencies",
         Range({{"service", "checkout"}, {"groupByOperation", "True"}, {"quantile", "0.75"}}));
  EXPECT_STREQ(lat["name"].GetString(), "service_operation_latencies");
  EXPECT_STREQ(lat["help"].GetString(), "0.75th quantile latency, grouped by service & operation");
}

TEST_F(QuerySpmTest, SpanKindFiltersAndDefaultsToServer) {
  auto calls_at_end = [&](Params kinds) {
    Params p = Range({{"service", "checkout"}});
    p.insert(p.end(), kinds.begin(), kinds.end());
    const rapidjson::Document doc = Ok("/api/metrics/calls", p);
    return doc["metrics"].Size() == 1 ? Values(doc["metrics"][0])[2] * 60 : -1;
  };
  EXPECT_DOUBLE_EQ(calls_at_end({}), 72);
  EXPECT_DOUBLE_EQ(calls_at_end({{"spanKind", "server"}}), 72);
  EXPECT_DOUBLE_EQ(calls_at_end({{"spanKind", "CLIENT"}}), 120);
  EXPECT_DOUBLE_EQ(calls_at_end({{"spanKind", "server"}, {"spanKind", "client"}}), 192);
  const rapidjson::Document none =
      Ok("/api/metrics/calls", Range({{"service", "checkout"}, {"spanKind", "producer"}}));
  EXPECT_TRUE(none["metrics"].IsArray());
  EXPECT_EQ(none["metrics"].Size(), 0u);
}

TEST_F(QuerySpmTest, EveryServiceParamIsReportedSortedAndUnknownOnesAreLeftOut) {
  const rapidjson::Document doc = Ok("/api/metrics/calls", Range({{"service", "checkout"},
                                                                  {"service", "nobody"},
                                                                  {"service", "cart"},
                                                                  {"service", "checkout"}}));
  ASSERT_EQ(doc["metrics"].Size(), 2u);
  EXPECT_EQ(LabelsOf(doc["metrics"][0]), "cart");
  EXPECT_EQ(LabelsOf(doc["metrics"][1]), "checkout");
}

TEST_F(QuerySpmTest, DefaultsAreNowAnHourEveryFiveSeconds) {
  const rapidjson::Document doc = Ok("/api/metrics/calls", {{"service", "checkout"}});
  ASSERT_EQ(doc["metrics"].Size(), 1u);
  const std::vector<std::string> stamps = Stamps(doc["metrics"][0]);
  ASSERT_EQ(stamps.size(), 721u);
  EXPECT_EQ(stamps.front(), "2023-11-14T21:13:20Z");
  EXPECT_EQ(stamps[1], "2023-11-14T21:13:25Z");
  EXPECT_EQ(stamps.back(), "2023-11-14T22:13:20Z");  // the clock's now
  // ratePer 10 min: at now (40 s before kEndMs) the window holds every point but the 30 s ones.
  EXPECT_DOUBLE_EQ(Values(doc["metrics"][0]).back(), 42.0 / 600);
}

TEST_F(QuerySpmTest, TimesStartAtEndMinusLookbackLikeAPrometheusRangeQuery) {
  SpmQuery q;
  q.end_ns = 10'000 * kNsPerMs;
  q.lookback_ns = 2'500 * kNsPerMs;
  q.step_ns = 1'000 * kNsPerMs;
  q.rate_per_ns = 1'000 * kNsPerMs;
  EXPECT_THAT(SpmTimes(q), ElementsAre(7'500 * kNsPerMs, 8'500 * kNsPerMs, 9'500 * kNsPerMs));
  const storage::MetricPointQuery read = SpmReadRange(q);
  EXPECT_EQ(read.start_ns, 6'500 * kNsPerMs);
  EXPECT_EQ(read.end_ns, 9'500 * kNsPerMs - 1);
}

TEST(SpmTimestampTest, Rfc3339InUtcWithTheFractionJsonpbWrites) {
  EXPECT_EQ(SpmTimestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(SpmTimestamp(1'500'000'000), "1970-01-01T00:00:01.500Z");
  EXPECT_EQ(SpmTimestamp(1'000), "1970-01-01T00:00:00.000001Z");
  EXPECT_EQ(SpmTimestamp(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(SpmTimestamp(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(SpmTimestamp(kEndMs * kNsPerMs + 250 * kNsPerMs), "2023-11-14T22:14:00.250Z");
}

TEST_F(QuerySpmTest, BadParametersAre400NamingThem) {
  auto message = [&](const std::string& path, Params params) {
    return ErrorMessage(service_.Handle(Get(path, std::move(params))), 400);
  };
  const std::string calls = "/api/metrics/calls";
  EXPECT_THAT(message(calls, Range()), HasSubstr("service"));
  EXPECT_THAT(message(calls, Range({{"service", ""}})), HasSubstr("service"));
  const Params svc = {{"service", "checkout"}};
  auto with = [&](std::string key, std::string value) {
    Params p = svc;
    p.emplace_back(std::move(key), std::move(value));
    return p;
  };
  for (const char* param : {"step", "lookback", "ratePer"}) {
    EXPECT_THAT(message(calls, with(param, "0")), HasSubstr(param));
    EXPECT_THAT(message(calls, with(param, "-5")), HasSubstr(param));
    EXPECT_THAT(message(calls, with(param, "5s")), HasSubstr(param));
  }
  EXPECT_THAT(message(calls, with("endTs", "-1")), HasSubstr("endTs"));
  EXPECT_THAT(message(calls, with("endTs", "soon")), HasSubstr("endTs"));
  EXPECT_THAT(message(calls, with("spanKind", "bogus")), HasSubstr("spanKind"));
  EXPECT_THAT(message(calls, with("spanKind", "")), HasSubstr("spanKind"));
  EXPECT_THAT(message(calls, with("groupByOperation", "maybe")), HasSubstr("groupByOperation"));
  const std::string lat = "/api/metrics/latencies";
  EXPECT_THAT(message(lat, svc), HasSubstr("quantile"));
  EXPECT_THAT(message(lat, with("quantile", "1.5")), HasSubstr("quantile"));
  EXPECT_THAT(message(lat, with("quantile", "-0.1")), HasSubstr("quantile"));
  EXPECT_THAT(message(lat, with("quantile", "p95")), HasSubstr("quantile"));
  EXPECT_THAT(message(lat, with("quantile", "nan")), HasSubstr("quantile"));
  EXPECT_THAT(message(lat, {{"quantile", "0.9"}}), HasSubstr("service"));
}

TEST_F(QuerySpmTest, MoreThan11000StepsAre400) {
  Params p = {{"service", "checkout"}, {"lookback", "11000"}, {"step", "1"}};
  const rapidjson::Document doc = Ok("/api/metrics/calls", p);
  EXPECT_EQ(doc["metrics"][0]["metricPoints"].Size(), 11001u);
  p[1].second = "11001";
  EXPECT_THAT(ErrorMessage(service_.Handle(Get("/api/metrics/calls", p)), 400), HasSubstr("step"));
}

TEST_F(QuerySpmTest, AnAnswerOfMoreThanTwoMillionPointsIs422) {
  // 200 operations x 11001 times.
  std::vector<storage::MetricPoint> many;
  for (int i = 0; i < 200; ++i) {
    many.push_back(Point("big", "op" + std::to_string(i), kServer, kOk, 30, {1, 0, 0, 0}));
  }
  Write(many);
  Params p = {{"service", "big"},
              {"endTs", std::to_string(kEndMs)},
              {"lookback", "110000"},
              {"step", "10"}};
  EXPECT_EQ(service_.Handle(Get("/api/metrics/calls", p)).status, 200);  // one series
  p.emplace_back("groupByOperation", "true");
  EXPECT_THAT(ErrorMessage(service_.Handle(Get("/api/metrics/calls", p)), 422),
              HasSubstr("groupByOperation"));
}

TEST_F(QuerySpmTest, QuantileIsIgnoredOutsideLatencies) {
  const rapidjson::Document doc =
      Ok("/api/metrics/calls", Range({{"service", "cart"}, {"quantile", "0.95"}}));
  EXPECT_STREQ(doc["help"].GetString(), "calls/sec, grouped by service");
}

TEST_F(QuerySpmTest, MinStepIsOneMillisecondInTheEnvelope) {
  const http::Response r = service_.Handle(Get("/api/metrics/minstep"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"data":1,"total":0,"limit":0,"offset":0,"errors":null})");
}

TEST_F(QuerySpmTest, DisabledSpanMetricsAre501OnEveryMetricsPath) {
  QueryOptions options;
  options.span_metrics_enabled = false;
  QueryService disabled(&store_, &clock_, options);
  for (const char* path : {"/api/metrics/calls", "/api/metrics/errors", "/api/metrics/latencies",
                           "/api/metrics/minstep"}) {
    EXPECT_THAT(ErrorMessage(disabled.Handle(Get(path, Range({{"service", "checkout"}}))), 501),
                HasSubstr("disabled"))
        << path;
  }
  // Even without parameters: the UI's probe must learn that metrics are off.
  EXPECT_EQ(disabled.Handle(Get("/api/metrics/latencies")).status, 501);
  // The other APIs still answer.
  EXPECT_EQ(disabled.Handle(Get("/api/services")).status, 200);
}

TEST_F(QuerySpmTest, UnknownMetricsPathIs404AndOtherMethods405) {
  EXPECT_EQ(service_.Handle(Get("/api/metrics/durations")).status, 404);
  EXPECT_EQ(service_.Handle(Get("/api/metrics")).status, 404);
  http::Request post = Get("/api/metrics/calls", {{"service", "checkout"}});
  post.method = "POST";
  EXPECT_EQ(service_.Handle(post).status, 405);
}

TEST_F(QuerySpmTest, PrettyPrintIndentsTheFamily) {
  Params p = Range({{"service", "cart"}, {"prettyPrint", "true"}});
  const http::Response r = service_.Handle(Get("/api/metrics/calls", p));
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body,
              HasSubstr("{\n    \"name\": \"service_call_rate\",\n    \"type\": \"GAUGE\""));
  p.pop_back();
  const rapidjson::Document compact = Ok("/api/metrics/calls", p);
  EXPECT_TRUE(ParseJson(r) == compact);
}

TEST(QuerySpmStoreTest, AStoreWithoutMetricsIs501AndAFailingOne503) {
  FakeClock clock;
  storage::testing::FailingTraceStore none(absl::UnimplementedError("no span metrics here"));
  QueryService without(&none, &clock);
  EXPECT_THAT(ErrorMessage(without.Handle(Get("/api/metrics/calls", {{"service", "a"}})), 501),
              HasSubstr("no span metrics here"));
  storage::testing::FailingTraceStore down(absl::UnavailableError("disk on fire"));
  QueryService failing(&down, &clock);
  EXPECT_THAT(ErrorMessage(failing.Handle(Get("/api/metrics/errors", {{"service", "a"}})), 503),
              HasSubstr("disk on fire"));
}

}  // namespace
}  // namespace tailtrace::query
