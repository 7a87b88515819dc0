// QueryService over a TraceReader that reports partial errors (as cluster::ClusterReader does
// for a member that is down): every endpoint still answers 200 with what was read, and lists the
// failures — in the Jaeger envelope's "errors" and in /api/v3's "partialErrors" — never a 500.

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "query/query_service.h"
#include "query/trace_reader.h"
#include "rapidjson/document.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using testing::Get;
using testing::ParseJson;

namespace trace_v1 = opentelemetry::proto::trace::v1;

constexpr char kMemberError[] = "member 127.0.0.9:4317: UNAVAILABLE: connection refused";
constexpr int64_t kNowNs = 1'700'000'000'000'000'000;

// Reads the store and, like a fan-out with one member down, reports that member on every read.
class PartialReader final : public TraceReader {
 public:
  explicit PartialReader(storage::TraceStore* store) : store_(store) {}

  static void Fail(PartialErrors* errors) { errors->Add("127.0.0.9:4317", kMemberError); }

  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId& id,
                                                               uint64_t max_spans,
                                                               PartialErrors* errors) override {
    Fail(errors);
    return store_.GetTrace(id, max_spans, errors);
  }
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(const storage::TraceQuery& query,
                                                                PartialErrors* errors) override {
    Fail(errors);
    return store_.FindTraces(query, errors);
  }
  absl::StatusOr<std::vector<std::string>> GetServices(PartialErrors* errors) override {
    Fail(errors);
    return store_.GetServices(errors);
  }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string& service,
                                                                int span_kind,
                                                                PartialErrors* errors) override {
    Fail(errors);
    return store_.GetOperations(service, span_kind, errors);
  }
  absl::StatusOr<std::vector<std::string>> SuggestTags(const storage::TagSuggestionQuery& query,
                                                       PartialErrors* errors) override {
    Fail(errors);
    return store_.SuggestTags(query, errors);
  }
  absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(
      int64_t end_ns, int64_t lookback_ns, PartialErrors* errors) override {
    Fail(errors);
    return store_.GetDependencies(end_ns, lookback_ns, errors);
  }
  absl::StatusOr<std::vector<storage::MetricPoint>> ReadMetricPoints(
      const storage::MetricPointQuery& query, PartialErrors* errors) override {
    Fail(errors);
    return store_.ReadMetricPoints(query, errors);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetArchivedTrace(
      const TraceId& id, uint64_t max_spans, PartialErrors* errors) override {
    Fail(errors);
    return store_.GetArchivedTrace(id, max_spans, errors);
  }
  absl::Status ArchiveTrace(const storage::StoredTrace& trace) override {
    return store_.ArchiveTrace(trace);
  }

 private:
  StoreTraceReader store_;
};

// Every member failed: the reader has nothing to answer with.
class NobodyReader final : public TraceReader {
 public:
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId&, uint64_t,
                                                               PartialErrors*) override {
    return Down();
  }
  absl::StatusOr<std::vector<storage::TraceSummary>> FindTraces(const storage::TraceQuery&,
                                                                PartialErrors*) override {
    return Down();
  }
  absl::StatusOr<std::vector<std::string>> GetServices(PartialErrors*) override { return Down(); }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string&, int,
                                                                PartialErrors*) override {
    return Down();
  }
  absl::StatusOr<std::vector<std::string>> SuggestTags(const storage::TagSuggestionQuery&,
                                                       PartialErrors*) override {
    return Down();
  }
  absl::StatusOr<std::vector<storage::DependencyLink>> GetDependencies(int64_t, int64_t,
                                                                       PartialErrors*) override {
    return Down();
  }
  absl::StatusOr<std::vector<storage::MetricPoint>> ReadMetricPoints(
      const storage::MetricPointQuery&, PartialErrors*) override {
    return Down();
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetArchivedTrace(const TraceId&, uint64_t,
                                                                       PartialErrors*) override {
    return Down();
  }
  absl::Status ArchiveTrace(const storage::StoredTrace&) override { return Down(); }

 private:
  static absl::Status Down() {
    return absl::UnavailableError("no member of the cluster answered: member a: UNAVAILABLE: x");
  }
};

