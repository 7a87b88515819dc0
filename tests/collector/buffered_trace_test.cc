// The pieces of a shard's serialized span buffer: the intern pool, the block pool and rope,
// the wire encoding and its materialization, the per-batch trace index.

#include "collector/buffered_trace.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "collector/intern_pool.h"
#include "collector/memory_estimate.h"
#include "collector/trace_index.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::collector {
namespace {

using google::protobuf::util::MessageDifferencer;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using testing::TestSpanId;
using testing::TestTraceId;

TEST(InternPoolTest, EqualBytesShareOneEntryUntilTheLastReleaseFreesIt) {
  InternPool pool;
  const InternPool::Entry* a = pool.Acquire("resource-a");
  const InternPool::Entry* again = pool.Acquire(std::string("resource-a"));
  const InternPool::Entry* b = pool.Acquire("resource-b");
  EXPECT_EQ(a, again);
  EXPECT_NE(a, b);
  EXPECT_EQ(a->bytes, "resource-a");
  EXPECT_EQ(a->refs, 2u);
  EXPECT_EQ(pool.size(), 2u);
  const uint64_t two_entries = pool.heap_bytes();
  EXPECT_GT(two_entries, 0u);

  pool.Ref(b);
  pool.Release(b);
  pool.Release(b);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_LT(pool.heap_bytes(), two_entries);
  pool.Release(a);
  EXPECT_EQ(pool.size(), 1u) << "one reference left";
  pool.Release(a);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.heap_bytes(), 0u);
  // A released entry is made anew on the next Acquire.
  EXPECT_EQ(pool.Acquire("resource-a")->refs, 1u);
}

TEST(InternPoolTest, HeapBytesCountTheStringBuffer) {
  InternPool pool;
  EXPECT_NE(pool.Acquire("short"), nullptr);
  const uint64_t small = pool.heap_bytes();
  InternPool big_pool;
  EXPECT_NE(big_pool.Acquire(std::string(1000, 'r')), nullptr);
  EXPECT_GE(big_pool.heap_bytes(), small + 1000);
}

TEST(MemoryEstimateTest, MallocBytesIsGlibcChunkSize) {
  EXPECT_EQ(MallocBytes(0), 32u);
  EXPECT_EQ(MallocBytes(24), 32u);
  EXPECT_EQ(MallocBytes(25), 48u);
  EXPECT_EQ(MallocBytes(504), 512u);
  EXPECT_EQ(MallocBytes(1000), 1008u);
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return s;
}

TEST(SpanRopeTest, ReadsBackWhatWasAppendedAcrossBlocks) {
  BlockPool pool;
  SpanRope rope;
  const std::string a = Pattern(10, 1);
  const std::string b = Pattern(3 * BlockPool::kDataBytes + 7, 2);  // spans four blocks
  rope.Append(a.data(), a.size(), &pool);
  rope.Append(b.data(), b.size(), &pool);
  EXPECT_EQ(rope.blocks(), 4u);  // 10 + 3*kDataBytes + 7 bytes
  EXPECT_EQ(rope.size(), a.size() + b.size());

  SpanRope::Reader reader(rope);
  std::string first(a.size(), '\0');
  ASSERT_TRUE(reader.Read(first.data(), first.size()));
  EXPECT_EQ(first, a);
  EXPECT_FALSE(reader.AtEnd());
  // Skipping to a block's end and reading on from the next block.
  SpanRope::Reader skipper(rope);
  ASSERT_TRUE(skipper.Skip(BlockPool::kDataBytes));
  char next = 0;
  ASSERT_TRUE(skipper.Read(&next, 1));
  EXPECT_EQ(next, b[BlockPool::kDataBytes - a.size()]);
  std::string rest;
  EXPECT_FALSE(reader.AppendTo(&rest, b.size() + 1)) << "more than is there";
  EXPECT_TRUE(rest.empty()) << "a short read consumes nothing";
  ASSERT_TRUE(reader.AppendTo(&rest, b.size()));
  EXPECT_EQ(rest, b);
  EXPECT_TRUE(reader.AtEnd());
  EXPECT_FALSE(reader.Skip(1));
}

