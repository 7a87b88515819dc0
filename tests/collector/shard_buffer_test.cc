// ShardCore's serialized span buffer: what a decided trace looks like after the round trip
// through bytes, interned resources and scopes, byte accounting against the real heap, and the
// byte bounds that accounting drives.

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "collector/shard.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/collector/test_spans.h"

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)  // glibc's own malloc statistics
#include <malloc.h>
#endif

namespace tailtrace::collector {
namespace {

using google::protobuf::util::MessageDifferencer;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using testing::AddRequest;
using testing::AddSpan;
using testing::TestSpanId;
using testing::TestTraceId;

constexpr int64_t kSecond = 1'000'000'000;

// Keeps or drops every trace and records what it was shown.
class RecordingSampler final : public Sampler {
 public:
  explicit RecordingSampler(bool keep) : keep_(keep) {}
  SamplingDecision Decide(const TraceBuffer& trace, int64_t) override {
    seen.push_back(trace.spans);
    seen_span_counts.push_back(trace.span_count);
    seen_bytes.push_back(trace.bytes);
    return {keep_, "recorded", 1.0};
  }
  std::vector<TracesData> seen;
  std::vector<uint32_t> seen_span_counts;
  std::vector<uint64_t> seen_bytes;

 private:
  bool keep_;
};

ShardOptions Options() {
  ShardOptions o;
  o.decision_wait_ns = 10 * kSecond;
  o.decision_wait_after_root_received_ns = 2 * kSecond;
  return o;
}

ResourceSpans* AddResource(ExportTraceServiceRequest* req, const std::string& service,
                           const std::string& schema_url) {
  ResourceSpans* rs = req->add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* host = rs->mutable_resource()->add_attributes();
  host->set_key("host.name");
  host->mutable_value()->set_string_value("host-" + service);
  rs->set_schema_url(schema_url);
  return rs;
}

ScopeSpans* AddScope(ResourceSpans* rs, const std::string& name, const std::string& version) {
  ScopeSpans* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name(name);
  ss->mutable_scope()->set_version(version);
  ss->set_schema_url("https://example.com/" + name);
  return ss;
}

Span* AddTraceSpan(ScopeSpans* ss, uint64_t trace, uint64_t span, uint64_t parent) {
  Span* s = ss->add_spans();
  s->set_trace_id(TestTraceId(trace));
  s->set_span_id(TestSpanId(span));
  if (parent != 0) s->set_parent_span_id(TestSpanId(parent));
  s->set_name("op-" + std::to_string(span % 10));  // same size for every trace
  s->set_start_time_unix_nano(1'700'000'000'000'000'000ull + span);
  auto* kv = s->add_attributes();
  kv->set_key("attr");
  kv->mutable_value()->set_string_value(std::string(span % 50, 'v'));
  return s;
}

// What a shard holds of `trace` after `requests`: per request, per (resource, scope), one
// ResourceSpans with one ScopeSpans holding that trace's spans in order.
TracesData ExpectedTrace(const std::vector<ExportTraceServiceRequest>& requests, uint64_t trace) {
  TracesData want;
  for (const auto& req : requests) {
    for (const ResourceSpans& rs : req.resource_spans()) {
      for (const ScopeSpans& ss : rs.scope_spans()) {
        ResourceSpans group;
        if (rs.has_resource()) *group.mutable_resource() = rs.resource();
        group.set_schema_url(rs.schema_url());
        ScopeSpans* out_ss = group.add_scope_spans();
        if (ss.has_scope()) *out_ss->mutable_scope() = ss.scope();
        out_ss->set_schema_url(ss.schema_url());
        for (const Span& s : ss.spans()) {
          if (s.trace_id() == TestTraceId(trace)) *out_ss->add_spans() = s;
        }
        if (out_ss->spans_size() > 0) *want.add_resource_spans() = std::move(group);
      }
    }
  }
  return want;
}

TEST(ShardBufferTest, DecidedTraceEqualsWhatWasAddedGroupedByResourceAndScope) {
  auto sampler = std::make_unique<RecordingSampler>(true);
  RecordingSampler* recorder = sampler.get();
  ShardCore core(Options(), std::move(sampler));
  std::vector<ExportTraceServiceRequest> requests(2);
  {
    // Two resources, one with two scopes; traces 1 and 2 interleaved.
    ResourceSpans* cart = AddResource(&requests[0], "cart", "https://schema/1");
    ScopeSpans* http = AddScope(cart, "http", "1.0");
    AddTraceSpan(http, 1, 1, 9);
    AddTraceSpan(http, 2, 2, 9);
    AddTraceSpan(http, 1, 3, 1);
    ScopeSpans* db = AddScope(cart, "db", "2.0");
    AddTraceSpan(db, 2, 4, 2);
    AddTraceSpan(db, 1, 5, 3);
    ResourceSpans* bare = requests[0].add_resource_spans();  // no resource, no scope
    AddTraceSpan(bare->add_scope_spans(), 1, 6, 1);
    ResourceSpans* front = AddResource(&requests[1], "frontend", "");
    AddTraceSpan(AddScope(front, "http", "1.0"), 1, 7, 0);
  }
  std::vector<DecidedTrace> out;
  for (size_t i = 0; i < requests.size(); ++i) {
    ExportTraceServiceRequest copy = requests[i];
    AddRequest(core, copy, static_cast<int64_t>(i), &out);
  }
  EXPECT_TRUE(out.empty());
  core.DecideAll(10 * kSecond, &out);
  ASSERT_EQ(out.size(), 2u);
  for (const DecidedTrace& t : out) {
    const uint64_t n = t.trace_id.view() == TestTraceId(1) ? 1 : 2;
    const TracesData want = ExpectedTrace(requests, n);
    EXPECT_TRUE(MessageDifferencer::Equals(t.spans, want)) << "trace " << n << "\ngot:\n"
                                                           << t.spans.DebugString() << "\nwant:\n"
                                                           << want.DebugString();
  }
  EXPECT_EQ(ExpectedTrace(requests, 1).resource_spans_size(), 4);
  EXPECT_EQ(out[0].span_count + out[1].span_count, 7u);
  // The Sampler saw the same spans.
  ASSERT_EQ(recorder->seen.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(recorder->seen[0], out[0].spans));
  EXPECT_TRUE(MessageDifferencer::Equals(recorder->seen[1], out[1].spans));
}

TEST(ShardBufferTest, DecidedTracesStayValidWhenMovedAndOutliveTheShard) {
  std::vector<DecidedTrace> kept;
  {
    ShardCore core(Options(), std::make_unique<RecordingSampler>(true));
    std::vector<DecidedTrace> out;
    for (uint64_t t = 0; t < 20; ++t) {
      ExportTraceServiceRequest req;
      AddSpan(&req, "svc", t, 1, 0, "op" + std::to_string(t));
      AddRequest(core, req, 0, &out);
    }
    core.DecideAll(kSecond, &out);  // out grows and moves its elements
    ASSERT_EQ(out.size(), 20u);
    for (DecidedTrace& t : out) kept.push_back(std::move(t));
    out.clear();
    DecidedTrace assigned;
    assigned = std::move(kept.back());
    kept.back() = std::move(assigned);
  }
  for (uint64_t t = 0; t < 20; ++t) {
    ASSERT_EQ(kept[t].spans.resource_spans_size(), 1);
    EXPECT_EQ(kept[t].spans.resource_spans(0).scope_spans(0).spans(0).name(),
              "op" + std::to_string(t));
  }
  TracesData copy = kept[3].spans;  // a copy owns its objects
  kept.clear();
  EXPECT_EQ(copy.resource_spans(0).scope_spans(0).spans(0).name(), "op3");
}

TEST(ShardBufferTest, ResourcesAndScopesAreInternedOnceAndReleasedWithTheLastTrace) {
  ShardCore core(Options(), std::make_unique<RecordingSampler>(false));
  std::vector<DecidedTrace> out;
  // Traces 0..9 under one resource and scope, over two requests; trace 10 under another
  // resource with the same scope.
  for (int r = 0; r < 2; ++r) {
    ExportTraceServiceRequest req;
    ScopeSpans* ss = AddScope(AddResource(&req, "cart", ""), "http", "1");
    for (uint64_t t = 0; t < 10; ++t) AddTraceSpan(ss, t, t * 10 + r + 1, 5);
    AddRequest(core, req, r, &out);
  }
  EXPECT_EQ(core.interned_count(), 2u) << "one resource and one scope for 20 groups";
  const uint64_t one_resource = core.buffered_bytes();
  ExportTraceServiceRequest other;
  AddTraceSpan(AddScope(AddResource(&other, "payment", ""), "http", "1"), 10, 200, 5);
  AddRequest(core, other, 5 * kSecond, &out);
  EXPECT_EQ(core.interned_count(), 3u);
  EXPECT_GT(core.buffered_bytes(), one_resource);

  core.DecideDue(10 * kSecond, &out);  // traces 0..9 (first span at 0)
  EXPECT_EQ(core.buffered_traces(), 1u);
  EXPECT_EQ(core.interned_count(), 2u) << "cart released with its last trace; scope still used";
  core.DecideAll(10 * kSecond, &out);
  EXPECT_EQ(core.interned_count(), 0u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
  EXPECT_EQ(core.stats().traces_dropped, 11u);
}

TEST(ShardBufferTest, LateSpansOfDecidedTracesDoNotIntern) {
  ShardCore core(Options(), std::make_unique<RecordingSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest first;
  AddTraceSpan(AddScope(AddResource(&first, "a", ""), "s", "1"), 1, 1, 0);
  AddRequest(core, first, 0, &out);
  core.DecideAll(kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  ExportTraceServiceRequest late;
  AddTraceSpan(AddScope(AddResource(&late, "b", "https://late"), "s2", "1"), 1, 2, 1);
  AddRequest(core, late, 2 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].span_count, 1u);
  EXPECT_EQ(out[0].arena, nullptr);
  EXPECT_EQ(out[0].spans.resource_spans(0).schema_url(), "https://late");
  EXPECT_EQ(core.interned_count(), 0u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

// A request of `traces` traces of `spans_per_trace` spans like an instrumented service's
// (ten attributes, ~400 bytes on the wire per span), one resource.
ExportTraceServiceRequest TypicalRequest(uint64_t first_trace, uint64_t traces,
                                         uint64_t spans_per_trace) {
  ExportTraceServiceRequest req;
  ResourceSpans* rs = AddResource(&req, "checkout", "https://opentelemetry.io/schemas/1.21.0");
  ScopeSpans* ss = AddScope(rs, "io.opentelemetry.http", "1.30.0");
  for (uint64_t s = 0; s < spans_per_trace; ++s) {
    for (uint64_t t = first_trace; t < first_trace + traces; ++t) {
      Span* span = AddTraceSpan(ss, t, t * 1000 + s + 1, s == 0 ? 0 : t * 1000 + 1);
      for (int a = 0; a < 9; ++a) {
        auto* kv = span->add_attributes();
        kv->set_key("attribute.key." + std::to_string(a));
        kv->mutable_value()->set_string_value("value-" + std::string(20 + a, 'x'));
      }
    }
  }
  return req;
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)  // glibc's own malloc statistics
uint64_t HeapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

TEST(ShardBufferTest, BufferedBytesTrackTheHeapReallyHeld) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer's allocator does not report the heap through mallinfo2";
#endif
  ShardCore core(Options(), std::make_unique<RecordingSampler>(true));
  std::vector<DecidedTrace> out;
  out.reserve(1);
  // Warm up the shard's scratch state on a request of the same shape, then empty it.
  {
    ExportTraceServiceRequest warm = TypicalRequest(100'000, 200, 10);
    AddRequest(core, warm, 0, &out);
    core.DecideAll(0, &out);
    out.clear();
  }
  ASSERT_EQ(core.buffered_bytes(), 0u);
  ExportTraceServiceRequest req = TypicalRequest(0, 200, 10);
  const uint64_t wire = req.ByteSizeLong();  // also caches the sizes before measuring
  const size_t free_blocks_before = core.free_span_blocks();
  const uint64_t heap_before = HeapInUse();
  AddRequest(core, req, 0, &out);
  // The heap the buffer holds: new mallocs plus the free blocks it reused.
  const uint64_t heap_held = HeapInUse() - heap_before +
                             (free_blocks_before - core.free_span_blocks()) * BlockPool::kHeapBytes;
  const auto accounted = static_cast<double>(core.buffered_bytes());
  EXPECT_GT(accounted, 0.9 * static_cast<double>(heap_held))
      << "accounted " << accounted << " vs heap " << heap_held;
  EXPECT_LT(accounted, 1.1 * static_cast<double>(heap_held))
      << "accounted " << accounted << " vs heap " << heap_held;
  // Serialized, the buffer costs about the wire size.
  EXPECT_LT(static_cast<double>(heap_held), 1.5 * static_cast<double>(wire))
      << "heap " << heap_held << " vs wire " << wire;
  EXPECT_GT(static_cast<double>(heap_held), 1.0 * static_cast<double>(wire));
}
#endif

TEST(ShardBufferTest, ByteBudgetDecidesAtTheAccountedByteCount) {
  // Measure what one more trace of this shape costs.
  ShardCore probe(Options(), std::make_unique<RecordingSampler>(true));
  std::vector<DecidedTrace> out;
  AddRequest(probe, TypicalRequest(0, 1, 4), 0, &out);
  const uint64_t one = probe.buffered_bytes();
  AddRequest(probe, TypicalRequest(1, 1, 4), 0, &out);
  const uint64_t per_trace = probe.buffered_bytes() - one;
  ASSERT_GT(per_trace, 0u);
  ASSERT_EQ(probe.buffered_bytes(), one + per_trace);

  // Exactly three traces fit; the fourth puts the buffer over and the oldest is decided.
  ShardOptions o = Options();
  o.max_buffer_bytes = one + 2 * per_trace;
  ShardCore core(o, std::make_unique<RecordingSampler>(true));
  for (uint64_t t = 0; t < 3; ++t) {
    AddRequest(core, TypicalRequest(t, 1, 4), static_cast<int64_t>(t), &out);
    core.DecideDue(static_cast<int64_t>(t), &out);
  }
  EXPECT_TRUE(out.empty()) << "at the budget, not over it";
  EXPECT_EQ(core.buffered_bytes(), o.max_buffer_bytes);
  AddRequest(core, TypicalRequest(3, 1, 4), 3, &out);
  core.DecideDue(3, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(0));
  EXPECT_EQ(core.stats().early_decisions_memory, 1u);
  EXPECT_EQ(core.buffered_traces(), 3u);
  EXPECT_EQ(core.buffered_bytes(), o.max_buffer_bytes);
}

TEST(ShardBufferTest, TraceSizeBoundDecidesWhenATraceCrossesIt) {
  ShardCore probe(Options(), std::make_unique<RecordingSampler>(true));
  std::vector<DecidedTrace> out;
  AddRequest(probe, TypicalRequest(0, 1, 3), 0, &out);
  const uint64_t trace_bytes = probe.buffered_bytes();

  ShardOptions o = Options();
  // The trace's own bytes (without the interned entries) stay under this until it grows.
  o.maximum_trace_size_bytes = trace_bytes;
  auto sampler = std::make_unique<RecordingSampler>(true);
  RecordingSampler* recorder = sampler.get();
  ShardCore core(o, std::move(sampler));
  AddRequest(core, TypicalRequest(0, 1, 3), 0, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.stats().early_decisions_trace_size, 0u);
  AddRequest(core, TypicalRequest(0, 1, 3), 1, &out);  // same trace, three more spans
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].span_count, 6u);
  EXPECT_EQ(core.stats().early_decisions_trace_size, 1u);
  ASSERT_EQ(recorder->seen_bytes.size(), 1u);
  EXPECT_GT(recorder->seen_bytes[0], o.maximum_trace_size_bytes);
  EXPECT_EQ(recorder->seen_span_counts[0], 6u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace tailtrace::collector
