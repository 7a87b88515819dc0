// The pure merges behind the query fan-out (cluster/query_merge_internal.h), the messages of
// the ClusterQuery codec that older peers may send (cluster/query_codec_internal.h), and the
// query server's worker pool; no gRPC, so that `make tsan-test` runs them (the gRPC tests are in
// cluster_transport_test: gRPC's own threads are not instrumented).

#include "cluster/query_merge_internal.h"

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "cluster/latch_internal.h"
#include "cluster/query_codec_internal.h"
#include "cluster/worker_pool_internal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::cluster::internal {
namespace {

using ::testing::ElementsAre;

TraceId Id(uint8_t n) {
  TraceId id;
  id.bytes[15] = n;
  return id;
}

storage::TraceSummary Summary(uint8_t id, int64_t start, int64_t duration, uint32_t spans,
                              std::string root, std::vector<storage::ServiceSummary> services) {
  storage::TraceSummary s;
  s.trace_id = Id(id);
  s.start_ns = start;
  s.duration_ns = duration;
  s.span_count = spans;
  s.root_service = root;
  s.root_operation = root + "-op";
  s.services = std::move(services);
  return s;
}

TEST(QueryMergeTest, SummariesNewestFirstSameTraceMergedThenTheLimit) {
  std::vector<std::vector<storage::TraceSummary>> parts = {
      {Summary(3, 300, 10, 1, "a", {{"a", 1, 0}}), Summary(1, 100, 10, 1, "a", {{"a", 1, 0}})},
      {Summary(2, 300, 10, 1, "b", {{"b", 1, 1}}), Summary(1, 50, 100, 2, "root", {{"b", 2, 1}})},
  };
  const std::vector<storage::TraceSummary> all = MergeSummaries(parts, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].trace_id, Id(3));  // same start as 2: the higher trace ID first
  EXPECT_EQ(all[1].trace_id, Id(2));
  const storage::TraceSummary& merged = all[2];
  EXPECT_EQ(merged.trace_id, Id(1));
  EXPECT_EQ(merged.start_ns, 50);
  EXPECT_EQ(merged.duration_ns, 100);  // ends at 150, the later end
  EXPECT_EQ(merged.span_count, 3u);
  EXPECT_EQ(merged.root_service, "root");  // the part that starts first
  EXPECT_THAT(merged.services,
              ElementsAre(storage::ServiceSummary{"a", 1, 0}, storage::ServiceSummary{"b", 2, 1}));

  EXPECT_EQ(MergeSummaries(parts, 2).size(), 2u);
}

TEST(QueryMergeTest, ASummaryMergedFromPartsTakesTheFirstPartsPolicy) {
  auto with_policy = [](storage::TraceSummary s, std::string policy, double rate) {
    s.sampling_policy = std::move(policy);
    s.sample_rate = rate;
    return s;
  };
  const storage::TraceSummary part = Summary(1, 100, 10, 1, "a", {{"a", 1, 0}});
  // The first part has no policy (or a member of an earlier version did not say): the next
  // part's decision is taken; a third part's does not change it.
  std::vector<storage::TraceSummary> all = MergeSummaries({{with_policy(part, "", 0)},
                                                           {with_policy(part, "errors", 4.0)},
                                                           {with_policy(part, "latency", 1.0)}},
                                                          10);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].sampling_policy, "errors");
  EXPECT_EQ(all[0].sample_rate, 4.0);
  all =
      MergeSummaries({{with_policy(part, "latency", 1.0)}, {with_policy(part, "errors", 4.0)}}, 10);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].sampling_policy, "latency");
  EXPECT_EQ(all[0].sample_rate, 1.0);
}

opentelemetry::proto::trace::v1::TracesData Spans(const std::string& service,
                                                  std::vector<uint8_t> span_ids) {
  opentelemetry::proto::trace::v1::TracesData data;
  auto* rs = data.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  for (uint8_t id : span_ids) ss->add_spans()->set_span_id(std::string(7, '\0') + char(id));
  return data;
}

