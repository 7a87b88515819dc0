// Search, summaries and dependencies, run against every store: InMemoryTraceStore (the
// brute-force reference), RocksTraceStore (the indexes) and ClickHouseTraceStore (SQL) must give
// exactly these answers.

#include <unistd.h>

#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/rocks/rocks_trace_store.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/clickhouse_test_store.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeTraceId;
using testing::SpanSpec;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000 * kMs;
constexpr int64_t kT0 = 1'700'000'000'000'000'000;

class SearchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    index_.max_value_length = 32;
    index_.exclude_keys = {"secret"};
    if (GetParam() == "memory") {
      store_ = std::make_unique<InMemoryTraceStore>(index_);
      return;
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("tailtrace_search_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    StoreOptions options;
    options.path = (dir_ / "db").string();
    options.block_cache_bytes = 1 << 20;
    options.write_buffer_bytes = 1 << 20;
    options.retention_check_interval_ms = 0;
    options.index = index_;
    if (GetParam() == "clickhouse") {
      auto clickhouse = testing::ClickHouseTestOptions(options, testing::TestDatabaseName());
      ASSERT_TRUE(clickhouse.ok()) << clickhouse.status();
      auto store = ClickHouseTraceStore::Open(*clickhouse, &clock_);
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = std::move(*store);
      return;
    }
    auto store = RocksTraceStore::Open(options, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void Write(const TraceId& id, const std::vector<SpanSpec>& spans) {
    const TracesData data = BuildChunk(id, spans);
    const TraceWrite w{id, &data, "", 1.0, {}};
    ASSERT_TRUE(store_->Write({&w, 1}).ok());
  }

  std::vector<TraceId> Find(const TraceQuery& q) {
    absl::StatusOr<std::vector<TraceSummary>> found = store_->FindTraces(q);
    EXPECT_TRUE(found.ok()) << found.status();
    std::vector<TraceId> ids;
    if (found.ok()) {
      for (const TraceSummary& s : *found) ids.push_back(s.trace_id);
    }
    return ids;
  }

  // The traces of service "svc" with all of `tags`.
  std::vector<TraceId> FindTags(std::vector<std::pair<std::string, std::string>> tags) {
    TraceQuery q = Service("svc");
    q.attributes = std::move(tags);
    return Find(q);
  }

  static TraceQuery Service(std::string service) {
    TraceQuery q;
    q.service = std::move(service);
    return q;
  }

  FakeClock clock_{kT0};
  IndexOptions index_;
  std::filesystem::path dir_;
  std::unique_ptr<TraceStore> store_;
};

const TraceId kA = MakeTraceId(0, 0xa);
const TraceId kB = MakeTraceId(0, 0xb);
const TraceId kC = MakeTraceId(0, 0xc);
const TraceId kD = MakeTraceId(0, 0xd);

TEST_P(SearchTest, ServiceIndexFindsTracesWithASpanOfTheServiceNewestFirst) {
  Write(kA, {{.service = "front", .span_id = 1, .start_ns = kT0}});
  Write(kB, {{.service = "front", .span_id = 1, .start_ns = kT0 + 2 * kSec},
             {.service = "db", .span_id = 2, .parent_id = 1, .start_ns = kT0 + 2 * kSec}});
  Write(kC, {{.service = "db", .span_id = 1, .start_ns = kT0 + kSec}});
  EXPECT_THAT(Find(Service("front")), ElementsAre(kB, kA));
  EXPECT_THAT(Find(Service("db")), ElementsAre(kB, kC));
  EXPECT_TRUE(Find(Service("nope")).empty());
  // Service names that are prefixes of each other stay apart.
  EXPECT_TRUE(Find(Service("fron")).empty());
}

TEST_P(SearchTest, NoConditionListsEveryTraceByTheTimeIndex) {
  Write(kA, {{.start_ns = kT0 + 3}});
  Write(kB, {{.start_ns = kT0 + 1}});
  Write(kC, {{.start_ns = kT0 + 2}});
  EXPECT_THAT(Find(TraceQuery{}), ElementsAre(kA, kC, kB));
}

TEST_P(SearchTest, EqualStartsAreOrderedByTraceIdDescending) {
  Write(kB, {{.start_ns = kT0}});
  Write(kD, {{.start_ns = kT0}});
  Write(kA, {{.start_ns = kT0}});
  EXPECT_THAT(Find(Service("svc")), ElementsAre(kD, kB, kA));
}

TEST_P(SearchTest, LimitKeepsTheNewest) {
  for (uint64_t i = 1; i <= 10; ++i) {
    Write(MakeTraceId(0, i), {{.start_ns = kT0 + static_cast<int64_t>(i) * kSec}});
  }
  TraceQuery q = Service("svc");
  q.limit = 3;
  EXPECT_THAT(Find(q), ElementsAre(MakeTraceId(0, 10), MakeTraceId(0, 9), MakeTraceId(0, 8)));
  q.limit = 1;
  q.start_time_max_ns = kT0 + 5 * kSec;
  EXPECT_THAT(Find(q), ElementsAre(MakeTraceId(0, 5)));
}

TEST_P(SearchTest, OperationIsScopedToTheService) {
  Write(kA, {{.service = "front", .name = "GET /", .span_id = 1},
             {.service = "db", .name = "query", .span_id = 2, .parent_id = 1}});
  Write(kB, {{.service = "db", .name = "GET /", .span_id = 1, .start_ns = kT0 + 1}});
  TraceQuery q = Service("front");
  q.operation = "GET /";
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.service = "db";
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.operation = "query";
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.operation = "GET";
  EXPECT_TRUE(Find(q).empty());
}

TEST_P(SearchTest, TagsMatchSpanAndResourceAttributesStringifiedLikeJaeger) {
  Write(kA, {{.span_id = 1,
              .attributes = {{"user.id", std::string("u-42")},
                             {"http.status_code", int64_t{503}},
                             {"retry", true},
                             {"ratio", 0.25}},
              .resource_attributes = {{"host.name", std::string("h1")}}}});
  Write(kB, {{.span_id = 1, .start_ns = kT0 + 1, .attributes = {{"user.id", std::string("u-7")}}}});
  EXPECT_THAT(FindTags({{"user.id", "u-42"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"http.status_code", "503"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"retry", "true"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"ratio", "0.25"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"host.name", "h1"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"otel.scope.name", "test.scope"}}), ElementsAre(kB, kA));
  EXPECT_THAT(FindTags({{"span.kind", "internal"}}), ElementsAre(kB, kA));
  EXPECT_TRUE(FindTags({{"user.id", "u-4"}}).empty());
  EXPECT_TRUE(FindTags({{"http.status_code", "503.0"}}).empty());
  EXPECT_TRUE(FindTags({{"service.name", "svc"}}).empty());  // the service is not a tag
  // AND: both must hold.
  EXPECT_THAT(FindTags({{"user.id", "u-42"}, {"retry", "true"}}), ElementsAre(kA));
  EXPECT_TRUE(FindTags({{"user.id", "u-7"}, {"retry", "true"}}).empty());
}

// As Jaeger's backends match log fields: an event's name (as "event") and its attributes, under
// the same index limits as other tags.
TEST_P(SearchTest, TagsMatchSpanEventsNamesAndAttributes) {
  Write(
      kA,
      {{.span_id = 1,
        .events = {{"exception",
                    {{"exception.type", std::string("TimeoutError")}, {"attempt", int64_t{3}}}}}}});
  Write(kB, {{.span_id = 1, .start_ns = kT0 + 1, .events = {{"cache.miss", {}}}}});
  EXPECT_THAT(FindTags({{"event", "exception"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"event", "cache.miss"}}), ElementsAre(kB));
  EXPECT_THAT(FindTags({{"exception.type", "TimeoutError"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"attempt", "3"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"event", "exception"}, {"attempt", "3"}}), ElementsAre(kA));
  EXPECT_TRUE(FindTags({{"event", "cache.miss"}, {"attempt", "3"}}).empty());
}

TEST_P(SearchTest, ErrorTrueFindsTracesWithAFailedSpan) {
  Write(kA, {{.span_id = 1}, {.span_id = 2, .parent_id = 1, .error = true}});
  Write(kB, {{.span_id = 1, .start_ns = kT0 + 1}});
  TraceQuery q;
  q.attributes = {{"error", "true"}};
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.attributes = {{"otel.status_code", "ERROR"}};
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.attributes = {{"otel.status_description", "boom"}};
  EXPECT_THAT(Find(q), ElementsAre(kA));
}

// Every tag the Jaeger API derives from a span (storage/span_tags.h) can be searched, the trace
// state included.
TEST_P(SearchTest, DerivedTagsShownByTheJaegerApiAreSearchable) {
  Write(kA, {{.span_id = 1,
              .kind = opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER,
              .trace_state = "vendor=abc,other=1"}});
  Write(kB, {{.span_id = 1, .start_ns = kT0 + 1}});
  EXPECT_THAT(FindTags({{"w3c.tracestate", "vendor=abc,other=1"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"span.kind", "server"}}), ElementsAre(kA));
  EXPECT_THAT(FindTags({{"otel.scope.name", "test.scope"}}), ElementsAre(kB, kA));
  EXPECT_TRUE(FindTags({{"w3c.tracestate", "vendor=abc"}}).empty());
}

TEST_P(SearchTest, TagsAreScopedToTheServiceButMayComeFromDifferentSpans) {
  Write(kA, {{.service = "front", .span_id = 1, .attributes = {{"user", std::string("ann")}}},
             {.service = "db", .span_id = 2, .parent_id = 1, .error = true}});
  Write(kB,
        {{.service = "front",
          .span_id = 1,
          .start_ns = kT0 + 1,
          .attributes = {{"user", std::string("ann")}}},
         {.service = "front", .span_id = 2, .parent_id = 1, .start_ns = kT0 + 1, .error = true}});
  TraceQuery q = Service("front");
  q.attributes = {{"user", "ann"}, {"error", "true"}};
  // In kA the error is in db, not front; in kB two different front spans carry the two tags.
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.service = "";
  EXPECT_THAT(Find(q), ElementsAre(kB, kA));
}

// A segment numbers its services; a tag's entries carry the services that have it (keys.h,
// "Services in a segment"), past 64 of them too, before and after the segment is sealed.
TEST_P(SearchTest, TagsAreScopedToTheServiceAmongSeventyServicesOfOneSegment) {
  for (uint64_t i = 0; i < 70; ++i) {
    Write(MakeTraceId(1, i), {{.service = "svc-" + std::to_string(i),
                               .span_id = 1,
                               .start_ns = kT0 + static_cast<int64_t>(i),
                               .attributes = {{"user", std::string(i % 2 ? "ann" : "bob")}}}});
  }
  const TraceId both = MakeTraceId(2, 1);
  Write(both, {{.service = "svc-68", .span_id = 1, .attributes = {{"user", std::string("cy")}}},
               {.service = "svc-1", .span_id = 2, .parent_id = 1}});
  for (bool sealed : {false, true}) {
    if (sealed) {
      ASSERT_TRUE(store_->Flush().ok());
    }
    TraceQuery q = Service("svc-68");
    q.attributes = {{"user", "cy"}};
    EXPECT_THAT(Find(q), ElementsAre(both)) << "sealed " << sealed;
    q.service = "svc-1";
    EXPECT_THAT(Find(q), ElementsAre()) << "sealed " << sealed;
    q.attributes = {{"user", "ann"}};
    EXPECT_THAT(Find(q), ElementsAre(MakeTraceId(1, 1))) << "sealed " << sealed;
    q.service = "svc-67";
    EXPECT_THAT(Find(q), ElementsAre(MakeTraceId(1, 67))) << "sealed " << sealed;
    q.service = "svc-66";
    EXPECT_THAT(Find(q), ElementsAre()) << "sealed " << sealed;
    q.attributes = {{"user", "bob"}};
    EXPECT_THAT(Find(q), ElementsAre(MakeTraceId(1, 66))) << "sealed " << sealed;
    // Suggestions read the same service sets.
    TagSuggestionQuery values;
    values.service = "svc-68";
    values.key = "user";
    values.start_time_max_ns = std::numeric_limits<int64_t>::max();
    values.limit = 10;
    absl::StatusOr<std::vector<std::string>> names = store_->SuggestTags(values);
    ASSERT_TRUE(names.ok()) << names.status();
    EXPECT_THAT(*names, ElementsAre("bob", "cy")) << "sealed " << sealed;
    values.service = "svc-1";
    names = store_->SuggestTags(values);
    ASSERT_TRUE(names.ok()) << names.status();
    EXPECT_THAT(*names, ElementsAre("ann")) << "sealed " << sealed;
    values.key = "";
    names = store_->SuggestTags(values);
    ASSERT_TRUE(names.ok()) << names.status();
    EXPECT_THAT(*names, ElementsAre("otel.scope.name", "span.kind", "user")) << "sealed " << sealed;
  }
}

TEST_P(SearchTest, DurationAppliesToSpansOfTheServiceAndOperation) {
  // kA: front is fast, db is slow. kB: front is slow.
  Write(
      kA,
      {{.service = "front", .name = "GET", .span_id = 1, .duration_ns = 10 * kMs},
       {.service = "db", .name = "query", .span_id = 2, .parent_id = 1, .duration_ns = 4 * kSec}});
  Write(kB, {{.service = "front",
              .name = "GET",
              .span_id = 1,
              .start_ns = kT0 + 1,
              .duration_ns = 5 * kSec},
             {.service = "front",
              .name = "render",
              .span_id = 2,
              .parent_id = 1,
              .start_ns = kT0 + 1,
              .duration_ns = 2 * kMs}});
  TraceQuery q = Service("front");
  q.duration_min_ns = 3 * kSec;
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.service = "db";
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.service = "";
  EXPECT_THAT(Find(q), ElementsAre(kB, kA));
  // With an operation, only that operation's spans count.
  q.service = "front";
  q.operation = "render";
  EXPECT_TRUE(Find(q).empty());
  q.duration_min_ns.reset();
  q.duration_max_ns = 2 * kMs;
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.operation = "";
  q.duration_min_ns = 3 * kMs;
  q.duration_max_ns = 9 * kMs;  // no front span in [3ms, 9ms]
  EXPECT_TRUE(Find(q).empty());
}

TEST_P(SearchTest, BothDurationBoundsFindASpanBetweenTheShortestAndTheLongest) {
  // Both traces have spans shorter and longer than the range; only kB has one inside it.
  Write(kA, {{.service = "front", .span_id = 1, .duration_ns = 1 * kMs},
             {.service = "front", .span_id = 2, .parent_id = 1, .duration_ns = 10 * kSec}});
  Write(kB, {{.service = "front", .span_id = 1, .start_ns = kT0 + 1, .duration_ns = 1 * kMs},
             {.service = "front",
              .span_id = 2,
              .parent_id = 1,
              .start_ns = kT0 + 1,
              .duration_ns = 5 * kMs},
             {.service = "front",
              .span_id = 3,
              .parent_id = 1,
              .start_ns = kT0 + 1,
              .duration_ns = 10 * kSec}});
  TraceQuery q = Service("front");
  q.duration_min_ns = 3 * kMs;
  q.duration_max_ns = 9 * kMs;
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.service = "";
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.duration_max_ns = 10 * kSec;  // the longest span now lies within
  EXPECT_THAT(Find(q), ElementsAre(kB, kA));
}

TEST_P(SearchTest, DurationBoundsAreInclusiveAndExact) {
  // 1000 ns and 1023 ns are in the same duration class; the class is checked exactly.
  Write(kA, {{.span_id = 1, .duration_ns = 1000}});
  Write(kB, {{.span_id = 1, .start_ns = kT0 + 1, .duration_ns = 1023}});
  TraceQuery q;
  q.duration_min_ns = 1000;
  q.duration_max_ns = 1000;
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.duration_min_ns = 1001;
  q.duration_max_ns = 1022;
  EXPECT_TRUE(Find(q).empty());
  q.duration_max_ns = 1023;
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.duration_min_ns = 0;
  q.duration_max_ns.reset();
  EXPECT_THAT(Find(q), ElementsAre(kB, kA));
}

TEST_P(SearchTest, TimeRangeAppliesToTheTraceStart) {
  // kA starts at T0 and has a span starting at T0 + 10 s.
  Write(kA, {{.span_id = 1, .start_ns = kT0, .duration_ns = 20 * kSec},
             {.span_id = 2, .parent_id = 1, .start_ns = kT0 + 10 * kSec}});
  Write(kB, {{.span_id = 1, .start_ns = kT0 + 5 * kSec}});
  TraceQuery q = Service("svc");
  q.start_time_min_ns = kT0 + kSec;
  EXPECT_THAT(Find(q), ElementsAre(kB));
  q.start_time_min_ns = kT0;
  q.start_time_max_ns = kT0;
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.start_time_max_ns = kT0 - 1;
  q.start_time_min_ns.reset();
  EXPECT_TRUE(Find(q).empty());
}

TEST_P(SearchTest, SummaryDescribesTheWholeTrace) {
  Write(kA, {{.service = "front",
              .name = "GET /cart",
              .span_id = 1,
              .start_ns = kT0,
              .duration_ns = 3 * kSec},
             {.service = "cart",
              .name = "load",
              .span_id = 2,
              .parent_id = 1,
              .start_ns = kT0 + kSec,
              .duration_ns = 2500 * kMs,
              .error = true},
             {.service = "cart",
              .name = "orphan",
              .span_id = 3,
              .parent_id = 99,
              .start_ns = kT0 + kSec}});
  absl::StatusOr<std::vector<TraceSummary>> found = store_->FindTraces(Service("cart"));
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  const TraceSummary& s = (*found)[0];
  EXPECT_EQ(s.trace_id, kA);
  EXPECT_EQ(s.root_service, "front");
  EXPECT_EQ(s.root_operation, "GET /cart");
  EXPECT_EQ(s.start_ns, kT0);
  EXPECT_EQ(s.duration_ns, 3500 * kMs);  // the cart span ends last
  EXPECT_EQ(s.span_count, 3u);
  EXPECT_EQ(s.error_count, 1u);
  EXPECT_EQ(s.orphan_span_count, 1u);
  EXPECT_THAT(s.services, ElementsAre(ServiceSummary{"cart", 2, 1}, ServiceSummary{"front", 1, 0}));
}

TEST_P(SearchTest, LateChunksUpdateSummaryAndIndexes) {
  // First chunk: a child span only (its parent, the root, arrives later and starts earlier).
  Write(kA, {{.service = "db",
              .name = "query",
              .span_id = 2,
              .parent_id = 1,
              .start_ns = kT0 + kSec,
              .duration_ns = 10 * kMs}});
  Write(kB, {{.service = "db", .span_id = 1, .start_ns = kT0 + 500 * kMs}});
  TraceQuery db = Service("db");
  EXPECT_THAT(Find(db), ElementsAre(kA, kB));
  // The late root: new service, new tag, a slow span, and an earlier trace start.
  Write(kA, {{.service = "front",
              .name = "GET",
              .span_id = 1,
              .start_ns = kT0,
              .duration_ns = 4 * kSec,
              .attributes = {{"user", std::string("bob")}}}});
  EXPECT_THAT(Find(db), ElementsAre(kB, kA));  // kA now starts before kB
  absl::StatusOr<std::vector<TraceSummary>> found = store_->FindTraces(Service("front"));
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].root_service, "front");
  EXPECT_EQ((*found)[0].root_operation, "GET");
  EXPECT_EQ((*found)[0].start_ns, kT0);
  EXPECT_EQ((*found)[0].span_count, 2u);
  EXPECT_EQ((*found)[0].orphan_span_count, 0u);
  TraceQuery tagged;
  tagged.attributes = {{"user", "bob"}};
  EXPECT_THAT(Find(tagged), ElementsAre(kA));
  TraceQuery slow;
  slow.duration_min_ns = 3 * kSec;
  EXPECT_THAT(Find(slow), ElementsAre(kA));
  // The entries at the old start time are gone.
  TraceQuery old_start = Service("db");
  old_start.start_time_min_ns = kT0 + kSec;
  EXPECT_TRUE(Find(old_start).empty());
  // A third chunk that changes nothing but a duration set of an existing operation.
  Write(kA, {{.service = "db",
              .name = "query",
              .span_id = 3,
              .parent_id = 1,
              .start_ns = kT0 + 2 * kSec,
              .duration_ns = 2 * kSec}});
  TraceQuery db_query = Service("db");
  db_query.operation = "query";
  db_query.duration_min_ns = 2 * kSec;
  db_query.duration_max_ns = 2 * kSec;
  EXPECT_THAT(Find(db_query), ElementsAre(kA));
  db_query.duration_min_ns = 10 * kMs;
  db_query.duration_max_ns = 10 * kMs;
  EXPECT_THAT(Find(db_query), ElementsAre(kA));
}

