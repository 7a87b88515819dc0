// Tag suggestions (trace_store.h, "Tag suggestion semantics") against both stores: the keys of a
// service's spans or of every span (attributes, resource attributes, synthetic and event tags),
// the values of a key, the time window, the limit, the index options, refused queries; and for
// RocksTraceStore the same answers from sealed segments, after reopening, and the work bound that
// reads the newest bucket first.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/both_stores_fixture.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeTraceId;
using testing::SpanSpec;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kT0 = 1'699'999'200 * kSec;  // hour-aligned

class TagSuggestionsTest : public testing::BothStoresTest {
 protected:
  TagSuggestionsTest() : BothStoresTest(kT0) {
    // One-hour buckets, none expiring during a test.
    options_.retention_ns = 100 * kHour;
    options_.retention_buckets = 100;
    options_.index.max_value_length = 24;
    options_.index.exclude_keys = {"secret"};
  }

  void Write(uint64_t n, std::vector<SpanSpec> spans) {
    const TraceId id = MakeTraceId(2, n);
    const TracesData data = BuildChunk(id, spans);
    const TraceWrite w{id, &data, "", 1.0, {}};
    ASSERT_TRUE(store_->Write({&w, 1}).ok());
  }

  // Keys (key empty) or the values of `key`, of `service`'s spans, of traces starting in
  // [min, max].
  std::vector<std::string> Suggest(std::string service, std::string key = "", int64_t min = 0,
                                   int64_t max = std::numeric_limits<int64_t>::max(),
                                   int limit = 100) {
    TagSuggestionQuery q;
    q.service = std::move(service);
    q.key = std::move(key);
    q.start_time_min_ns = min;
    q.start_time_max_ns = max;
    q.limit = limit;
    absl::StatusOr<std::vector<std::string>> names = store_->SuggestTags(q);
    EXPECT_TRUE(names.ok()) << names.status();
    return names.ok() ? *names : std::vector<std::string>{};
  }

  // Two services at kT0: checkout (server spans, a failed one with an event) and inventory.
  void WriteShop() {
    Write(1,
          {{.service = "checkout",
            .span_id = 1,
            .start_ns = kT0,
            .kind = Span::SPAN_KIND_SERVER,
            .attributes = {{"http.method", std::string("GET")}, {"http.status_code", int64_t{200}}},
            .resource_attributes = {{"host.name", std::string("web-1")}}},
           {.service = "inventory",
            .span_id = 2,
            .parent_id = 1,
            .start_ns = kT0 + kSec,
            .attributes = {{"db.system", std::string("postgresql")}}}});
    Write(2, {{.service = "checkout",
               .span_id = 1,
               .start_ns = kT0 + 2 * kSec,
               .kind = Span::SPAN_KIND_SERVER,
               .error = true,
               .attributes = {{"http.method", std::string("POST")},
                              {"secret", std::string("hunter2")},
                              {"note", std::string(25, 'x')}},
               .events = {{"exception", {{"exception.type", std::string("Timeout")}}}}}});
  }

  // Seals every index segment (RocksTraceStore then reads posting keys from RocksDB).
  void Seal() { ASSERT_TRUE(store_->Flush().ok()); }
};

TEST_P(TagSuggestionsTest, KeysOfAServiceIncludeResourceSyntheticAndEventTags) {
  WriteShop();
  for (int sealed = 0; sealed < 2; ++sealed) {
    SCOPED_TRACE(sealed ? "sealed" : "unsealed");
    // Not "secret" (excluded); "note" has no indexed value (longer than max_value_length).
    EXPECT_THAT(Suggest("checkout"),
                ElementsAre("error", "event", "exception.type", "host.name", "http.method",
                            "http.status_code", "otel.scope.name", "otel.status_code",
                            "otel.status_description", "span.kind"));
    EXPECT_THAT(Suggest("inventory"), ElementsAre("db.system", "otel.scope.name", "span.kind"));
    EXPECT_THAT(Suggest(""),
                ElementsAre("db.system", "error", "event", "exception.type", "host.name",
                            "http.method", "http.status_code", "otel.scope.name",
                            "otel.status_code", "otel.status_description", "span.kind"));
    EXPECT_THAT(Suggest("nobody"), IsEmpty());
    Seal();
  }
}

