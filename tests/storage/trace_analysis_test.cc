// Tag stringification, duration classes, summaries, dependency calls, the incremental
// TraceTermsBuilder (against ComputeIndexTerms), the TraceTermsCache, and that late chunks of a
// cached trace are indexed without reading the trace back.

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tests/storage/trace_builder.h"
#include "trace_terms_cache.h"

namespace tailtrace::storage {
namespace {

namespace common = opentelemetry::proto::common::v1;
using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using testing::MakeTraceId;
using ::testing::Pair;
using testing::SpanSpec;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'040 * kSec;  // a dependency slot boundary
static_assert(kT0 % kDependencySlotNs == 0);

common::AnyValue Value(const std::string& s) {
  common::AnyValue v;
  v.set_string_value(s);
  return v;
}

TEST(IndexValueStringTest, RendersValuesAsJaegerShowsThem) {
  common::AnyValue v;
  v.set_bool_value(true);
  EXPECT_EQ(IndexValueString(v), "true");
  v.set_bool_value(false);
  EXPECT_EQ(IndexValueString(v), "false");
  v.set_int_value(-503);
  EXPECT_EQ(IndexValueString(v), "-503");
  v.set_double_value(0.25);
  EXPECT_EQ(IndexValueString(v), "0.25");
  v.set_double_value(3.0);
  EXPECT_EQ(IndexValueString(v), "3");
  v.set_double_value(1e21);
  EXPECT_EQ(IndexValueString(v), "1e+21");
  v.set_double_value(0.1 + 0.2);  // %.10g, like Jaeger's AsString
  EXPECT_EQ(IndexValueString(v), "0.3");
  v.set_double_value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(IndexValueString(v), "Infinity");
  v.set_double_value(std::nan(""));
  EXPECT_EQ(IndexValueString(v), "NaN");
  v.set_bytes_value(std::string("\x01\x02\xff", 3));
  EXPECT_EQ(IndexValueString(v), "AQL/");
  EXPECT_EQ(IndexValueString(Value("héllo")), "héllo");
  common::AnyValue array;
  *array.mutable_array_value()->add_values() = Value("a");
  array.mutable_array_value()->add_values()->set_int_value(1);
  EXPECT_EQ(IndexValueString(array), R"(["a",1])");
  common::AnyValue map;
  auto* kv = map.mutable_kvlist_value()->add_values();
  kv->set_key("k");
  *kv->mutable_value() = Value("v");
  EXPECT_EQ(IndexValueString(map), R"({"k":"v"})");
  EXPECT_EQ(IndexValueString(common::AnyValue()), "");
}

TEST(IsIndexedTagTest, LengthLimitAndExcludedKeys) {
  IndexOptions options;
  options.max_value_length = 6;
  options.exclude_keys = {"secret"};
  EXPECT_TRUE(IsIndexedTag("k", "123456", options));
  EXPECT_FALSE(IsIndexedTag("k", "1234567", options));
  EXPECT_FALSE(IsIndexedTag("kkkkkkk", "1", options));
  EXPECT_FALSE(IsIndexedTag("secret", "1", options));
  EXPECT_TRUE(IsIndexedTag("secre", "1", options));
}

TEST(DurationClassTest, ClassesCoverFactorsOfFour) {
  EXPECT_EQ(DurationClass(0), 0);
  EXPECT_EQ(DurationClass(-5), 0);
  EXPECT_EQ(DurationClass(1), 1);
  EXPECT_EQ(DurationClass(3), 1);
  EXPECT_EQ(DurationClass(4), 2);
  EXPECT_EQ(DurationClass(15), 2);
  EXPECT_EQ(DurationClass(16), 3);
  EXPECT_EQ(DurationClass(std::numeric_limits<int64_t>::max()), kDurationClasses - 1);
  for (int64_t d = 1; d < 100'000; d = d * 3 + 1) {
    EXPECT_LE(DurationClass(d), DurationClass(d + 1));
  }
}

TEST(DurationClassTest, FineClassesCoverFactorsOfTheFourthRootOfTwoInsideCoarseClasses) {
  EXPECT_EQ(FineDurationClass(0), 0);
  EXPECT_EQ(FineDurationClass(1), 1);
  EXPECT_EQ(FineDurationClass(4), 9);
  EXPECT_EQ(FineDurationClass(5), 10);
  EXPECT_EQ(FineDurationClass(6), 11);
  EXPECT_EQ(FineDurationClass(7), 12);
  EXPECT_EQ(FineDurationClass(8), 13);
  EXPECT_EQ(FineDurationClass(std::numeric_limits<int64_t>::max()), kFineDurationClasses - 1);
  EXPECT_EQ(FirstFineClass(0), 0);
  EXPECT_EQ(LastFineClass(0), 0);
  int64_t previous = 0;
  // d grows by about a quarter each step (no overflow below max / 2).
  for (int64_t d = 0; d < std::numeric_limits<int64_t>::max() / 2; d = d + d / 4 + 1) {
    const int fine = FineDurationClass(d);
    const int coarse = DurationClass(d);
    EXPECT_GE(fine, FirstFineClass(coarse)) << d;
    EXPECT_LE(fine, LastFineClass(coarse)) << d;
    EXPECT_LE(FineDurationClass(previous), fine) << d;  // monotonic
    previous = d;
  }
  // The fine classes of consecutive coarse classes are adjacent.
  for (int c = 1; c < kDurationClasses; ++c) EXPECT_EQ(FirstFineClass(c), LastFineClass(c - 1) + 1);
}

TEST(ForEachSpanTagTest, SpanResourceAndSyntheticTags) {
  const TraceId id = MakeTraceId(0, 1);
  const TracesData data = BuildChunk(id, {{.service = "svc",
                                           .kind = 2,
                                           .error = true,
                                           .attributes = {{"a", int64_t{1}}},
                                           .resource_attributes = {{"host", std::string("h")}}}});
  std::vector<std::pair<std::string, std::string>> tags;
  const auto& rs = data.resource_spans(0);
  ForEachSpanTag(rs, rs.scope_spans(0), rs.scope_spans(0).spans(0),
                 [&](std::string_view k, std::string_view v) { tags.emplace_back(k, v); });
  EXPECT_THAT(tags,
              ElementsAre(Pair("a", "1"), Pair("host", "h"), Pair("otel.scope.name", "test.scope"),
                          Pair("span.kind", "server"), Pair("otel.status_code", "ERROR"),
                          Pair("error", "true"), Pair("otel.status_description", "boom")));
}

TEST(ComputeSummaryTest, RootPrefersParentlessThenOrphansThenEarliest) {
  const TraceId id = MakeTraceId(0, 1);
  // Only orphans: the earliest orphan is the root.
  TracesData a = BuildChunk(
      id, {{.service = "x", .name = "late", .span_id = 2, .parent_id = 9, .start_ns = kT0 + 5},
           {.service = "y", .name = "early", .span_id = 3, .parent_id = 8, .start_ns = kT0 + 1}});
  const TracesData* chunks[] = {&a};
  TraceSummary s = ComputeSummary(id, chunks);
  EXPECT_EQ(s.root_operation, "early");
  EXPECT_EQ(s.orphan_span_count, 2u);
  // A parentless span wins even when it starts later.
  TracesData b =
      BuildChunk(id, {{.service = "z", .name = "root", .span_id = 4, .start_ns = kT0 + 9}});
  const TracesData* both[] = {&a, &b};
  s = ComputeSummary(id, both);
  EXPECT_EQ(s.root_service, "z");
  EXPECT_EQ(s.root_operation, "root");
  EXPECT_EQ(s.start_ns, kT0 + 1);
  EXPECT_EQ(s.span_count, 3u);
}

TEST(ComputeDependencyCallsTest, CrossServiceParentsPerSlot) {
  const TraceId id = MakeTraceId(0, 1);
  TracesData data = BuildChunk(
      id, {{.service = "a", .span_id = 1, .start_ns = kT0},
           {.service = "b", .span_id = 2, .parent_id = 1, .start_ns = kT0 + 59 * kSec},
           {.service = "b", .span_id = 3, .parent_id = 1, .start_ns = kT0 + 60 * kSec},
           {.service = "a", .span_id = 4, .parent_id = 1, .start_ns = kT0},     // same service
           {.service = "c", .span_id = 5, .parent_id = 77, .start_ns = kT0}});  // no parent
  const TracesData* chunks[] = {&data};
  const int64_t slot = kT0 / kDependencySlotNs;
  EXPECT_THAT(ComputeDependencyCalls(chunks),
              ElementsAre(Pair(DependencyKey{slot, "a", "b"}, CallCounts{1, 0}),
                          Pair(DependencyKey{slot + 1, "a", "b"}, CallCounts{1, 0})));
}

TEST(ComputeDependencyCallsTest, AFailedChildOrAFailedClientOrProducerParentFailsTheCall) {
  using opentelemetry::proto::trace::v1::Span;
  const TraceId id = MakeTraceId(0, 1);
  auto span = [](std::string service, uint64_t span_id, uint64_t parent_id, int kind, bool error) {
    return SpanSpec{.service = std::move(service),
                    .span_id = span_id,
                    .parent_id = parent_id,
                    .start_ns = kT0,
                    .kind = kind,
                    .error = error};
  };
  TracesData data = BuildChunk(
      id, {
              // A failed child: failed, whatever its parent.
              span("front", 1, 0, Span::SPAN_KIND_SERVER, false),
              span("cart", 2, 1, Span::SPAN_KIND_SERVER, true),
              // A failed CLIENT or PRODUCER parent: its call failed even when the child did not.
              span("front", 3, 0, Span::SPAN_KIND_CLIENT, true),
              span("cart", 4, 3, Span::SPAN_KIND_SERVER, false),
              span("front", 5, 0, Span::SPAN_KIND_PRODUCER, true),
              span("queue", 6, 5, Span::SPAN_KIND_CONSUMER, false),
              // A failed SERVER or INTERNAL parent does not fail the calls it makes.
              span("front", 7, 0, Span::SPAN_KIND_SERVER, true),
              span("queue", 8, 7, Span::SPAN_KIND_CONSUMER, false),
              span("front", 9, 0, Span::SPAN_KIND_INTERNAL, true),
              span("cart", 10, 9, Span::SPAN_KIND_SERVER, false),
              // Spans sharing ID 11: the smallest service ("db") is the parent, and a failed
              // CLIENT span among those of "db" fails its calls; "zeta"'s does not count.
              span("db", 11, 0, Span::SPAN_KIND_CLIENT, false),
              span("zeta", 11, 0, Span::SPAN_KIND_CLIENT, true),
              span("disk", 12, 11, Span::SPAN_KIND_SERVER, false),
              span("db", 13, 0, Span::SPAN_KIND_CLIENT, false),
              span("db", 13, 0, Span::SPAN_KIND_CLIENT, true),
              span("disk", 14, 13, Span::SPAN_KIND_SERVER, false),
          });
  const TracesData* chunks[] = {&data};
  const int64_t slot = kT0 / kDependencySlotNs;
  EXPECT_THAT(ComputeDependencyCalls(chunks),
              ElementsAre(Pair(DependencyKey{slot, "db", "disk"}, CallCounts{2, 1}),
                          Pair(DependencyKey{slot, "front", "cart"}, CallCounts{3, 2}),
                          Pair(DependencyKey{slot, "front", "queue"}, CallCounts{2, 1})));
}

TEST(LinksOfTest, EdgesWithCallsAndTheirFailedCallsWithinTheCalls) {
  const EdgeCounts sums = {{{"a", "b"}, CallCounts{3, 1}},
                           {{"a", "c"}, CallCounts{0, 0}},    // no calls: no link
                           {{"b", "c"}, CallCounts{2, 5}},    // never written so: clamped
                           {{"c", "d"}, CallCounts{2, -1}}};  // likewise
  EXPECT_THAT(LinksOf(sums),
              ElementsAre(DependencyLink{"a", "b", 3, 1}, DependencyLink{"b", "c", 2, 2},
                          DependencyLink{"c", "d", 2, 0}));
}

// Adds `chunks` to a builder one by one and checks it against ComputeIndexTerms after each.
void ExpectBuilderMatchesFullComputation(const TraceId& id,
                                         const std::vector<std::vector<SpanSpec>>& chunks) {
  IndexOptions options;
  TraceTermsBuilder builder(id, options);
  std::vector<TracesData> datas;
  datas.reserve(chunks.size());
  DependencyCounts calls;
  for (const auto& spans : chunks) {
    datas.push_back(BuildChunk(id, spans));
    TraceTermsBuilder::Delta delta;
    ASSERT_TRUE(builder.Add(datas.back(), &delta));
    for (const auto& [k, c] : delta.calls) calls[k] += c;
    std::vector<const TracesData*> all;
    for (const TracesData& d : datas) all.push_back(&d);
    const TraceIndexTerms want = ComputeIndexTerms(id, all, options);
    EXPECT_EQ(builder.summary(), want.summary);
    EXPECT_EQ(builder.calls(), want.calls);
    EXPECT_EQ(calls, want.calls);  // the deltas add up
    std::map<std::string, std::string> want_streams;
    want_streams.emplace(TimeStream(), "");
    for (const auto& s : want.services) want_streams.emplace(ServiceStream(s), "");
    for (const auto& [s, o] : want.operations) want_streams.emplace(OperationStream(s, o), "");
    for (const auto& [s, k, v] : want.service_tags) {
      want_streams.emplace(ServiceTagStream(s, k, v), "");
    }
    for (const auto& [k, v] : want.tags) want_streams.emplace(TagStream(k, v), "");
    for (const DurationTerm& term : want.coarse_durations) {
      want_streams.emplace(DurationStream(term), "");
    }
    for (const auto& [term, values] : want.durations) {
      want_streams.emplace(DurationStream(term), EncodeDurations(values));
    }
    EXPECT_EQ(builder.Streams(), want_streams);
  }
}

TEST(TraceTermsBuilderTest, IncrementalStateEqualsTheFullComputation) {
  const TraceId id = MakeTraceId(0, 1);
  ExpectBuilderMatchesFullComputation(
      id, {// Children first: orphans, no calls yet.
           {{.service = "db",
             .name = "q",
             .span_id = 3,
             .parent_id = 2,
             .start_ns = kT0 + 3,
             .duration_ns = 5},
            {.service = "cart",
             .name = "c",
             .span_id = 2,
             .parent_id = 1,
             .start_ns = kT0 + 2,
             .attributes = {{"user", std::string("ann")}}}},
           // The root arrives, earlier than all: start moves, orphans resolve, calls appear.
           {{.service = "front",
             .name = "GET",
             .span_id = 1,
             .start_ns = kT0,
             .duration_ns = 100,
             .error = true}},
           // More children of known parents, a new duration in an existing term.
           {{.service = "db",
             .name = "q",
             .span_id = 4,
             .parent_id = 2,
             .start_ns = kT0 + 4,
             .duration_ns = 6},
            {.service = "db", .name = "q", .span_id = 5, .parent_id = 99, .start_ns = kT0 + 5}}});
}

TEST(TraceTermsBuilderTest, FailedCallsFromParentsAndChildrenInAnyOrder) {
  using opentelemetry::proto::trace::v1::Span;
  const TraceId id = MakeTraceId(0, 1);
  const int server = Span::SPAN_KIND_SERVER;
  const int client = Span::SPAN_KIND_CLIENT;
  const std::vector<std::vector<SpanSpec>> chunks = {
      // Children before their parents: a failed one, and one whose parent's call failed.
      {{.service = "cart", .span_id = 3, .parent_id = 1, .start_ns = kT0, .error = true},
       {.service = "db", .span_id = 4, .parent_id = 2, .start_ns = kT0}},
      // The parents: a SERVER span, and a failed CLIENT span.
      {{.service = "front", .span_id = 1, .start_ns = kT0, .kind = server},
       {.service = "front",
        .span_id = 2,
        .parent_id = 1,
        .start_ns = kT0,
        .kind = client,
        .error = true}},
      // Children of parents already there.
      {{.service = "db", .span_id = 5, .parent_id = 2, .start_ns = kT0},
       {.service = "cart", .span_id = 6, .parent_id = 1, .start_ns = kT0}}};
  ExpectBuilderMatchesFullComputation(id, chunks);
  IndexOptions options;
  TraceTermsBuilder builder(id, options);
  for (const auto& spans : chunks) {
    TraceTermsBuilder::Delta delta;
    ASSERT_TRUE(builder.Add(BuildChunk(id, spans), &delta));
  }
  const int64_t slot = kT0 / kDependencySlotNs;
  EXPECT_THAT(builder.calls(),
              ElementsAre(Pair(DependencyKey{slot, "front", "cart"}, CallCounts{2, 1}),
                          Pair(DependencyKey{slot, "front", "db"}, CallCounts{2, 2})));
}

TEST(TraceTermsBuilderTest, RepeatedSpanIdsAreRefusedWithoutChange) {
  const TraceId id = MakeTraceId(0, 1);
  IndexOptions options;
  TraceTermsBuilder builder(id, options);
  TraceTermsBuilder::Delta delta;
  const TracesData first = BuildChunk(id, {{.span_id = 1}});
  ASSERT_TRUE(builder.Add(first, &delta));
  EXPECT_THAT(delta.streams, ::testing::Contains(TimeStream()));
  const TraceSummary before = builder.summary();
  TraceTermsBuilder::Delta second_delta;
  EXPECT_FALSE(builder.Add(BuildChunk(id, {{.span_id = 2}, {.span_id = 1}}), &second_delta));
  EXPECT_FALSE(builder.Add(BuildChunk(id, {{.span_id = 3}, {.span_id = 3}}), &second_delta));
  EXPECT_EQ(builder.summary(), before);
  EXPECT_TRUE(second_delta.streams.empty());
  EXPECT_TRUE(builder.Add(BuildChunk(id, {{.span_id = 2}}), &second_delta));
  EXPECT_EQ(builder.summary().span_count, 2u);
  // Nothing new but the span count: no new stream, the same duration.
  EXPECT_TRUE(second_delta.streams.empty());
  EXPECT_TRUE(second_delta.durations.empty());
}

TEST(TraceTermsCacheTest, EvictsLeastRecentlyUsedWithinTheBudget) {
  IndexOptions options;
  auto builder_for = [&](uint64_t n) {
    auto b = std::make_unique<TraceTermsBuilder>(MakeTraceId(0, n), options);
    TraceTermsBuilder::Delta d;
    EXPECT_TRUE(b->Add(BuildChunk(MakeTraceId(0, n), {{.span_id = 1}}), &d));
    return b;
  };
  const size_t one = builder_for(1)->ApproximateBytes();
  TraceTermsCache cache(2 * one + one / 2);  // room for two
  cache.Put(MakeTraceId(0, 1), {nullptr, builder_for(1)});
  cache.Put(MakeTraceId(0, 2), {nullptr, builder_for(2)});
  // Using 1 makes 2 the least recently used.
  auto taken = cache.Take(MakeTraceId(0, 1));
  ASSERT_TRUE(taken.has_value());
  cache.Put(MakeTraceId(0, 1), std::move(*taken));
  cache.Put(MakeTraceId(0, 3), {nullptr, builder_for(3)});
  EXPECT_FALSE(cache.Take(MakeTraceId(0, 2)).has_value());
  EXPECT_TRUE(cache.Take(MakeTraceId(0, 1)).has_value());
  EXPECT_TRUE(cache.Take(MakeTraceId(0, 3)).has_value());
  EXPECT_FALSE(cache.Take(MakeTraceId(0, 3)).has_value());  // taken means gone
  EXPECT_EQ(cache.bytes(), 0u);
  // An entry larger than the budget is not kept.
  TraceTermsCache tiny(1);
  tiny.Put(MakeTraceId(0, 1), {nullptr, builder_for(1)});
  EXPECT_FALSE(tiny.Take(MakeTraceId(0, 1)).has_value());
}

class LateChunkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("tailtrace_late_chunks_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    options_.path = (dir_ / "db").string();
    options_.block_cache_bytes = 1 << 20;
    options_.write_buffer_bytes = 1 << 20;
    options_.retention_check_interval_ms = 0;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes one trace as `n` chunks of one span each; returns the store's trace_rereads.
  uint64_t WriteInChunks(RocksTraceStore& store, const TraceId& id, int n) {
    for (int i = 1; i <= n; ++i) {
      const TracesData data = BuildChunk(id, {{.service = "svc",
                                               .span_id = static_cast<uint64_t>(i),
                                               .parent_id = i == 1 ? 0u : 1u,
                                               .start_ns = kT0 + i}});
      const TraceWrite w{id, &data, "", 1.0, {}};
      EXPECT_TRUE(store.Write({&w, 1}).ok());
    }
    return store.Stats().trace_rereads;
  }

  FakeClock clock_{kT0};
  std::filesystem::path dir_;
  StoreOptions options_;
};

TEST_F(LateChunkTest, CachedTracesAreNotReadBack) {
  auto store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const TraceId id = MakeTraceId(0, 1);
  EXPECT_EQ(WriteInChunks(**store, id, 50), 0u);
  auto found = (*store)->FindTraces(TraceQuery{});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].span_count, 50u);
  // After a restart the first late chunk reads the trace back, the next ones do not.
  ASSERT_TRUE((*store)->Close().ok());
  store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const TracesData more = BuildChunk(id, {{.span_id = 51, .parent_id = 1, .start_ns = kT0}});
  const TracesData again = BuildChunk(id, {{.span_id = 52, .parent_id = 1, .start_ns = kT0}});
  const TraceWrite w1{id, &more, "", 1.0, {}};
  const TraceWrite w2{id, &again, "", 1.0, {}};
  ASSERT_TRUE((*store)->Write({&w1, 1}).ok());
  ASSERT_TRUE((*store)->Write({&w2, 1}).ok());
  EXPECT_EQ((*store)->Stats().trace_rereads, 1u);
}

TEST_F(LateChunkTest, WithoutTheCacheEveryLateChunkReadsItsTraceBack) {
  options_.trace_terms_cache_bytes = 0;
  auto store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(WriteInChunks(**store, MakeTraceId(0, 1), 10), 9u);
}

}  // namespace
}  // namespace tailtrace::storage
