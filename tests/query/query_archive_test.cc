// Jaeger's trace archive in the query API: POST /api/archive/{traceID} answers as Jaeger's query
// service (status codes and bodies), GET /api/archive/{traceID} reads the archived copy, and a
// trace read by ID that the store no longer holds is read from the archive.

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_service.h"
#include "rapidjson/document.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using testing::Get;
using ::testing::HasSubstr;
using testing::ParseJson;
using testing::Post;

namespace trace_v1 = opentelemetry::proto::trace::v1;

constexpr int64_t kNowNs = 1'700'000'000'000'000'000;
const std::string kStoredHex = "0102030405060708090a0b0c0d0e0f10";
const std::string kArchivedOnlyHex = "0102030405060708090a0b0c0d0e0f20";
const std::string kUnknownHex = "0102030405060708090a0b0c0d0e0f30";

// What Jaeger's query service answers to a successful archive.
constexpr char kArchivedBody[] = R"({"data":[],"total":0,"limit":0,"offset":0,"errors":[]})";
// ... and to a trace it cannot find.
constexpr char kNotFoundBody[] =
    R"({"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]})";

TraceId IdOf(const std::string& hex) { return TraceId::FromBytes(*HexDecode(hex, 16)); }

// A trace of `spans` spans of service "checkout", kept by policy "errors".
storage::StoredTrace MakeTrace(const std::string& hex, int spans) {
  storage::StoredTrace trace;
  trace.trace_id = IdOf(hex);
  trace.sampling_policy = "errors";
  auto* rs = trace.data.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("checkout");
  auto* ss = rs->add_scope_spans();
  for (int i = 1; i <= spans; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(std::string(trace.trace_id.view()));
    span->set_span_id(std::string(7, '\0') + static_cast<char>(i));
    span->set_name(i == 1 ? "pay" : "charge");
    span->set_start_time_unix_nano(kNowNs - 60'000'000'000 + i);
    span->set_end_time_unix_nano(kNowNs - 59'000'000'000);
  }
  return trace;
}

http::Request Request(std::string method, std::string path) {
  http::Request r = Get(std::move(path));
  r.method = std::move(method);
  return r;
}

// A store with no archive (TraceStore's default Unimplemented), over an in-memory store.
class NoArchiveStore final : public storage::TraceStore {
 public:
  explicit NoArchiveStore(storage::TraceStore* inner) : inner_(inner) {}
  absl::Status Write(std::span<const storage::TraceWrite> traces) override {
    return inner_->Write(traces);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId& id) override {
    return inner_->GetTrace(id);
  }
  absl::StatusOr<std::vector<std::string>> GetServices() override { return inner_->GetServices(); }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string& service,
                                                                int span_kind) override {
    return inner_->GetOperations(service, span_kind);
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  storage::StoreStats Stats() const override { return {}; }

 private:
  storage::TraceStore* const inner_;
};

class QueryArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const storage::StoredTrace stored = MakeTrace(kStoredHex, 3);
    storage::TraceWrite w{stored.trace_id, &stored.data, stored.sampling_policy, 1.0, {}};
    ASSERT_TRUE(store_.Write({&w, 1}).ok());
    // A trace whose stored copy is gone (as after retention): only its archived copy is left.
    ASSERT_TRUE(store_.ArchiveTrace(MakeTrace(kArchivedOnlyHex, 2)).ok());
  }

  http::Response Call(const http::Request& r) { return service_.Handle(r); }

  // The span count of the archived copy of `hex` (0: none).
  uint64_t ArchivedSpans(const std::string& hex) {
    auto got = store_.GetArchivedTrace(IdOf(hex));
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && got->has_value() ? storage::SpanCountOf((*got)->data) : 0;
  }

  storage::InMemoryTraceStore store_;
  FakeClock clock_{kNowNs};
  QueryService service_{&store_, &clock_};
};