const std::string kTraceHex = "0102030405060708090a0b0c0d0e0f10";

class QueryPartialErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string id = *HexDecode(kTraceHex, 16);
    trace_v1::TracesData data;
    auto* rs = data.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("checkout");
    auto* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(id);
    span->set_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    span->set_name("pay");
    span->set_start_time_unix_nano(kNowNs - 60'000'000'000);
    span->set_end_time_unix_nano(kNowNs - 59'000'000'000);
    storage::TraceWrite w{TraceId::FromBytes(id), &data, "", 1.0, {}};
    ASSERT_TRUE(store_.Write({&w, 1}).ok());
  }

  // The Jaeger envelope's "errors": exactly the member's failure, once, without a traceID.
  static void ExpectMemberErrorOnce(const rapidjson::Document& doc) {
    ASSERT_TRUE(doc["errors"].IsArray());
    ASSERT_EQ(doc["errors"].Size(), 1u);
    const auto& e = doc["errors"][0];
    EXPECT_EQ(e["code"].GetInt(), 503);
    EXPECT_STREQ(e["msg"].GetString(), kMemberError);
    EXPECT_FALSE(e.HasMember("traceID"));
  }

  // /api/v3's "partialErrors": the member's failure, once, shaped like the v3 error object.
  static void ExpectV3MemberErrorOnce(const rapidjson::Document& doc) {
    ASSERT_TRUE(doc.HasMember("partialErrors"));
    ASSERT_EQ(doc["partialErrors"].Size(), 1u);
    const auto& e = doc["partialErrors"][0];
    EXPECT_EQ(e["httpCode"].GetInt(), 503);
    EXPECT_EQ(e["grpcCode"].GetInt(), 14);
    EXPECT_STREQ(e["message"].GetString(), kMemberError);
  }

  storage::InMemoryTraceStore store_;
  PartialReader reader_{&store_};
  FakeClock clock_{kNowNs};
  QueryService service_{&reader_, &clock_};
};

TEST_F(QueryPartialErrorsTest, JaegerListsNameTheFailedMemberInErrors) {
  const std::vector<http::Request> requests = {
      Get("/api/services"),
      Get("/api/services/checkout/operations"),
      Get("/api/operations", {{"service", "checkout"}}),
      Get("/api/dependencies", {{"endTs", std::to_string(kNowNs / 1'000'000)}}),
  };
  for (const http::Request& r : requests) {
    SCOPED_TRACE(r.path);
    const http::Response response = service_.Handle(r);
    EXPECT_EQ(response.status, 200) << response.body;
    const rapidjson::Document doc = ParseJson(response);
    EXPECT_TRUE(doc["data"].IsArray());
    ExpectMemberErrorOnce(doc);
  }
  const rapidjson::Document services = ParseJson(service_.Handle(Get("/api/services")));
  ASSERT_EQ(services["data"].Size(), 1u);
  EXPECT_STREQ(services["data"][0].GetString(), "checkout");
}

TEST_F(QueryPartialErrorsTest, JaegerTracesKeepWhatWasFoundAndListTheMemberOnce) {
  // The search reads summaries and then each trace: three reads, one failure listed.
  const http::Response search =
      service_.Handle(Get("/api/traces", {{"service", "checkout"}, {"lookback", "1h"}}));
  ASSERT_EQ(search.status, 200) << search.body;
  const rapidjson::Document doc = ParseJson(search);
  ASSERT_EQ(doc["data"].Size(), 1u);
  EXPECT_EQ(doc["data"][0]["traceID"].GetString(), kTraceHex);
  ExpectMemberErrorOnce(doc);

  const rapidjson::Document by_id = ParseJson(service_.Handle(Get("/api/traces/" + kTraceHex)));
  ASSERT_EQ(by_id["data"].Size(), 1u);
  ExpectMemberErrorOnce(by_id);
}

