#include "collector/pipeline.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "storage/testing/in_memory_trace_store.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using testing::AddSpan;
using testing::CountSpans;
using testing::Scanned;
using testing::TestTraceId;

constexpr int64_t kSecond = 1'000'000'000;

PipelineOptions Options(uint32_t shards) {
  PipelineOptions o;
  o.num_shards = shards;
  o.decision_wait_ns = 10 * kSecond;
  o.decision_wait_after_root_received_ns = 2 * kSecond;
  return o;
}

int StoredSpans(storage::TraceStore& store, uint64_t trace) {
  auto t = store.GetTrace(TraceId::FromBytes(TestTraceId(trace)));
  EXPECT_TRUE(t.ok());
  if (!t.ok() || !t->has_value()) return 0;
  return CountSpans((*t)->data);
}

class PipelineTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  FakeClock clock_;
  MetricsRegistry metrics_;
  storage::InMemoryTraceStore store_;
};

TEST_P(PipelineTest, SpansOfOneTraceFromSeveralRequestsAreStoredTogether) {
  auto pipeline = Pipeline::Create(Options(GetParam()), &store_, nullptr, &clock_, &metrics_);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  for (uint64_t t = 0; t < 50; ++t) {
    ExportTraceServiceRequest a;
    AddSpan(&a, "frontend", t, 1, 0);
    ExportTraceServiceRequest b;
    AddSpan(&b, "checkout", t, 2, 1);
    AddSpan(&b, "checkout", t, 3, 2);
    ASSERT_TRUE((*pipeline)->Consume(Scanned(a)).ok());
    ASSERT_TRUE((*pipeline)->Consume(Scanned(b)).ok());
  }
  (*pipeline)->SyncForTest();
  EXPECT_EQ(StoredSpans(store_, 0), 0) << "decided before decision_wait_after_root_received";

  clock_.Advance(2 * kSecond);
  (*pipeline)->SyncForTest();
  for (uint64_t t = 0; t < 50; ++t) EXPECT_EQ(StoredSpans(store_, t), 3) << "trace " << t;
  EXPECT_EQ(metrics_.GetCounter("tailtrace_stored_spans_total", "")->Value(), 150u);
}

TEST_P(PipelineTest, ShutdownWritesEverythingBuffered) {
  auto pipeline = Pipeline::Create(Options(GetParam()), &store_, nullptr, &clock_, &metrics_);
  ASSERT_TRUE(pipeline.ok());
  for (uint64_t t = 0; t < 20; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "svc", t, 1, 9);  // no root: would wait the full decision_wait
    ASSERT_TRUE((*pipeline)->Consume(Scanned(req)).ok());
  }
  ASSERT_TRUE((*pipeline)->Shutdown(1000).ok());
  for (uint64_t t = 0; t < 20; ++t) EXPECT_EQ(StoredSpans(store_, t), 1);

  ExportTraceServiceRequest after;
  AddSpan(&after, "svc", 99, 1, 0);
  EXPECT_EQ((*pipeline)->Consume(Scanned(after)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*pipeline)->Shutdown(1000).ok()) << "idempotent";
}

INSTANTIATE_TEST_SUITE_P(Shards, PipelineTest, ::testing::Values(1u, 4u));

TEST(PipelineStoreTest, FailedWritesAreRetriedNotDropped) {
  FakeClock clock;
  MetricsRegistry metrics;
  storage::InMemoryTraceStore store;
  auto pipeline = Pipeline::Create(Options(2), &store, nullptr, &clock, &metrics);
  ASSERT_TRUE(pipeline.ok());
  store.FailWritesForTest(absl::UnavailableError("disk full"));
  ExportTraceServiceRequest req;
  AddSpan(&req, "svc", 5, 1, 0);
  ASSERT_TRUE((*pipeline)->Consume(Scanned(req)).ok());
  clock.Advance(2 * kSecond);
  (*pipeline)->SyncForTest();
  EXPECT_EQ(StoredSpans(store, 5), 0);
  EXPECT_GE(metrics.GetCounter("tailtrace_store_write_errors_total", "")->Value(), 1u);

  store.FailWritesForTest(absl::OkStatus());
  (*pipeline)->SyncForTest();
  EXPECT_EQ(StoredSpans(store, 5), 1);
}

