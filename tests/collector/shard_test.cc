#include "collector/shard.h"

#include <gtest/gtest.h>

#include "tests/collector/test_spans.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::TracesData;
using testing::AddRequest;
using testing::AddSpan;
using testing::CountSpans;
using testing::TestTraceId;

constexpr int64_t kSecond = 1'000'000'000;

// One request (one resource, one scope) with `traces` traces of `spans_each` spans each.
ExportTraceServiceRequest InterleavedTraces(int traces, int spans_each) {
  ExportTraceServiceRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (int t = 0; t < traces; ++t) {
    for (int s = 0; s < spans_each; ++s) {
      auto* span = ss->add_spans();
      span->set_trace_id(TestTraceId(t));
      span->set_span_id(testing::TestSpanId(t * 10 + s));
    }
  }
  return req;
}

class FixedSampler final : public Sampler {
 public:
  explicit FixedSampler(bool keep) : keep_(keep) {}
  SamplingDecision Decide(const TraceBuffer& trace, int64_t) override {
    ++decided;
    return {keep_, keep_ ? "fixed-keep" : "fixed-drop", 4.0};
  }
  int decided = 0;

 private:
  bool keep_;
};

// Decides by trace ID parity without looking at spans (like a probabilistic policy), recording
// how many spans it was shown.
class TraceIdOnlySampler final : public Sampler {
 public:
  SamplingDecision Decide(const TraceBuffer& trace, int64_t) override {
    shown_spans += CountSpans(trace.spans);
    return {trace.trace_id.bytes[15] % 2 == 0, "even", 2.0};
  }
  bool NeedsSpans() const override { return false; }
  int shown_spans = 0;
};

ShardOptions Options() {
  ShardOptions o;
  o.decision_wait_ns = 10 * kSecond;
  o.decision_wait_after_root_received_ns = 2 * kSecond;
  return o;
}

// A Sampler that needs no spans costs no parse: its kept traces go on as bytes only.
TEST(ShardCoreTest, SamplerThatNeedsNoSpansSeesNoneAndKeptTracesHaveAllAsBytes) {
  auto sampler = std::make_unique<TraceIdOnlySampler>();
  TraceIdOnlySampler* recorder = sampler.get();
  ShardCore core(Options(), std::move(sampler));
  std::vector<DecidedTrace> out;
  AddRequest(core, InterleavedTraces(6, 3), 0, &out);
  ASSERT_FALSE(core.DecideDue(10 * kSecond, &out));
  EXPECT_EQ(recorder->shown_spans, 0);
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.buffered_bytes(), 0u) << "dropped traces' blocks and resources released";
  ASSERT_EQ(out.size(), 3u);
  for (const DecidedTrace& t : out) {
    EXPECT_EQ(t.trace_id.bytes[15] % 2, 0);
    EXPECT_FALSE(t.spans_parsed);
    EXPECT_EQ(CountSpans(t.spans), 0);
    TracesData from_bytes;
    ASSERT_TRUE(from_bytes.ParseFromString(t.spans_bytes));
    EXPECT_EQ(CountSpans(from_bytes), 3);
    for (const auto& rs : from_bytes.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) EXPECT_EQ(span.trace_id(), t.trace_id.view());
      }
    }
    EXPECT_EQ(t.span_count, 3u);
    EXPECT_EQ(t.policy, "even");
  }
  EXPECT_EQ(core.stats().traces_dropped, 3u);
  EXPECT_EQ(core.stats().spans_dropped, 9u);
}

// Adds one span of `trace` (not a root) from write-ahead log record `lsn`.
void AddLogged(ShardCore& core, uint64_t trace, uint64_t span, int64_t now, uint64_t lsn,
               std::vector<DecidedTrace>* out) {
  ExportTraceServiceRequest req;
  AddSpan(&req, "svc", trace, span, /*parent=*/99);
  const WireRequest wire = testing::Scanned(req);
  const std::vector<uint32_t> all = testing::AllSpans(wire);
  core.Add(wire, all, now, out, lsn);
}