TEST_P(SearchTest, LongAndExcludedTagsAreNotIndexedAndNotSearchable) {
  Write(kA, {{.span_id = 1,
              .attributes = {{"secret", std::string("x")},
                             {"long", std::string(33, 'v')},
                             {"short", std::string(32, 'v')}}}});
  TraceQuery q;
  q.attributes = {{"short", std::string(32, 'v')}};
  EXPECT_THAT(Find(q), ElementsAre(kA));
  q.attributes = {{"long", std::string(33, 'v')}};
  absl::StatusOr<std::vector<TraceSummary>> refused = store_->FindTraces(q);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("max_value_length"));
  q.attributes = {{"secret", "x"}};
  refused = store_->FindTraces(q);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("exclude_keys"));
}

TEST_P(SearchTest, InvalidQueriesAreRefusedNamingTheField) {
  auto refuse = [&](const TraceQuery& q, const std::string& field) {
    absl::StatusOr<std::vector<TraceSummary>> r = store_->FindTraces(q);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(r.status().message(), HasSubstr(field));
  };
  TraceQuery q;
  q.limit = 0;
  refuse(q, "limit");
  q = TraceQuery{};
  q.operation = "GET";
  refuse(q, "operation");
  q = TraceQuery{};
  q.duration_min_ns = 5;
  q.duration_max_ns = 4;
  refuse(q, "duration_min");
  q = TraceQuery{};
  q.duration_max_ns = -1;
  refuse(q, "duration_max");
  q = TraceQuery{};
  q.start_time_min_ns = 5;
  q.start_time_max_ns = 4;
  refuse(q, "start_time_min");
  q = TraceQuery{};
  q.attributes = {{"", "x"}};
  refuse(q, "attribute key");
}

