// GET /api/v3/tag-keys and /api/v3/tag-values over an InMemoryTraceStore (whose suggestion
// semantics are tested in tests/storage): parameters, defaults, the limit, 400s naming the
// parameter, the answer's shape.

#include <string>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_service.h"
#include "rapidjson/document.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using ::testing::ElementsAre;
using testing::Get;
using ::testing::HasSubstr;
using testing::Params;
using testing::ParseJson;

namespace trace_v1 = opentelemetry::proto::trace::v1;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kNow = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z
constexpr int64_t kDay = 24 * 3600 * kSec;

class QueryTagSuggestionsTest : public ::testing::Test {
 protected:
  QueryTagSuggestionsTest() : store_(Index()), service_(&store_, &clock_) {
    Write(1, "checkout", kNow - 3600 * kSec, {{"http.method", "GET"}, {"secret", "x"}});
    Write(2, "checkout", kNow - 600 * kSec, {{"http.method", "POST"}});
    Write(3, "inventory", kNow - 60 * kSec, {{"db.system", "postgresql"}});
    // Three days ago: outside the default window.
    Write(4, "checkout", kNow - 3 * kDay, {{"http.method", "PUT"}, {"old", "yes"}});
  }

  static storage::IndexOptions Index() {
    storage::IndexOptions index;
    index.exclude_keys = {"secret"};
    return index;
  }

  // One span of `service` (kind unspecified, no scope: only `attributes` are tags).
  void Write(uint8_t n, const std::string& service, int64_t start_ns,
             const std::vector<std::pair<std::string, std::string>>& attributes) {
    trace_v1::TracesData data;
    auto* rs = data.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(service);
    auto* span = rs->add_scope_spans()->add_spans();
    TraceId id;
    id.bytes[15] = n;
    span->set_trace_id(std::string(id.view()));
    span->set_span_id(std::string(7, '\0') + static_cast<char>(n));
    span->set_start_time_unix_nano(static_cast<uint64_t>(start_ns));
    span->set_end_time_unix_nano(static_cast<uint64_t>(start_ns + kSec));
    for (const auto& [key, value] : attributes) {
      auto* a = span->add_attributes();
      a->set_key(key);
      a->mutable_value()->set_string_value(value);
    }
    const storage::TraceWrite w{id, &data, "", 1.0, {}};
    ASSERT_TRUE(store_.Write({&w, 1}).ok());
  }

  // The names of a 200 answer's `member` array.
  std::vector<std::string> Names(const std::string& path, const Params& params,
                                 const char* member) {
    const http::Response r = service_.Handle(Get(path, params));
    EXPECT_EQ(r.status, 200) << r.body;
    const rapidjson::Document doc = ParseJson(r);
    std::vector<std::string> names;
    if (!doc.IsObject() || !doc.HasMember(member) || !doc[member].IsArray()) {
      ADD_FAILURE() << r.body;
      return names;
    }
    EXPECT_FALSE(doc.HasMember("partialErrors")) << r.body;
    for (const auto& name : doc[member].GetArray()) names.push_back(name.GetString());
    return names;
  }
  std::vector<std::string> Keys(const Params& params) {
    return Names("/api/v3/tag-keys", params, "tagKeys");
  }
  std::vector<std::string> Values(const Params& params) {
    return Names("/api/v3/tag-values", params, "tagValues");
  }

  // The message of a 400 in the /api/v3 error shape.
  std::string BadRequest(const std::string& path, const Params& params) {
    const http::Response r = service_.Handle(Get(path, params));
    EXPECT_EQ(r.status, 400) << r.body;
    const rapidjson::Document doc = ParseJson(r);
    if (!doc.IsObject() || !doc.HasMember("error")) return "";
    EXPECT_EQ(doc["error"]["httpCode"].GetInt(), 400);
    return doc["error"]["message"].GetString();
  }

  FakeClock clock_{kNow};
  storage::InMemoryTraceStore store_;
  QueryService service_;
};