TEST(PipelineStoreTest, ShutdownReportsWhatCouldNotBeWritten) {
  FakeClock clock;
  MetricsRegistry metrics;
  storage::InMemoryTraceStore store;
  auto pipeline = Pipeline::Create(Options(1), &store, nullptr, &clock, &metrics);
  ASSERT_TRUE(pipeline.ok());
  store.FailWritesForTest(absl::UnavailableError("disk full"));
  ExportTraceServiceRequest req;
  AddSpan(&req, "svc", 5, 1, 0);
  ASSERT_TRUE((*pipeline)->Consume(Scanned(req)).ok());
  absl::Status s = (*pipeline)->Shutdown(0);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("1 traces (1 spans)"), std::string::npos) << s;
}

// A store whose writes block until released, to hold a shard thread still.
class GateStore final : public storage::TraceStore {
 public:
  absl::Status Write(std::span<const storage::TraceWrite> traces) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
    return inner_.Write(traces);
  }
  absl::StatusOr<std::optional<storage::StoredTrace>> GetTrace(const TraceId& id) override {
    return inner_.GetTrace(id);
  }
  absl::StatusOr<std::vector<std::string>> GetServices() override { return inner_.GetServices(); }
  absl::StatusOr<std::vector<storage::Operation>> GetOperations(const std::string& s,
                                                                int k) override {
    return inner_.GetOperations(s, k);
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  storage::StoreStats Stats() const override { return inner_.Stats(); }

  void WaitUntilEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return entered_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
  storage::InMemoryTraceStore inner_;
};

TEST(PipelineBackpressureTest, FullQueueRefusesWholeRequestAndTakesNothing) {
  FakeClock clock;
  MetricsRegistry metrics;
  GateStore store;
  PipelineOptions o = Options(1);
  o.max_queue_bytes_per_shard = 1;
  auto pipeline = Pipeline::Create(o, &store, nullptr, &clock, &metrics);
  ASSERT_TRUE(pipeline.ok());

  ExportTraceServiceRequest first;
  AddSpan(&first, "svc", 1, 1, 0);
  ASSERT_TRUE((*pipeline)->Consume(Scanned(first)).ok());
  clock.Advance(2 * kSecond);
  store.WaitUntilEntered();  // the shard thread is now stuck writing trace 1

  ExportTraceServiceRequest second;  // an empty queue admits one request of any size
  AddSpan(&second, "svc", 2, 1, 0);
  ASSERT_TRUE((*pipeline)->Consume(Scanned(second)).ok());
  ExportTraceServiceRequest third;
  AddSpan(&third, "svc", 3, 1, 0);
  AddSpan(&third, "svc", 3, 2, 1);
  absl::Status refused = (*pipeline)->Consume(Scanned(third));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(metrics.GetCounter("tailtrace_pipeline_refused_spans_total", "")->Value(), 2u);

  store.Open();
  clock.Advance(2 * kSecond);
  (*pipeline)->SyncForTest();
  clock.Advance(2 * kSecond);
  (*pipeline)->SyncForTest();
  EXPECT_EQ(StoredSpans(store, 1), 1);
  EXPECT_EQ(StoredSpans(store, 2), 1);
  EXPECT_EQ(StoredSpans(store, 3), 0);
}

TEST(PipelineCreateTest, RejectsBadOptions) {
  FakeClock clock;
  MetricsRegistry metrics;
  storage::InMemoryTraceStore store;
  PipelineOptions o;
  o.decision_wait_ns = 0;
  EXPECT_FALSE(Pipeline::Create(o, &store, nullptr, &clock, &metrics).ok());
  EXPECT_FALSE(Pipeline::Create(PipelineOptions{}, nullptr, nullptr, &clock, &metrics).ok());
}

}  // namespace
}  // namespace tailtrace::collector