TEST_P(SearchTest, DependenciesCountCrossServiceCallsPerSlot) {
  Write(kA, {{.service = "front", .span_id = 1, .start_ns = kT0},
             {.service = "cart", .span_id = 2, .parent_id = 1, .start_ns = kT0 + kSec},
             {.service = "cart", .span_id = 3, .parent_id = 2, .start_ns = kT0 + kSec},
             {.service = "db", .span_id = 4, .parent_id = 3, .start_ns = kT0 + kSec},
             {.service = "db", .span_id = 5, .parent_id = 3, .start_ns = kT0 + 2 * kSec}});
  // Two minutes later.
  Write(kB, {{.service = "front", .span_id = 1, .start_ns = kT0 + 120 * kSec},
             {.service = "cart", .span_id = 2, .parent_id = 1, .start_ns = kT0 + 121 * kSec}});
  auto deps = store_->GetDependencies(kT0 + 200 * kSec, 300 * kSec);
  ASSERT_TRUE(deps.ok()) << deps.status();
  EXPECT_THAT(*deps,
              ElementsAre(DependencyLink{"cart", "db", 2}, DependencyLink{"front", "cart", 2}));
  // Only the newer trace's slot.
  deps = store_->GetDependencies(kT0 + 200 * kSec, 60 * kSec);
  ASSERT_TRUE(deps.ok());
  EXPECT_THAT(*deps, ElementsAre(DependencyLink{"front", "cart", 1}));
  deps = store_->GetDependencies(kT0 - 120 * kSec, 0);
  ASSERT_TRUE(deps.ok());
  EXPECT_TRUE(deps->empty());
  EXPECT_EQ(store_->GetDependencies(kT0, -1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(SearchTest, DependenciesJoinParentsAndChildrenFromDifferentChunks) {
  // The child arrives first, its parent later, then another child of that parent.
  Write(kA, {{.service = "cart", .span_id = 2, .parent_id = 1, .start_ns = kT0 + kSec}});
  auto deps = store_->GetDependencies(kT0 + 60 * kSec, 120 * kSec);
  ASSERT_TRUE(deps.ok());
  EXPECT_TRUE(deps->empty());
  Write(kA, {{.service = "front", .span_id = 1, .start_ns = kT0}});
  Write(kA, {{.service = "db", .span_id = 3, .parent_id = 1, .start_ns = kT0 + kSec}});
  deps = store_->GetDependencies(kT0 + 60 * kSec, 120 * kSec);
  ASSERT_TRUE(deps.ok());
  EXPECT_THAT(*deps,
              ElementsAre(DependencyLink{"front", "cart", 1}, DependencyLink{"front", "db", 1}));
}

TEST_P(SearchTest, DependenciesCountFailedCallsWhicheverChunkBringsTheFailure) {
  const int client = opentelemetry::proto::trace::v1::Span::SPAN_KIND_CLIENT;
  // A failed child; a failed CLIENT parent that arrives after its child; a child of it that
  // arrives after it; an ordinary call.
  Write(kA, {{.service = "front", .span_id = 1, .start_ns = kT0},
             {.service = "cart", .span_id = 2, .parent_id = 1, .start_ns = kT0, .error = true},
             {.service = "db", .span_id = 4, .parent_id = 3, .start_ns = kT0}});
  Write(kA, {{.service = "cart",
              .span_id = 3,
              .parent_id = 2,
              .start_ns = kT0,
              .kind = client,
              .error = true}});
  Write(kA, {{.service = "db", .span_id = 5, .parent_id = 3, .start_ns = kT0}});
  Write(kB, {{.service = "front", .span_id = 1, .start_ns = kT0},
             {.service = "cart", .span_id = 2, .parent_id = 1, .start_ns = kT0}});
  auto deps = store_->GetDependencies(kT0 + 60 * kSec, 120 * kSec);
  ASSERT_TRUE(deps.ok()) << deps.status();
  EXPECT_THAT(*deps, ElementsAre(DependencyLink{"cart", "db", 2, 2},
                                 DependencyLink{"front", "cart", 2, 1}));
}

INSTANTIATE_TEST_SUITE_P(Stores, SearchTest, ::testing::Values("memory", "rocks", "clickhouse"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tailtrace::storage