TEST_F(QueryTagSuggestionsTest, KeysOfAServiceOrOfEveryServiceOfTheLastTwoDays) {
  EXPECT_THAT(Keys({{"service", "checkout"}}), ElementsAre("http.method"));
  EXPECT_THAT(Keys({}), ElementsAre("db.system", "http.method"));
  EXPECT_THAT(Keys({{"service", "nobody"}}), ElementsAre());
}

TEST_F(QueryTagSuggestionsTest, ValuesOfAKey) {
  EXPECT_THAT(Values({{"key", "http.method"}, {"service", "checkout"}}),
              ElementsAre("GET", "POST"));
  EXPECT_THAT(Values({{"key", "db.system"}}), ElementsAre("postgresql"));
  EXPECT_THAT(Values({{"key", "db.system"}, {"service", "checkout"}}), ElementsAre());
}

TEST_F(QueryTagSuggestionsTest, TheWindowIsRfc3339InEitherSpelling) {
  // 2023-11-11T00:00:00Z .. 2023-11-12T00:00:00Z holds only the trace of three days ago.
  const Params old_day = {{"start_time_min", "2023-11-11T00:00:00Z"},
                          {"start_time_max", "2023-11-12T00:00:00Z"}};
  EXPECT_THAT(Keys(old_day), ElementsAre("http.method", "old"));
  EXPECT_THAT(Values({{"key", "http.method"},
                      {"startTimeMin", "2023-11-11T00:00:00Z"},
                      {"startTimeMax", "2023-11-12T00:00:00Z"}}),
              ElementsAre("PUT"));
  // Only a start: the window ends now.
  EXPECT_THAT(Values({{"key", "http.method"}, {"start_time_min", "2023-11-01T00:00:00Z"}}),
              ElementsAre("GET", "POST", "PUT"));
}

TEST_F(QueryTagSuggestionsTest, TheLimitKeepsTheFirstNames) {
  EXPECT_THAT(Keys({{"limit", "1"}}), ElementsAre("db.system"));
  EXPECT_THAT(Values({{"key", "http.method"}, {"limit", "1000"}}), ElementsAre("GET", "POST"));
  EXPECT_THAT(BadRequest("/api/v3/tag-keys", {{"limit", "1001"}}),
              HasSubstr("malformed parameter limit: must be between 1 and 1000, got 1001"));
  EXPECT_THAT(BadRequest("/api/v3/tag-keys", {{"limit", "0"}}), HasSubstr("parameter limit"));
  EXPECT_THAT(BadRequest("/api/v3/tag-values", {{"key", "a"}, {"limit", "ten"}}),
              HasSubstr("parameter limit"));
}

TEST_F(QueryTagSuggestionsTest, BadParametersAre400sNamingThem) {
  EXPECT_THAT(BadRequest("/api/v3/tag-values", {{"service", "checkout"}}),
              HasSubstr("missing required parameter key"));
  EXPECT_THAT(BadRequest("/api/v3/tag-keys", {{"start_time_min", "yesterday"}}),
              HasSubstr("malformed parameter start_time_min"));
  EXPECT_THAT(BadRequest("/api/v3/tag-values", {{"key", "a"}, {"startTimeMax", "now"}}),
              HasSubstr("malformed parameter startTimeMax"));
  EXPECT_THAT(BadRequest("/api/v3/tag-keys", {{"start_time_min", "2023-11-15T00:00:00Z"},
                                              {"start_time_max", "2023-11-14T00:00:00Z"}}),
              HasSubstr("parameter start_time_min is after parameter start_time_max"));
  // A key the store never indexes, as a search on it is refused.
  EXPECT_THAT(BadRequest("/api/v3/tag-values", {{"key", "secret"}}), HasSubstr("exclude_keys"));
  const http::Response post = service_.Handle(testing::Post("/api/v3/tag-keys", ""));
  EXPECT_EQ(post.status, 405);
}

}  // namespace
}  // namespace tailtrace::query