TEST_F(QueryArchiveTest, PostArchivesTheTraceAndAnswersAsJaeger) {
  const http::Response r = Call(Post("/api/archive/" + kStoredHex, ""));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, kArchivedBody);
  auto archived = store_.GetArchivedTrace(IdOf(kStoredHex));
  ASSERT_TRUE(archived.ok() && archived->has_value());
  EXPECT_EQ(storage::SpanCountOf((*archived)->data), 3u);
  EXPECT_EQ((*archived)->sampling_policy, "errors");
}

TEST_F(QueryArchiveTest, PostingAgainIsIdempotent) {
  ASSERT_EQ(Call(Post("/api/archive/" + kStoredHex, "")).status, 200);
  ASSERT_EQ(Call(Post("/api/archive/" + kStoredHex, "")).status, 200);
  EXPECT_EQ(ArchivedSpans(kStoredHex), 3u);
  // A trace only in the archive is read from there (as GET /api/traces reads it): archiving it
  // again changes nothing.
  const http::Response r = Call(Post("/api/archive/" + kArchivedOnlyHex, ""));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ArchivedSpans(kArchivedOnlyHex), 2u);
}

TEST_F(QueryArchiveTest, PostOfAnUnknownTraceIs404AsJaeger) {
  const http::Response r = Call(Post("/api/archive/" + kUnknownHex, ""));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, kNotFoundBody);
  EXPECT_EQ(ArchivedSpans(kUnknownHex), 0u);
}

TEST_F(QueryArchiveTest, BadTraceIdIs400NamingTheParameter) {
  for (const char* method : {"POST", "GET"}) {
    SCOPED_TRACE(method);
    const http::Response r = Call(Request(method, "/api/archive/not-hex"));
    EXPECT_EQ(r.status, 400);
    const rapidjson::Document doc = ParseJson(r);
    ASSERT_EQ(doc["errors"].Size(), 1u);
    EXPECT_EQ(doc["errors"][0]["code"].GetInt(), 400);
    EXPECT_THAT(doc["errors"][0]["msg"].GetString(), HasSubstr("traceID"));
  }
}

TEST_F(QueryArchiveTest, OtherMethodsAre405AllowingGetAndPost) {
  for (const char* method : {"PUT", "DELETE", "PATCH"}) {
    SCOPED_TRACE(method);
    const http::Response r = Call(Request(method, "/api/archive/" + kStoredHex));
    EXPECT_EQ(r.status, 405);
    EXPECT_THAT(r.headers,
                ::testing::Contains(std::pair<std::string, std::string>("Allow", "GET, POST")));
    const rapidjson::Document doc = ParseJson(r);
    EXPECT_THAT(doc["errors"][0]["msg"].GetString(), HasSubstr(method));
  }
  // Without a trace ID there is no such path.
  EXPECT_EQ(Call(Post("/api/archive", "")).status, 404);
  EXPECT_EQ(Call(Post("/api/archive/", "")).status, 404);
}

TEST_F(QueryArchiveTest, GetAnswersTheArchivedCopyAsGetTraceDoes) {
  EXPECT_EQ(Call(Get("/api/archive/" + kStoredHex)).status, 404);
  ASSERT_EQ(Call(Post("/api/archive/" + kStoredHex, "")).status, 200);
  const http::Response archived = Call(Get("/api/archive/" + kStoredHex));
  ASSERT_EQ(archived.status, 200) << archived.body;
  const http::Response stored = Call(Get("/api/traces/" + kStoredHex));
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(archived.body, stored.body);
  const rapidjson::Document doc = ParseJson(archived);
  ASSERT_EQ(doc["data"].Size(), 1u);
  EXPECT_EQ(doc["data"][0]["traceID"].GetString(), kStoredHex);
  EXPECT_EQ(doc["data"][0]["spans"].Size(), 3u);
  EXPECT_TRUE(doc["errors"].IsNull());
}

