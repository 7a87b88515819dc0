#include "collector/shard.h"

#include <gtest/gtest.h>

#include "tests/collector/test_spans.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using testing::AddSpan;
using testing::CountSpans;
using testing::TestTraceId;

constexpr int64_t kSecond = 1'000'000'000;

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

ShardOptions Options() {
  ShardOptions o;
  o.decision_wait_ns = 10 * kSecond;
  o.decision_wait_after_root_received_ns = 2 * kSecond;
  return o;
}

TEST(ShardCoreTest, DecidesTraceAtDecisionWaitAfterFirstSpan) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  AddSpan(&req, "checkout", 1, 2, /*parent=*/1);  // not a root
  core.Add(std::move(req), 0, &out);
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
  core.Add(std::move(child), 0, &out);
  ExportTraceServiceRequest root;
  AddSpan(&root, "frontend", 7, 1, 0);
  core.Add(std::move(root), 3 * kSecond, &out);

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
  core.Add(std::move(child), 0, &out);
  ExportTraceServiceRequest root;
  AddSpan(&root, "a", 3, 1, 0);
  core.Add(std::move(root), 9 * kSecond, &out);  // root deadline would be 11s
  core.DecideDue(10 * kSecond, &out);
  EXPECT_EQ(out.size(), 1u);
}

TEST(ShardCoreTest, SpansOfManyTracesInOneRequestAreSeparated) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* ss = rs->add_scope_spans();
  for (int t = 0; t < 5; ++t) {
    for (int s = 0; s < 3; ++s) {
      auto* span = ss->add_spans();
      span->set_trace_id(TestTraceId(t));
      span->set_span_id(testing::TestSpanId(t * 10 + s));
    }
  }
  core.Add(std::move(req), 0, &out);
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
  core.Add(std::move(req), 0, &out);
  core.DecideDue(2 * kSecond, &out);
  ASSERT_EQ(out.size(), 1u);
  out.clear();

  ExportTraceServiceRequest late;
  AddSpan(&late, "b", 1, 2, 1);
  AddSpan(&late, "b", 1, 3, 1);
  core.Add(std::move(late), 30 * kSecond, &out);
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
  core.Add(std::move(req), 0, &out);
  core.DecideDue(2 * kSecond, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.stats().traces_dropped, 1u);

  ExportTraceServiceRequest late;
  AddSpan(&late, "b", 1, 2, 1);
  core.Add(std::move(late), 3 * kSecond, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.stats().late_spans_dropped, 1u);
}

TEST(ShardCoreTest, ForgottenDecisionBuffersLateSpansAsNewTrace) {
  ShardOptions o = Options();
  o.decision_cache_size = 1;
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  for (uint64_t t : {1, 2}) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 0);
    core.Add(std::move(req), 0, &out);
  }
  core.DecideDue(2 * kSecond, &out);
  ASSERT_EQ(out.size(), 2u);
  out.clear();
  // Trace 1's decision was evicted by trace 2's: its late span is buffered again.
  ExportTraceServiceRequest late;
  AddSpan(&late, "a", 1, 5, 1);
  core.Add(std::move(late), 3 * kSecond, &out);
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
  core.Add(std::move(first), 0, &out);
  ExportTraceServiceRequest second;
  AddSpan(&second, "a", 2, 1, 2);
  core.Add(std::move(second), kSecond, &out);

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
  probe.Add(std::move(one), 0, &out);
  const uint64_t per_trace = probe.buffered_bytes();

  o.max_buffer_bytes = per_trace * 2;  // room for two traces of this size
  ShardCore core(o, std::make_unique<FixedSampler>(true));
  for (uint64_t t = 1; t <= 3; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 2);
    core.Add(std::move(req), static_cast<int64_t>(t), &out);
  }
  core.DecideDue(3, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].trace_id.view(), TestTraceId(1));
  EXPECT_EQ(core.buffered_traces(), 2u);
}

TEST(ShardCoreTest, DecideAllDecidesEverything) {
  ShardCore core(Options(), std::make_unique<FixedSampler>(true));
  std::vector<DecidedTrace> out;
  for (uint64_t t = 0; t < 10; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "a", t, 1, 2);
    core.Add(std::move(req), 0, &out);
  }
  core.DecideAll(0, &out);
  EXPECT_EQ(out.size(), 10u);
  EXPECT_EQ(core.buffered_traces(), 0u);
  EXPECT_EQ(core.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace tailtrace::collector