TEST(SpanRopeTest, ReleasedBlocksAreReusedAndThePoolKeepsAtMostItsCap) {
  BlockPool pool;
  {
    SpanRope rope;
    const std::string data = Pattern(5 * BlockPool::kDataBytes, 3);
    rope.Append(data.data(), data.size(), &pool);
    rope.Release(&pool);
    EXPECT_TRUE(rope.empty());
    EXPECT_EQ(pool.free_blocks(), 5u);
    SpanRope again;
    again.Append(data.data(), BlockPool::kDataBytes + 1, &pool);
    EXPECT_EQ(pool.free_blocks(), 3u) << "two blocks reused";
  }  // `again` frees its blocks to malloc
  SpanRope huge;
  const std::string data = Pattern((BlockPool::kMaxFreeBlocks + 10) * BlockPool::kDataBytes, 4);
  huge.Append(data.data(), data.size(), &pool);
  huge.Release(&pool);
  EXPECT_EQ(pool.free_blocks(), BlockPool::kMaxFreeBlocks);
}

TEST(SpanRopeTest, MoveTransfersTheBlocks) {
  BlockPool pool;
  SpanRope rope;
  rope.Append("abc", 3, &pool);
  SpanRope moved(std::move(rope));
  EXPECT_TRUE(rope.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  SpanRope assigned;
  assigned.Append("zz", 2, &pool);
  assigned = std::move(moved);
  SpanRope::Reader reader(assigned);
  std::string out;
  ASSERT_TRUE(reader.AppendTo(&out, 3));
  EXPECT_EQ(out, "abc");
  EXPECT_TRUE(reader.AtEnd());
}

// A resource and scope with everything that must survive: attributes, schema URLs, dropped
// counts, a scope version.
ResourceSpans MakeResourceSpans(const std::string& service, const std::string& scope_name) {
  ResourceSpans rs;
  auto* attr = rs.mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  rs.mutable_resource()->set_dropped_attributes_count(2);
  rs.set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  ScopeSpans* ss = rs.add_scope_spans();
  ss->mutable_scope()->set_name(scope_name);
  ss->mutable_scope()->set_version("1.2.3");
  auto* scope_attr = ss->mutable_scope()->add_attributes();
  scope_attr->set_key("scope.attr");
  scope_attr->mutable_value()->set_int_value(7);
  ss->set_schema_url("https://example.com/scope-schema");
  return rs;
}

Span MakeSpan(uint64_t trace, uint64_t span, size_t name_bytes) {
  Span s;
  s.set_trace_id(TestTraceId(trace));
  s.set_span_id(TestSpanId(span));
  s.set_parent_span_id(TestSpanId(span + 1000));
  s.set_name(std::string(name_bytes, 'n'));
  s.set_start_time_unix_nano(1'700'000'000'000'000'000ull + span);
  auto* kv = s.add_attributes();
  kv->set_key("http.route");
  kv->mutable_value()->set_string_value("/api/" + std::to_string(span));
  s.add_events()->set_name("event");
  s.mutable_status()->set_message("ok");
  return s;
}

// The facts of `s`, from its protobuf fields (what the scan reads from its bytes).
SpanFacts FactsOf(const Span& s) {
  SpanFacts facts{0, 0, s.start_time_unix_nano(), s.kind(), s.status().code()};
  std::memcpy(&facts.span_id, s.span_id().data(), 8);
  if (!s.parent_span_id().empty()) std::memcpy(&facts.parent_span_id, s.parent_span_id().data(), 8);
  return facts;
}

// Writes one group of `spans` under the resource and scope of `rs` into `buffer`, as ShardCore
// does.
void WriteGroup(const ResourceSpans& rs, std::vector<Span>& spans, InternPool* interned,
                BlockPool* blocks, SpanBuffer* buffer, std::string* scratch) {
  ResourceSpans bare_resource = rs;  // the interned keys: the groups without their children
  bare_resource.clear_scope_spans();
  const InternPool::Entry* resource = interned->Acquire(bare_resource.SerializeAsString());
  ScopeSpans bare_scope = rs.scope_spans(0);
  bare_scope.clear_spans();
  const InternPool::Entry* scope = interned->Acquire(bare_scope.SerializeAsString());
  uint64_t bytes = 0;
  for (const Span& s : spans) bytes += SpanEntryBytes(s.ByteSizeLong());
  const GroupHeader header{resource, scope, bytes, spans.size()};
  buffer->groups.Append(&header, sizeof(header), blocks);
  for (const Span& s : spans) {
    const SpanFacts facts = FactsOf(s);
    buffer->groups.Append(&facts, sizeof(facts), blocks);
    scratch->resize(kMaxSpanEntryHeaderBytes);
    scratch->resize(WriteSpanEntryHeader(s.ByteSizeLong(), scratch->data()));
    s.AppendToString(scratch);
    EXPECT_EQ(scratch->size(), SpanEntryBytes(s.ByteSizeLong()));
    buffer->spans.Append(scratch->data(), scratch->size(), blocks);
  }
}

TEST(MaterializeSpansTest, GroupsComeBackAsTheResourceSpansThatWereWritten) {
  InternPool interned;
  BlockPool blocks;
  SpanBuffer spans_buffer;
  std::string buffer;
  TracesData expected;
  const ResourceSpans frontend = MakeResourceSpans("frontend", "http");
  const ResourceSpans cart = MakeResourceSpans("cart", "db");
  std::vector<Span> first = {MakeSpan(1, 1, 10), MakeSpan(1, 2, 2000)};  // one spans blocks
  std::vector<Span> second = {MakeSpan(1, 3, 5)};
  std::vector<Span> third = {MakeSpan(1, 4, 5), MakeSpan(1, 5, 0)};
  int group = 0;
  for (auto* spans : {&first, &second, &third}) {
    const ResourceSpans& rs = group++ == 1 ? cart : frontend;
    WriteGroup(rs, *spans, &interned, &blocks, &spans_buffer, &buffer);
    ResourceSpans* want = expected.add_resource_spans();
    *want = rs;
    for (const Span& s : *spans) *want->mutable_scope_spans(0)->add_spans() = s;
  }
  EXPECT_EQ(interned.size(), 4u) << "two resources and two scopes";

  TracesData got;
  ASSERT_TRUE(MaterializeSpans(spans_buffer, &buffer, &got));
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected)) << got.DebugString();

  // Objects already held are reused, and the result is the same.
  ASSERT_TRUE(MaterializeSpans(spans_buffer, &buffer, &got));
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected));

  ReleaseInterned(spans_buffer, &interned);
  EXPECT_EQ(interned.size(), 0u);
  EXPECT_EQ(interned.heap_bytes(), 0u);
}