TEST(QueryMergeTest, TracePartsKeepTheFirstFoundsPolicyAndDropRepeatedSpans) {
  std::vector<std::optional<storage::StoredTrace>> parts(3);
  parts[1] = storage::StoredTrace{Id(1), Spans("a", {1, 2}), "owner", 4.0, false};
  parts[2] = storage::StoredTrace{Id(1), Spans("a", {2, 3}), "other", 1.0, false};
  parts[2]->data.MergeFrom(Spans("b", {2}));  // the same span ID under another resource
  const std::optional<storage::StoredTrace> merged = MergeTraces(parts, 0);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->sampling_policy, "owner");
  EXPECT_EQ(merged->sample_rate, 4.0);
  EXPECT_EQ(storage::SpanCountOf(merged->data), 4u);  // a:1,2,3 and b:2
  EXPECT_FALSE(merged->truncated);
  EXPECT_TRUE(MergeTraces(parts, 3)->truncated);

  EXPECT_FALSE(MergeTraces({std::nullopt, std::nullopt}, 0).has_value());
}

TEST(QueryMergeTest, ListsAreSortedUnionsAndCallsAreSummed) {
  EXPECT_THAT(MergeServices({{"b", "c"}, {"a", "b"}, {}}), ElementsAre("a", "b", "c"));
  EXPECT_THAT(MergeOperations({{{"x", 2}, {"y", 1}}, {{"x", 1}, {"x", 2}}}),
              ElementsAre(storage::Operation{"x", 1}, storage::Operation{"x", 2},
                          storage::Operation{"y", 1}));
  EXPECT_THAT(MergeDependencies({{{"a", "b", 2, 1}}, {{"a", "b", 3, 2}, {"a", "c", 1, 0}}}),
              ElementsAre(storage::DependencyLink{"a", "b", 5, 3},
                          storage::DependencyLink{"a", "c", 1, 0}));
  // Tag suggestions: the limit applies to the union, not to a member's part.
  EXPECT_THAT(MergeTagSuggestions({{"b", "d"}, {"a", "b", "c"}}, 3), ElementsAre("a", "b", "c"));
  EXPECT_THAT(MergeTagSuggestions({{"x"}, {}}, 3), ElementsAre("x"));
}

TEST(QueryCodecTest, DependencyLinksCarryTheirFailedCallsAndAnOlderPeersHaveNone) {
  pb::DependencyLink message;
  ToProto(storage::DependencyLink{"a", "b", 7, 3}, &message);
  pb::DependencyLink parsed;
  ASSERT_TRUE(parsed.ParseFromString(message.SerializeAsString()));
  EXPECT_EQ(FromProto(parsed), (storage::DependencyLink{"a", "b", 7, 3}));
  // An older peer's link: fields 1-3 only (parent, child, call_count), as it encodes them.
  const std::string older(
      "\x0a\x01"
      "a"
      "\x12\x01"
      "b"
      "\x18\x07",
      8);
  ASSERT_TRUE(parsed.ParseFromString(older));
  EXPECT_EQ(FromProto(parsed), (storage::DependencyLink{"a", "b", 7, 0}));
}

TEST(WorkerPoolTest, RunsEveryTaskRefusesBeyondTheQueueAndDrainsOnDestruction) {
  std::atomic<int> ran{0};
  Latch started(1);
  Latch release(1);
  {
    WorkerPool pool(1, 2);
    ASSERT_TRUE(pool.TrySubmit([&] {
      started.CountDown();
      release.Wait();
      ++ran;
    }));
    started.Wait();  // the only thread is busy now
    EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
    EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
    EXPECT_FALSE(pool.TrySubmit([&] { ++ran; }));  // two already wait
    release.CountDown();
  }
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace tailtrace::cluster::internal