TEST(ShardCoreTest, HoldsTheOldestLogRecordOfEveryTraceUntilDroppedOrWritten) {
  // TraceIdOnlySampler keeps trace 1 and drops trace 2 (TestTraceId(n) ends in byte n + 1).
  ShardCore core(Options(), std::make_unique<TraceIdOnlySampler>());
  std::vector<DecidedTrace> out;
  EXPECT_EQ(core.oldest_held_lsn(), UINT64_MAX);
  AddLogged(core, 1, 1, 0, /*lsn=*/5, &out);  // kept when decided
  AddLogged(core, 2, 1, 0, /*lsn=*/7, &out);  // dropped when decided
  EXPECT_EQ(core.oldest_held_lsn(), 5u);
  // Records reach the shard out of order: trace 2 now holds record 3, no longer 7.
  AddLogged(core, 2, 2, kSecond, /*lsn=*/3, &out);
  EXPECT_EQ(core.oldest_held_lsn(), 3u);

  core.DecideDue(10 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].lsn, 5u);
  EXPECT_EQ(core.oldest_held_lsn(), 5u) << "the dropped trace let go; the kept one is unwritten";

  // A late span of the kept trace holds its own record until its batch is written.
  std::vector<DecidedTrace> late;
  AddLogged(core, 1, 2, 11 * kSecond, /*lsn=*/9, &late);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].lsn, 9u);
  core.Written(out[0]);
  EXPECT_EQ(core.oldest_held_lsn(), 9u);
  core.Written(late[0]);
  EXPECT_EQ(core.oldest_held_lsn(), UINT64_MAX);
  // A late span of the dropped trace holds nothing.
  AddLogged(core, 2, 3, 12 * kSecond, /*lsn=*/10, &late);
  EXPECT_EQ(core.oldest_held_lsn(), UINT64_MAX);
}

TEST(ShardCoreTest, AssumedKeptTracesTakeLaterSpansAsLateKeptSpans) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(false));
  std::vector<DecidedTrace> out;
  core.AssumeKept(TraceId::FromBytes(TestTraceId(4)), "errors", 2.0);
  AddLogged(core, 4, 3, 0, 1, &out);
  ASSERT_EQ(out.size(), 1u) << "written at once, not buffered for the dropping sampler";
  EXPECT_EQ(out[0].policy, "errors");
  EXPECT_EQ(out[0].sample_rate, 2.0);
  EXPECT_EQ(core.buffered_traces(), 0u);
}

TEST(ShardCoreTest, DecidesTraceAtDecisionWaitAfterFirstSpan) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  AddSpan(&req, "checkout", 1, 2, /*parent=*/1);  // not a root
  AddRequest(core, req, 0, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.buffered_traces(), 1u);
  EXPECT_GT(core.buffered_bytes(), 0u);

  core.DecideDue(10 * kSecond - 1, &out);
  EXPECT_TRUE(out.empty());
  core.DecideDue(10 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(1));
  EXPECT_EQ(out[0].policy, "fixed-keep");
  EXPECT_EQ(out[0].sample_rate, 4.0);
  EXPECT_EQ(out[0].span_count, 1u);
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

TEST(ShardCoreTest, RootSpanBringsDecisionForward) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest child;
  AddSpan(&child, "inventory", 7, 2, 1);
  AddRequest(core, child, 0, &out);
  ExportTraceServiceRequest root;
  AddSpan(&root, "frontend", 7, 1, 0);
  AddRequest(core, root, 3 * kSecond, &out);

  core.DecideDue(5 * kSecond - 1, &out);
  EXPECT_TRUE(out.empty());
  core.DecideDue(5 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].span_count, 2u);
  // Two requests, two resources: both kept with their own resource.
  ASSERT_EQ(out[0].spans.resource_spans_size(), 2);
  EXPECT_EQ(out[0].spans.resource_spans(0).resource().attributes(0).value().string_value(),
            "inventory");
  EXPECT_EQ(out[0].spans.resource_spans(1).resource().attributes(0).value().string_value(),
            "frontend");
}

TEST(ShardCoreTest, RootNeverPostponesTheFirstSpanDeadline) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest child;
  AddSpan(&child, "a", 3, 2, 1);
  AddRequest(core, child, 0, &out);
  ExportTraceServiceRequest root;
  AddSpan(&root, "a", 3, 1, 0);
  AddRequest(core, root, 9 * kSecond, &out);  // root deadline would be 11s
  core.DecideDue(10 * kSecond, &out);
  EXPECT_EQ(out.size(), 1u);
}