TEST(ForEachSpanFactsTest, GivesEachSpansFactsInArrivalOrderWithItsResource) {
  InternPool interned;
  BlockPool blocks;
  SpanBuffer spans_buffer;
  std::string buffer;
  const ResourceSpans frontend = MakeResourceSpans("frontend", "http");
  const ResourceSpans cart = MakeResourceSpans("cart", "db");
  std::vector<Span> first = {MakeSpan(1, 1, 10), MakeSpan(1, 2, 2000)};  // spans blocks
  first[1].set_kind(Span::SPAN_KIND_CLIENT);
  first[1].mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  std::vector<Span> second = {MakeSpan(1, 3, 5)};
  second[0].clear_parent_span_id();
  second[0].set_kind(static_cast<Span::SpanKind>(77));  // an open enum: kept as it came
  WriteGroup(frontend, first, &interned, &blocks, &spans_buffer, &buffer);
  WriteGroup(cart, second, &interned, &blocks, &spans_buffer, &buffer);

  std::vector<std::pair<std::string, SpanFacts>> got;
  ASSERT_TRUE(
      ForEachSpanFacts(spans_buffer, [&](std::string_view resource, const SpanFacts& facts) {
        got.emplace_back(std::string(resource), facts);
      }));
  ASSERT_EQ(got.size(), 3u);
  const std::vector<std::pair<const ResourceSpans*, const Span*>> want = {
      {&frontend, &first[0]}, {&frontend, &first[1]}, {&cart, &second[0]}};
  for (size_t i = 0; i < want.size(); ++i) {
    ResourceSpans bare = *want[i].first;
    bare.clear_scope_spans();
    EXPECT_EQ(got[i].first, bare.SerializeAsString()) << i;
    const SpanFacts facts = FactsOf(*want[i].second);
    EXPECT_EQ(std::memcmp(&got[i].second, &facts, sizeof(facts)), 0) << i;
  }
  EXPECT_EQ(got[2].second.parent_span_id, 0u);
  EXPECT_EQ(got[2].second.kind, 77);
  EXPECT_EQ(got[1].second.status_code, 2);
  ReleaseInterned(spans_buffer, &interned);
  EXPECT_EQ(interned.size(), 0u);
}