TEST_F(QueryArchiveTest, GetOfATraceNeverArchivedIs404) {
  const http::Response r = Call(Get("/api/archive/" + kUnknownHex));
  EXPECT_EQ(r.status, 404);
  const rapidjson::Document doc = ParseJson(r);
  EXPECT_TRUE(doc["data"].IsNull());
  EXPECT_THAT(doc["errors"][0]["msg"].GetString(), HasSubstr("archive"));
}

TEST_F(QueryArchiveTest, ATraceGoneFromTheStoreIsReadFromTheArchive) {
  const http::Response by_path = Call(Get("/api/traces/" + kArchivedOnlyHex));
  ASSERT_EQ(by_path.status, 200) << by_path.body;
  EXPECT_EQ(ParseJson(by_path)["data"][0]["spans"].Size(), 2u);

  const http::Response by_list =
      Call(Get("/api/traces", {{"traceID", kArchivedOnlyHex}, {"traceID", kUnknownHex}}));
  ASSERT_EQ(by_list.status, 200) << by_list.body;
  const rapidjson::Document list = ParseJson(by_list);
  ASSERT_EQ(list["data"].Size(), 1u);
  EXPECT_EQ(list["data"][0]["traceID"].GetString(), kArchivedOnlyHex);
  ASSERT_EQ(list["errors"].Size(), 1u);
  EXPECT_EQ(list["errors"][0]["traceID"].GetString(), kUnknownHex);

  const http::Response v3 = Call(Get("/api/v3/traces/" + kArchivedOnlyHex));
  ASSERT_EQ(v3.status, 200) << v3.body;
  EXPECT_EQ(ParseJson(v3)["result"]["resourceSpans"].Size(), 1u);

  // Searches do not look into the archive.
  const http::Response search =
      Call(Get("/api/traces", {{"service", "checkout"}, {"lookback", "1h"}}));
  ASSERT_EQ(search.status, 200) << search.body;
  const rapidjson::Document found = ParseJson(search);
  ASSERT_EQ(found["data"].Size(), 1u);
  EXPECT_EQ(found["data"][0]["traceID"].GetString(), kStoredHex);
}

TEST_F(QueryArchiveTest, ATraceOverMaxTraceSpansIs422AndNotArchived) {
  QueryOptions options;
  options.max_trace_spans = 2;
  QueryService small(&store_, &clock_, options);
  const http::Response r = small.Handle(Post("/api/archive/" + kStoredHex, ""));
  EXPECT_EQ(r.status, 422);
  const rapidjson::Document doc = ParseJson(r);
  EXPECT_THAT(doc["errors"][0]["msg"].GetString(), HasSubstr("query.max_trace_spans"));
  EXPECT_EQ(ArchivedSpans(kStoredHex), 0u);
  EXPECT_EQ(small.Handle(Get("/api/archive/" + kArchivedOnlyHex)).status, 200);
  ASSERT_TRUE(store_.ArchiveTrace(MakeTrace(kArchivedOnlyHex, 3)).ok());
  EXPECT_EQ(small.Handle(Get("/api/archive/" + kArchivedOnlyHex)).status, 422);
}

TEST_F(QueryArchiveTest, AStoreThatCannotWriteIs503) {
  store_.FailWritesForTest(absl::UnavailableError("disk full"));
  const http::Response r = Call(Post("/api/archive/" + kStoredHex, ""));
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(ParseJson(r)["errors"][0]["msg"].GetString(), HasSubstr("disk full"));
}

TEST_F(QueryArchiveTest, AStoreWithoutArchiveStillFindsTracesAndRefusesToArchive) {
  NoArchiveStore no_archive(&store_);
  QueryService service(&no_archive, &clock_);
  EXPECT_EQ(service.Handle(Get("/api/traces/" + kStoredHex)).status, 200);
  const http::Response missing = service.Handle(Get("/api/traces/" + kUnknownHex));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, kNotFoundBody);
  const http::Response r = service.Handle(Post("/api/archive/" + kStoredHex, ""));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(ParseJson(r)["errors"][0]["msg"].GetString(), HasSubstr("archive"));
}

}  // namespace
}  // namespace tailtrace::query