TEST_F(QueryPartialErrorsTest, MissingTraceIs404ThatAlsoNamesTheMemberThatMayHaveIt) {
  const http::Response r = service_.Handle(Get("/api/traces/00000000000000000000000000000042"));
  EXPECT_EQ(r.status, 404);
  const rapidjson::Document doc = ParseJson(r);
  ASSERT_EQ(doc["errors"].Size(), 2u);
  EXPECT_EQ(doc["errors"][0]["code"].GetInt(), 404);
  EXPECT_EQ(doc["errors"][1]["code"].GetInt(), 503);
  EXPECT_STREQ(doc["errors"][1]["msg"].GetString(), kMemberError);
}

TEST_F(QueryPartialErrorsTest, ArchivingKeepsWhatWasFoundAndListsTheMemberOnce) {
  const http::Response archived = service_.Handle(testing::Post("/api/archive/" + kTraceHex, ""));
  ASSERT_EQ(archived.status, 200) << archived.body;
  const rapidjson::Document doc = ParseJson(archived);
  ASSERT_TRUE(doc["data"].IsArray());
  EXPECT_EQ(doc["data"].Size(), 0u);
  ExpectMemberErrorOnce(doc);

  const http::Response read = service_.Handle(Get("/api/archive/" + kTraceHex));
  ASSERT_EQ(read.status, 200) << read.body;
  const rapidjson::Document copy = ParseJson(read);
  ASSERT_EQ(copy["data"].Size(), 1u);
  ExpectMemberErrorOnce(copy);
}

TEST_F(QueryPartialErrorsTest, V3AnswersCarryPartialErrors) {
  const std::vector<http::Request> requests = {
      Get("/api/v3/services"),
      Get("/api/v3/operations", {{"service", "checkout"}}),
      Get("/api/v3/traces/" + kTraceHex),
      Get("/api/v3/traces", {{"query.service_name", "checkout"}}),
      Get("/api/v3/trace-summaries", {{"query.service_name", "checkout"}}),
      Get("/api/v3/tag-keys", {{"service", "checkout"}}),
      Get("/api/v3/tag-values", {{"key", "span.kind"}}),
  };
  for (const http::Request& r : requests) {
    SCOPED_TRACE(r.path);
    const http::Response response = service_.Handle(r);
    EXPECT_EQ(response.status, 200) << response.body;
    ExpectV3MemberErrorOnce(ParseJson(response));
  }
}

TEST_F(QueryPartialErrorsTest, SpmAnswersWhatWasReadAndNamesTheMemberInAWarningHeader) {
  storage::MetricPoint point;
  point.series = {"checkout", "pay", 2, 0};
  point.time_ns = kNowNs - 60'000'000'000;
  point.calls = 6;
  point.bounds_ms = {10};
  point.counts = {6, 0};
  ASSERT_TRUE(store_.WriteMetricPoints({&point, 1}).ok());
  // The SPM answer has no envelope to list errors in.
  const http::Response r = service_.Handle(Get("/api/metrics/calls", {{"service", "checkout"}}));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Warning");
  EXPECT_EQ(r.headers[0].second, std::string("199 tailtrace \"") + kMemberError + "\"");
  const rapidjson::Document doc = ParseJson(r);
  ASSERT_EQ(doc["metrics"].Size(), 1u);
  EXPECT_FALSE(doc.HasMember("errors"));
}

TEST_F(QueryPartialErrorsTest, NoMemberAnsweringIs503NotA500) {
  NobodyReader nobody;
  QueryService service(&nobody, &clock_);
  for (const char* path : {"/api/services",
                           "/api/traces/"
                           "0102030405060708090a0b0c0d0e0f10",
                           "/api/archive/"
                           "0102030405060708090a0b0c0d0e0f10",
                           "/api/v3/services", "/api/v3/tag-keys"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(service.Handle(Get(path)).status, 503);
  }
  EXPECT_EQ(service.Handle(Get("/api/metrics/calls", {{"service", "a"}})).status, 503);
  EXPECT_EQ(service.Handle(testing::Post("/api/archive/" + kTraceHex, "")).status, 503);
}

}  // namespace
}  // namespace tailtrace::query