TEST_P(TagSuggestionsTest, ValuesOfAKeyAreSortedAndScopedToTheService) {
  WriteShop();
  for (int sealed = 0; sealed < 2; ++sealed) {
    SCOPED_TRACE(sealed ? "sealed" : "unsealed");
    EXPECT_THAT(Suggest("checkout", "http.method"), ElementsAre("GET", "POST"));
    EXPECT_THAT(Suggest("checkout", "span.kind"), ElementsAre("server"));
    EXPECT_THAT(Suggest("", "span.kind"), ElementsAre("internal", "server"));
    EXPECT_THAT(Suggest("inventory", "span.kind"), ElementsAre("internal"));
    EXPECT_THAT(Suggest("", "http.status_code"), ElementsAre("200"));  // as search compares it
    EXPECT_THAT(Suggest("checkout", "event"), ElementsAre("exception"));
    EXPECT_THAT(Suggest("checkout", "note"), IsEmpty());  // too long to be indexed
    EXPECT_THAT(Suggest("inventory", "http.method"), IsEmpty());
    Seal();
  }
}

// Those keys search the trace's sampling decision (trace_store.h): a span's own attributes with
// them cannot be searched, so they are not suggested.
TEST_P(TagSuggestionsTest, SpanAttributesNamedLikeTheSamplingTagsAreNotSuggested) {
  Write(3, {{.service = "checkout",
             .span_id = 1,
             .start_ns = kT0,
             .attributes = {{"sampling.policy", std::string("mine")},
                            {"sampling.rate", 2.0},
                            {"db.system", std::string("redis")}}}});
  for (int sealed = 0; sealed < 2; ++sealed) {
    SCOPED_TRACE(sealed ? "sealed" : "unsealed");
    EXPECT_THAT(Suggest("checkout"), ElementsAre("db.system", "otel.scope.name", "span.kind"));
    EXPECT_THAT(Suggest("", "sampling.policy"), IsEmpty());
    EXPECT_THAT(Suggest("", "sampling.rate"), IsEmpty());
    EXPECT_THAT(Suggest("", "db.system"), ElementsAre("redis"));
    Seal();
  }
}

TEST_P(TagSuggestionsTest, TheLimitKeepsTheFirstNamesInOrder) {
  WriteShop();
  // Values of several lengths: the index sorts them by length first, the answer bytewise.
  Write(3, {{.span_id = 1, .attributes = {{"v", std::string("a")}}},
            {.span_id = 2, .attributes = {{"v", std::string("b")}}},
            {.span_id = 3, .attributes = {{"v", std::string("c")}}},
            {.span_id = 4, .attributes = {{"v", std::string("aa")}}}});
  const int64_t all = std::numeric_limits<int64_t>::max();
  for (int sealed = 0; sealed < 2; ++sealed) {
    SCOPED_TRACE(sealed ? "sealed" : "unsealed");
    EXPECT_THAT(Suggest("checkout", "", 0, all, 2), ElementsAre("error", "event"));
    EXPECT_THAT(Suggest("", "span.kind", 0, all, 1), ElementsAre("internal"));
    EXPECT_THAT(Suggest("svc", "v", 0, all, 2), ElementsAre("a", "aa"));
    EXPECT_THAT(Suggest("svc", "v", 0, all, 3), ElementsAre("a", "aa", "b"));
    Seal();
  }
}