TEST(MaterializeSpansTest, AbsentResourceAndScopeStayAbsent) {
  InternPool interned;
  BlockPool blocks;
  SpanBuffer spans_buffer;
  std::string buffer;
  ResourceSpans bare;
  bare.add_scope_spans();
  std::vector<Span> spans = {MakeSpan(2, 1, 3)};
  WriteGroup(bare, spans, &interned, &blocks, &spans_buffer, &buffer);
  TracesData got;
  ASSERT_TRUE(MaterializeSpans(spans_buffer, &buffer, &got));
  ASSERT_EQ(got.resource_spans_size(), 1);
  EXPECT_FALSE(got.resource_spans(0).has_resource());
  ASSERT_EQ(got.resource_spans(0).scope_spans_size(), 1);
  EXPECT_FALSE(got.resource_spans(0).scope_spans(0).has_scope());
  EXPECT_TRUE(MessageDifferencer::Equals(got.resource_spans(0).scope_spans(0).spans(0), spans[0]));
}

TEST(MaterializeSpansTest, HugeTracesComeBackWholeWithTheirBytes) {
  InternPool interned;
  BlockPool blocks;
  SpanBuffer spans_buffer;
  std::string buffer;
  const ResourceSpans rs = MakeResourceSpans("big", "s");
  size_t total = 0;
  for (uint64_t g = 0; g < 40; ++g) {
    std::vector<Span> spans = {MakeSpan(3, g * 2, 60'000), MakeSpan(3, g * 2 + 1, 10)};
    total += spans[0].ByteSizeLong() + spans[1].ByteSizeLong();
    WriteGroup(rs, spans, &interned, &blocks, &spans_buffer, &buffer);
  }
  ASSERT_GT(total, 2u << 20);
  TracesData got;
  ASSERT_TRUE(MaterializeSpans(spans_buffer, &buffer, &got));
  ASSERT_EQ(got.resource_spans_size(), 40);
  for (int g = 0; g < 40; ++g) {
    ASSERT_EQ(got.resource_spans(g).scope_spans(0).spans_size(), 2);
    EXPECT_EQ(got.resource_spans(g).scope_spans(0).spans(0).span_id(), TestSpanId(g * 2));
  }
  TracesData reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(buffer)) << "the bytes are the TracesData";
  EXPECT_TRUE(MessageDifferencer::Equals(reparsed, got));
}

TEST(TraceIndexTest, NumbersIdsInOrderOfFirstAppearanceAndForgetsOnReset) {
  TraceIndex index;
  index.Reset(3);
  const TraceId a = TraceId::FromBytes(TestTraceId(10));
  const TraceId b = TraceId::FromBytes(TestTraceId(20));
  const TraceId c = TraceId::FromBytes(TestTraceId(30));
  EXPECT_EQ(index.FindOrAdd(a), std::make_pair(0u, true));
  EXPECT_EQ(index.FindOrAdd(b), std::make_pair(1u, true));
  EXPECT_EQ(index.FindOrAdd(a), std::make_pair(0u, false));
  EXPECT_EQ(index.FindOrAdd(c), std::make_pair(2u, true));
  EXPECT_EQ(index.size(), 3u);
  index.Reset(1000);  // grows
  EXPECT_EQ(index.FindOrAdd(c), std::make_pair(0u, true));
  for (uint64_t t = 0; t < 999; ++t) {
    EXPECT_EQ(index.FindOrAdd(TraceId::FromBytes(TestTraceId(1000 + t))).first, t + 1);
  }
  EXPECT_EQ(index.FindOrAdd(c), std::make_pair(0u, false));
  index.Reset(2);  // keeps the larger table
  EXPECT_EQ(index.FindOrAdd(b), std::make_pair(0u, true));
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace tailtrace::collector