TEST(ShardCoreTest, SpansOfManyTracesInOneRequestAreSeparated) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  AddRequest(core, InterleavedTraces(5, 3), 0, &out);
  EXPECT_EQ(core.buffered_traces(), 5u);
  core.DecideDue(10 * kSecond, &out);
  ASSERT_EQ(out.size(), 5u);
  for (const DecidedTrace& t : out) {
    EXPECT_EQ(CountSpans(t.spans), 3);
    // One resource group per trace per request, not one per span.
    EXPECT_EQ(t.spans.resource_spans_size(), 1);
    for (const auto& span : t.spans.resource_spans(0).scope_spans(0).spans()) {
      EXPECT_EQ(span.trace_id(), t.trace_id.view());
    }
  }
}

TEST(ShardCoreTest, LateSpansOfKeptTraceAreEmittedAtOnce) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  AddSpan(&req, "a", 1, 1, 0);
  AddRequest(core, req, 0, &out);
  core.DecideDue(2 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  out.clear();

  ExportTraceServiceRequest late;
  AddSpan(&late, "b", 1, 2, 1);
  AddSpan(&late, "b", 1, 3, 1);
  AddRequest(core, late, 30 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].policy, "fixed-keep");
  EXPECT_EQ(out[0].span_count, 2u);
  EXPECT_EQ(CountSpans(out[0].spans), 2);
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.stats().late_spans_kept, 2u);
}

TEST(ShardCoreTest, LateSpansOfDroppedTraceAreDroppedAndCounted) {
  auto sampler = std::make_unique<FixedSampler>(false);
  ShardCore core(Options(), std::move(sampler));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  AddSpan(&req, "a", 1, 1, 0);
  AddRequest(core, req, 0, &out);
  core.DecideDue(2 * kSecond, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.stats().traces_dropped, 1u);

  ExportTraceServiceRequest late;
  AddSpan(&late, "b", 1, 2, 1);
  AddRequest(core, late, 3 * kSecond, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.stats().late_spans_dropped, 1u);
}

TEST(ShardCoreTest, ForgottenDecisionBuffersLateSpansAsNewTrace) {
  ShardOptions o = Options();
  o.sampled_cache_size = 1;
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  for (uint64_t t : {1, 2}) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 0);
    AddRequest(core, req, 0, &out);
  }
  core.DecideDue(2 * kSecond, &out);
  ASSERT_EQ(out.size(), 2u);
  out.clear();
  // Trace 1's decision was evicted by trace 2's: its late span is buffered again.
  ExportTraceServiceRequest late;
  AddSpan(&late, "a", 1, 5, 1);
  AddRequest(core, late, 3 * kSecond, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.buffered_traces(), 1u);
}

TEST(ShardCoreTest, ByteBudgetDecidesOldestTracesEarly) {
  ShardOptions o = Options();
  o.max_buffer_bytes = 1;  // any buffered trace is over budget
  auto sampler = std::make_unique<FixedSampler>(true);
  ShardCore core(o, std::move(sampler));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest first;
  AddSpan(&first, "a", 1, 1, 2);
  AddRequest(core, first, 0, &out);
  ExportTraceServiceRequest second;
  AddSpan(&second, "a", 2, 1, 2);
  AddRequest(core, second, kSecond, &out);

  core.DecideDue(kSecond, &out);  // long before decision_wait
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(1));  // oldest first
  EXPECT_EQ(out[1].trace_id.view(), TestTraceId(2));
  EXPECT_EQ(core.stats().early_decisions_memory, 2u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

TEST(ShardCoreTest, ByteBudgetStopsOnceUnderIt) {
  ShardOptions o = Options();
  ShardCore probe(o, std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest one;
  AddSpan(&one, "a", 1, 1, 2);
  AddRequest(probe, one, 0, &out);
  const uint64_t per_trace = probe.buffered_bytes();

  o.max_buffer_bytes = per_trace * 2;  // room for two traces of this size
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  for (uint64_t t = 1; t <= 3; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 2);
    AddRequest(core, req, static_cast<int64_t>(t), &out);
  }
  core.DecideDue(3, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(1));
  EXPECT_EQ(core.buffered_traces(), 2u);
}

TEST(ShardCoreTest, TraceCountBoundDecidesOldestEarly) {
  ShardOptions o = Options();
  o.max_traces = 3;
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  for (uint64_t t = 1; t <= 5; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 2);
    AddRequest(core, req, static_cast<int64_t>(t), &out);
  }
  core.DecideDue(5, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(1));
  EXPECT_EQ(out[1].trace_id.view(), TestTraceId(2));
  EXPECT_EQ(core.buffered_traces(), 3u);
  EXPECT_EQ(core.stats().early_decisions_trace_count, 2u);
  EXPECT_EQ(core.stats().early_decisions_memory, 0u);
}