TEST_P(TagSuggestionsTest, OnlyTracesStartingInTheWindowCount) {
  // Three traces a minute apart; the keys and values that tell them apart.
  Write(1, {{.start_ns = kT0, .attributes = {{"early", true}, {"user", std::string("ann")}}}});
  Write(2, {{.start_ns = kT0 + kMin, .attributes = {{"user", std::string("bob")}}}});
  Write(3, {{.start_ns = kT0 + 2 * kMin,
             .attributes = {{"late", true}, {"user", std::string("ann")}}}});
  for (int sealed = 0; sealed < 2; ++sealed) {
    SCOPED_TRACE(sealed ? "sealed" : "unsealed");
    // Only the middle trace.
    EXPECT_THAT(Suggest("svc", "", kT0 + 30 * kSec, kT0 + 90 * kSec),
                ElementsAre("otel.scope.name", "span.kind", "user"));
    EXPECT_THAT(Suggest("svc", "user", kT0 + 30 * kSec, kT0 + 90 * kSec), ElementsAre("bob"));
    // "ann" of the first trace is before this window, that of the last one in it.
    EXPECT_THAT(Suggest("", "user", kT0 + 30 * kSec, kT0 + 3 * kMin), ElementsAre("ann", "bob"));
    EXPECT_THAT(Suggest("svc", "", kT0 + 30 * kSec, kT0 + 3 * kMin),
                ElementsAre("late", "otel.scope.name", "span.kind", "user"));
    // Before and after everything.
    EXPECT_THAT(Suggest("svc", "", kT0 - kHour, kT0 - kMin), IsEmpty());
    EXPECT_THAT(Suggest("svc", "user", kT0 + 3 * kMin, kT0 + kHour), IsEmpty());
    Seal();
  }
}

TEST_P(TagSuggestionsTest, QueriesThatCanNeverMatchAreRefusedNamingTheField) {
  auto refused = [&](TagSuggestionQuery q) {
    absl::StatusOr<std::vector<std::string>> r = store_->SuggestTags(q);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    return std::string(r.status().message());
  };
  TagSuggestionQuery q;
  q.limit = 0;
  EXPECT_THAT(refused(q), HasSubstr("limit"));
  q = {};
  q.start_time_min_ns = 2;
  q.start_time_max_ns = 1;
  EXPECT_THAT(refused(q), HasSubstr("start_time_min"));
  q = {};
  q.key = "secret";
  EXPECT_THAT(refused(q), HasSubstr("exclude_keys"));
  q.key = std::string(25, 'k');
  EXPECT_THAT(refused(q), HasSubstr("max_value_length"));
}

TEST_P(TagSuggestionsTest, RocksAnswersTheSameAfterReopening) {
  if (rocks_ == nullptr) GTEST_SKIP() << "the in-memory store forgets everything on reopening";
  WriteShop();
  const std::vector<std::string> keys = Suggest("");
  const std::vector<std::string> values = Suggest("checkout", "http.method");
  ASSERT_TRUE(rocks_->Close().ok());
  Reopen();
  EXPECT_EQ(Suggest(""), keys);
  EXPECT_EQ(Suggest("checkout", "http.method"), values);
}

TEST_P(TagSuggestionsTest, RocksReadsTheNewestBucketFirstAndStopsAtItsBudget) {
  if (rocks_ == nullptr) GTEST_SKIP() << "the in-memory store reads everything";
  // An older bucket with a key that sorts first, then a newer one with two keys of its own.
  Write(1, {{.start_ns = kT0, .attributes = {{"aaa", true}}}});
  clock_.Advance(2 * kHour);
  Write(2, {{.start_ns = kT0 + 2 * kHour, .attributes = {{"m1", true}, {"m2", true}}}});
  Seal();
  ASSERT_EQ(rocks_->BucketsForTest().size(), 2u);
  EXPECT_THAT(Suggest("svc"), ElementsAre("aaa", "m1", "m2", "otel.scope.name", "span.kind"));
  // The newest bucket's four keys take five seeks (one to the first, one past each); then the
  // budget is spent and the older bucket is not read.
  options_.tag_scan_max_keys = 5;
  ASSERT_TRUE(rocks_->Close().ok());
  Reopen();
  EXPECT_THAT(Suggest("svc"), ElementsAre("m1", "m2", "otel.scope.name", "span.kind"));
  options_.tag_scan_max_keys = 6;
  ASSERT_TRUE(rocks_->Close().ok());
  Reopen();
  EXPECT_THAT(Suggest("svc"), ElementsAre("aaa", "m1", "m2", "otel.scope.name", "span.kind"));
}

INSTANTIATE_TEST_SUITE_P(Stores, TagSuggestionsTest,
                         ::testing::Values(testing::StoreKind::kInMemory,
                                           testing::StoreKind::kRocks,
                                           testing::StoreKind::kClickHouse),
                         testing::StoreKindName);

}  // namespace
}  // namespace tailtrace::storage
