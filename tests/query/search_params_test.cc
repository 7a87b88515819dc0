#include "query/search_params.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::query {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int64_t kUs = 1'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kNow = 1'700'000'000 * kSec;

http::Request Get(std::vector<std::pair<std::string, std::string>> query) {
  http::Request r;
  r.method = "GET";
  r.path = "/api/traces";
  r.query = std::move(query);
  return r;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(ParseGoDurationTest, AcceptsGoSyntax) {
  EXPECT_EQ(*ParseGoDuration("1.2s"), 1200 * kMs);
  EXPECT_EQ(*ParseGoDuration("100ms"), 100 * kMs);
  EXPECT_EQ(*ParseGoDuration("1m"), 60 * kSec);
  EXPECT_EQ(*ParseGoDuration("1h30m"), 5400 * kSec);
  EXPECT_EQ(*ParseGoDuration("500us"), 500 * kUs);
  EXPECT_EQ(*ParseGoDuration("500\xc2\xb5s"), 500 * kUs);  // micro sign
  EXPECT_EQ(*ParseGoDuration("500\xce\xbcs"), 500 * kUs);  // Greek mu
  EXPECT_EQ(*ParseGoDuration("7ns"), 7);
  EXPECT_EQ(*ParseGoDuration("0"), 0);
  EXPECT_EQ(*ParseGoDuration("+2s"), 2 * kSec);
  EXPECT_EQ(*ParseGoDuration(".5s"), 500 * kMs);
  EXPECT_EQ(*ParseGoDuration("1.000000001s"), kSec + 1);
  EXPECT_EQ(*ParseGoDuration("2562047h"), 2562047ll * 3600 * kSec);
  EXPECT_EQ(*ParseGoDuration("2d", /*allow_days_and_weeks=*/true), 48 * 3600 * kSec);
  EXPECT_EQ(*ParseGoDuration("2w", /*allow_days_and_weeks=*/true), 14 * 24 * 3600 * kSec);
  EXPECT_FALSE(ParseGoDuration("2w").ok());
}

TEST(ParseGoDurationTest, RefusesWhatGoRefusesAndNegatives) {
  for (const char* bad : {"", "1", "10 s", "1x", "s", "1.2.3s", "1d", "fast", "-1s", "9999999h"}) {
    EXPECT_FALSE(ParseGoDuration(bad).ok()) << bad;
  }
  EXPECT_THAT(Message(ParseGoDuration("1").status()), HasSubstr("missing unit"));
  EXPECT_THAT(Message(ParseGoDuration("-1s").status()), HasSubstr("negative"));
}

TEST(ParseRfc3339Test, AcceptsZuluFractionsAndOffsets) {
  EXPECT_EQ(*ParseRfc3339("2023-11-14T22:13:20Z"), kNow);
  EXPECT_EQ(*ParseRfc3339("2023-11-14T22:13:20.000000123Z"), kNow + 123);
  EXPECT_EQ(*ParseRfc3339("2023-11-15T00:13:20+02:00"), kNow);
  EXPECT_FALSE(ParseRfc3339("2023-11-14").ok());
  EXPECT_FALSE(ParseRfc3339("1700000000").ok());
  EXPECT_FALSE(ParseRfc3339("2023-11-14T22:13:20").ok());  // no offset
}

TEST(ParseJaegerSearchTest, DefaultsFollowJaeger) {
  absl::StatusOr<JaegerSearch> s = ParseJaegerSearch(Get({{"service", "front"}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->trace_ids.empty());
  EXPECT_EQ(s->query.service, "front");
  EXPECT_EQ(s->query.limit, 100);
  EXPECT_EQ(s->query.start_time_max_ns, kNow);
  EXPECT_EQ(s->query.start_time_min_ns, kNow - 2 * 24 * 3600 * kSec);
  EXPECT_FALSE(s->query.duration_min_ns.has_value());
  EXPECT_TRUE(s->query.attributes.empty());
}

TEST(ParseJaegerSearchTest, ReadsEveryParameter) {
  absl::StatusOr<JaegerSearch> s =
      ParseJaegerSearch(Get({{"service", "front"},
                             {"operation", "GET /"},
                             {"tags", R"({"http.status_code":"500","error":true,"retries":3})"},
                             {"tag", "user.id:u:42"},
                             {"minDuration", "1.2s"},
                             {"maxDuration", "1m"},
                             {"start", "1699999000000000"},
                             {"end", "1700000000000000"},
                             {"limit", "20"}}),
                        kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->query.operation, "GET /");
  EXPECT_THAT(s->query.attributes,
              ElementsAre(Pair("http.status_code", "500"), Pair("error", "true"),
                          Pair("retries", "3"), Pair("user.id", "u:42")));
  EXPECT_EQ(s->query.duration_min_ns, 1200 * kMs);
  EXPECT_EQ(s->query.duration_max_ns, 60 * kSec);
  EXPECT_EQ(s->query.start_time_min_ns, 1'699'999'000 * kSec);
  // end covers its whole microsecond.
  EXPECT_EQ(s->query.start_time_max_ns, kNow + 999);
  EXPECT_EQ(s->query.limit, 20);
}

TEST(ParseJaegerSearchTest, LookbackSetsTheStartWhenStartIsAbsent) {
  auto s = ParseJaegerSearch(Get({{"lookback", "1h"}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->query.start_time_min_ns, kNow - 3600 * kSec);
  s = ParseJaegerSearch(Get({{"lookback", "7d"}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->query.start_time_min_ns, kNow - 7 * 24 * 3600 * kSec);
  s = ParseJaegerSearch(Get({{"lookback", "custom"}, {"start", "1000"}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->query.start_time_min_ns, 1000 * kUs);
  // The Jaeger UI's longest presets are in weeks.
  s = ParseJaegerSearch(Get({{"lookback", "2w"}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->query.start_time_min_ns, kNow - 14 * 24 * 3600 * kSec);
}

// As Jaeger: with start given, lookback is not used (nor checked).
TEST(ParseJaegerSearchTest, LookbackIsIgnoredWhenStartIsGiven) {
  for (const char* lookback : {"1h", "2w", "whenever"}) {
    auto s =
        ParseJaegerSearch(Get({{"lookback", lookback}, {"start", "1000"}, {"end", "5000"}}), kNow);
    ASSERT_TRUE(s.ok()) << lookback << ": " << s.status();
    EXPECT_EQ(s->query.start_time_min_ns, 1000 * kUs) << lookback;
  }
}

TEST(ParseJaegerSearchTest, LimitZeroIsTheDefault) {
  auto s = ParseJaegerSearch(Get({{"limit", "0"}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->query.limit, kDefaultSearchLimit);
}

TEST(ParseJaegerSearchTest, TraceIdsAreCollected) {
  auto s = ParseJaegerSearch(Get({{"traceID", "abc"}, {"traceID", std::string(32, 'f')}}), kNow);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->trace_ids.size(), 2u);
  EXPECT_EQ(s->trace_ids[0].Hex(), "00000000000000000000000000000abc");
  EXPECT_EQ(s->trace_ids[1].Hex(), std::string(32, 'f'));
}

TEST(ParseJaegerSearchTest, BadParametersAreNamed) {
  auto error = [](std::vector<std::pair<std::string, std::string>> q) {
    auto s = ParseJaegerSearch(Get(std::move(q)), kNow);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    return Message(s.status());
  };
  EXPECT_THAT(error({{"minDuration", "fast"}}), HasSubstr("minDuration"));
  EXPECT_THAT(error({{"maxDuration", "-1s"}}), HasSubstr("maxDuration"));
  EXPECT_THAT(error({{"minDuration", "2s"}, {"maxDuration", "1s"}}),
              HasSubstr("minDuration (2000000000 ns) is greater than maxDuration"));
  EXPECT_THAT(error({{"start", "yesterday"}}), HasSubstr("parameter start"));
  EXPECT_THAT(error({{"end", "1.5"}}), HasSubstr("parameter end"));
  EXPECT_THAT(error({{"start", "2000"}, {"end", "1000"}}), HasSubstr("start"));
  EXPECT_THAT(error({{"limit", "-5"}}), HasSubstr("limit"));
  EXPECT_THAT(error({{"limit", "10001"}}), HasSubstr("limit"));
  EXPECT_THAT(error({{"limit", "many"}}), HasSubstr("limit"));
  EXPECT_THAT(error({{"tags", "{not json"}}), HasSubstr("tags"));
  EXPECT_THAT(error({{"tags", R"(["a"])"}}), HasSubstr("tags"));
  EXPECT_THAT(error({{"tags", R"({"a":{"b":1}})"}}), HasSubstr("tags"));
  EXPECT_THAT(error({{"tag", "novalue"}}), HasSubstr("tag"));
  EXPECT_THAT(error({{"traceID", "xyz"}}), HasSubstr("traceID"));
  // A huge or binary value is quoted short and escaped.
  const std::string long_id = error({{"traceID", std::string(5000, 'z')}});
  EXPECT_LT(long_id.size(), 200u);
  EXPECT_THAT(long_id, HasSubstr("zzz...\""));
  EXPECT_THAT(error({{"traceID", std::string("a\nb", 3)}}), HasSubstr("a\\nb"));
  EXPECT_THAT(error({{"lookback", "forever"}}), HasSubstr("lookback"));
  EXPECT_THAT(error({{"operation", "GET"}}), HasSubstr("operation requires parameter service"));
}

TEST(ParseV3SearchTest, SnakeAndCamelCaseNames) {
  for (const bool camel : {false, true}) {
    auto name = [&](const char* snake, const char* camel_name) {
      return std::string(camel ? camel_name : snake);
    };
    auto q = ParseV3Search(
        Get({{name("query.service_name", "query.serviceName"), "front"},
             {name("query.operation_name", "query.operationName"), "GET"},
             {"query.attributes", R"({"user":"ann"})"},
             {"query.attributes", "code:500"},
             {name("query.start_time_min", "query.startTimeMin"), "2023-11-14T21:13:20Z"},
             {name("query.start_time_max", "query.startTimeMax"), "2023-11-14T22:13:20Z"},
             {name("query.duration_min", "query.durationMin"), "10ms"},
             {name("query.duration_max", "query.durationMax"), "2s"},
             {name("query.num_traces", "query.searchDepth"), "7"}}),
        kNow);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_EQ(q->service, "front");
    EXPECT_EQ(q->operation, "GET");
    EXPECT_THAT(q->attributes, ElementsAre(Pair("user", "ann"), Pair("code", "500")));
    EXPECT_EQ(q->start_time_min_ns, kNow - 3600 * kSec);
    EXPECT_EQ(q->start_time_max_ns, kNow);
    EXPECT_EQ(q->duration_min_ns, 10 * kMs);
    EXPECT_EQ(q->duration_max_ns, 2 * kSec);
    EXPECT_EQ(q->limit, 7);
  }
}

TEST(ParseV3SearchTest, DefaultsAndErrors) {
  auto q = ParseV3Search(Get({}), kNow);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->start_time_max_ns, kNow);
  EXPECT_EQ(q->start_time_min_ns, kNow - 2 * 24 * 3600 * kSec);
  EXPECT_EQ(q->limit, 100);
  auto error = [](std::vector<std::pair<std::string, std::string>> params) {
    auto s = ParseV3Search(Get(std::move(params)), kNow);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    return Message(s.status());
  };
  EXPECT_THAT(error({{"query.start_time_min", "yesterday"}}), HasSubstr("query.start_time_min"));
  EXPECT_THAT(error({{"query.startTimeMax", "2023"}}), HasSubstr("query.startTimeMax"));
  EXPECT_THAT(error({{"query.start_time_min", "2023-11-14T22:13:21Z"},
                     {"query.start_time_max", "2023-11-14T22:13:20Z"}}),
              HasSubstr("query.start_time_min is after parameter query.start_time_max"));
  EXPECT_THAT(error({{"query.durationMin", "1"}}), HasSubstr("query.durationMin"));
  EXPECT_THAT(error({{"query.duration_min", "2s"}, {"query.duration_max", "1s"}}),
              HasSubstr("query.duration_min"));
  EXPECT_THAT(error({{"query.num_traces", "0"}}), HasSubstr("query.num_traces"));
  EXPECT_THAT(error({{"query.attributes", "{"}}), HasSubstr("query.attributes"));
  EXPECT_THAT(error({{"query.operation_name", "GET"}}), HasSubstr("query.service_name"));
}

TEST(ParseDependenciesQueryTest, MillisecondsAndDefaults) {
  auto q = ParseDependenciesQuery(Get({}), kNow);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->end_ns, kNow);
  EXPECT_EQ(q->lookback_ns, 24 * 3600 * kSec);
  q = ParseDependenciesQuery(
      Get({{"endTs", "1700000000000"}, {"lookback", "3600000"}, {"service", "front"}}), 0);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->end_ns, kNow);
  EXPECT_EQ(q->lookback_ns, 3600 * kSec);
  EXPECT_EQ(q->service, "front");
  EXPECT_THAT(Message(ParseDependenciesQuery(Get({{"endTs", "now"}}), 0).status()),
              HasSubstr("endTs"));
  EXPECT_THAT(Message(ParseDependenciesQuery(Get({{"lookback", "-1"}}), 0).status()),
              HasSubstr("lookback"));
}

}  // namespace
}  // namespace tailtrace::query