TEST(ShardCoreTest, HugeTraceIsDecidedAtOnceAndLaterSpansFollow) {
  ShardOptions o = Options();
  o.maximum_trace_size_bytes = 2000;
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest small;
  AddSpan(&small, "a", 2, 1, 0);  // an ordinary trace beside it is not affected
  AddRequest(core, small, 0, &out);
  ExportTraceServiceRequest big;
  for (uint64_t s = 1; s <= 30; ++s) {
    AddSpan(&big, "a", 1, s, s + 100)->set_name(std::string(100, 'x'));
  }
  AddRequest(core, big, 0, &out);
  ASSERT_EQ(out.size(), 1u) << "decided in the same Add, before any deadline";
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(1));
  EXPECT_EQ(out[0].span_count, 30u) << "every span of the request is part of the decision";
  EXPECT_EQ(core.stats().early_decisions_trace_size, 1u);
  EXPECT_EQ(core.buffered_traces(), 1u);
  out.clear();

  ExportTraceServiceRequest later;
  AddSpan(&later, "a", 1, 99, 1);
  AddRequest(core, later, 1, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].span_count, 1u);
  EXPECT_EQ(core.stats().decision_cache_hits_kept, 1u);
}

TEST(ShardCoreTest, DecisionLatencyIsObserved) {
  Histogram latency({1, 5, 20});
  ShardOptions o = Options();
  o.decision_latency = &latency;
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  AddSpan(&req, "a", 1, 1, 2);
  AddRequest(core, req, 0, &out);
  core.DecideDue(10 * kSecond, &out);
  const Histogram::Snapshot s = latency.Snap();
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.sum, 10.0);
  EXPECT_EQ(s.counts[2], 1u);  // in (5, 20]
}

TEST(DecisionCacheTest, KeptIsExactAndBounded) {
  DecisionCache cache(2, 0);
  const TraceId a = TraceId::FromBytes(TestTraceId(1));
  const TraceId b = TraceId::FromBytes(TestTraceId(2));
  const TraceId c = TraceId::FromBytes(TestTraceId(3));
  cache.RememberKept(a, "errors", 1.0);
  cache.RememberKept(b, "p10", 10.0);
  ASSERT_NE(cache.FindKept(b), nullptr);
  EXPECT_EQ(cache.policy_name(cache.FindKept(b)->policy_index), "p10");
  EXPECT_EQ(cache.FindKept(b)->sample_rate, 10.0);
  cache.RememberKept(c, "errors", 1.0);
  EXPECT_EQ(cache.FindKept(a), nullptr) << "oldest evicted";
  EXPECT_NE(cache.FindKept(c), nullptr);
  EXPECT_FALSE(cache.WasDropped(a)) << "dropped half disabled";
}

TEST(DecisionCacheTest, DroppedFingerprintsRememberRecentTracesWithoutFalsePositives) {
  constexpr uint64_t kCapacity = 10'000;
  DecisionCache cache(0, kCapacity);
  for (uint64_t t = 0; t < kCapacity / 2; ++t) {
    cache.RememberDropped(TraceId::FromBytes(TestTraceId(t)));
  }
  int remembered = 0;
  for (uint64_t t = 0; t < kCapacity / 2; ++t) {
    remembered += cache.WasDropped(TraceId::FromBytes(TestTraceId(t)));
  }
  // Half full: with two candidate buckets per trace practically nothing overflows.
  EXPECT_GT(remembered, static_cast<int>(kCapacity / 2 * 0.995));
  int false_positives = 0;
  for (uint64_t t = 1'000'000; t < 1'200'000; ++t) {
    false_positives += cache.WasDropped(TraceId::FromBytes(TestTraceId(t)));
  }
  EXPECT_EQ(false_positives, 0);
  EXPECT_EQ(cache.FindKept(TraceId::FromBytes(TestTraceId(0))), nullptr);
}

TEST(DecisionCacheTest, DroppedCacheForgetsOldestWhenFull) {
  DecisionCache cache(0, 4);  // one bucket of four slots (both candidates are the same)
  for (uint64_t t = 0; t < 5; ++t) cache.RememberDropped(TraceId::FromBytes(TestTraceId(t)));
  EXPECT_FALSE(cache.WasDropped(TraceId::FromBytes(TestTraceId(0))));
  for (uint64_t t = 1; t < 5; ++t) {
    EXPECT_TRUE(cache.WasDropped(TraceId::FromBytes(TestTraceId(t)))) << t;
  }
}

// A span like an instrumented HTTP handler's: ten attributes of mixed types, an event, a link.
opentelemetry::proto::trace::v1::Span* AddTypicalSpan(ExportTraceServiceRequest* req,
                                                      uint64_t trace, uint64_t span) {
  auto* s = AddSpan(req, "checkout", trace, span, span + 1000, "POST /api/checkout/{id}");
  auto attr = [s](const std::string& key) {
    auto* kv = s->add_attributes();
    kv->set_key(key);
    return kv->mutable_value();
  };
  attr("http.request.method")->set_string_value("POST");
  attr("http.route")->set_string_value("/api/checkout/{id}");
  attr("url.full")->set_string_value("https://shop.example.com/api/checkout/8c1d0e3f?x=1");
  attr("http.response.status_code")->set_int_value(200);
  attr("server.address")->set_string_value("shop.example.com");
  attr("user.id")->set_string_value("user-482");
  attr("order.total")->set_double_value(129.5);
  attr("cache.hit")->set_bool_value(false);
  attr("net.peer.port")->set_int_value(44312);
  auto* tags = attr("order.tags")->mutable_array_value();
  tags->add_values()->set_string_value("gift");
  tags->add_values()->set_string_value("express");
  auto* event = s->add_events();
  event->set_name("order.validated");
  event->set_time_unix_nano(s->start_time_unix_nano() + 100);
  auto* link = s->add_links();
  link->set_trace_id(TestTraceId(trace + 1));
  link->set_span_id(testing::TestSpanId(7));
  s->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_OK);
  return s;
}

TEST(ShardCoreTest, BufferedBytesCountSerializedSpansNotObjects) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  for (uint64_t s = 1; s <= 50; ++s) AddTypicalSpan(&req, 1, s);
  const uint64_t wire = req.ByteSizeLong();
  AddRequest(core, req, 0, &out);
  // Spans are held as their wire bytes (plus block, bookkeeping and one resource and scope),
  // not as protobuf objects (which would take several times the wire size).
  const auto accounted = static_cast<double>(core.buffered_bytes());
  EXPECT_GT(accounted, static_cast<double>(wire));
  EXPECT_LT(accounted, 1.5 * static_cast<double>(wire)) << accounted << " vs wire " << wire;
  core.DecideAll(0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(testing::CountSpans(out[0].spans), 50);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

TEST(ShardCoreTest, DecideAllDecidesEverything) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  for (uint64_t t = 0; t < 10; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 2);
    AddRequest(core, req, 0, &out);
  }
  core.DecideAll(0, &out);
  EXPECT_EQ(out.size(), 10u);
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

TEST(ShardCoreTest, DecisionsStopAtTheSpanBudgetAndResume) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  AddRequest(core, InterleavedTraces(5, 3), 0, &out);
  // 3 spans per trace, budget 4: two traces, then the caller writes them out.
  EXPECT_TRUE(core.DecideDue(10 * kSecond, &out, 4));
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(core.buffered_traces(), 3u);
  // Spans already waiting in `out` count against the budget.
  EXPECT_TRUE(core.DecideDue(10 * kSecond, &out, 4));
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  EXPECT_TRUE(core.DecideAll(10 * kSecond, &out, 6));
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  EXPECT_FALSE(core.DecideDue(10 * kSecond, &out, 4));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(core.buffered_traces(), 0u);
  // Nothing due: nothing left.
  EXPECT_FALSE(core.DecideDue(10 * kSecond, &out, 0));
}

}  // namespace
}  // namespace tailtrace::collector
