#include "spanmetrics/history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/testing/in_memory_trace_store.h"
#include "tests/collector/test_spans.h"
#include "tests/spanmetrics/decide_util.h"

namespace tailtrace::spanmetrics {
namespace {

using collector::testing::AddSpan;
using collector::testing::Scanned;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kT0 = 1'700'000'040'000'000'000 / kMinute * kMinute;

class NullSink : public collector::SpanSink {
 public:
  absl::Status Consume(WireRequest&&) override { return absl::OkStatus(); }
};

class MetricsHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SpanMetricsOptions options;
    options.buckets_ms = {10, 100};
    span_metrics_ = std::make_unique<SpanMetrics>(options, &registry_);
    sink_ = std::make_unique<SpanMetricsSink>(span_metrics_.get(), &next_);
    auto history =
        MetricsHistory::Create(options, span_metrics_.get(), &graph_, &store_, &clock_, &registry_);
    ASSERT_TRUE(history.ok()) << history.status();
    history_ = std::move(*history);
  }

  // `n` spans of `service`/"GET /" with `code`, each lasting `ms`.
  void Send(const std::string& service, int n, Status::StatusCode code, double ms) {
    ExportTraceServiceRequest request;
    for (int i = 0; i < n; ++i) {
      Span* span = AddSpan(&request, service, next_id_, next_id_, 0, "GET /");
      ++next_id_;
      span->set_kind(Span::SPAN_KIND_SERVER);
      span->mutable_status()->set_code(code);
      span->set_end_time_unix_nano(span->start_time_unix_nano() + static_cast<uint64_t>(ms * 1e6));
    }
    ASSERT_TRUE(sink_->Consume(Scanned(request)).ok());
  }

  std::vector<storage::MetricPoint> Stored(const std::string& service) {
    auto points = store_.ReadMetricPoints({{service}, 0, INT64_MAX});
    EXPECT_TRUE(points.ok()) << points.status();
    return points.ok() ? *points : std::vector<storage::MetricPoint>{};
  }

  static storage::MetricPoint Expected(const std::string& service, int status, int64_t time,
                                       std::vector<uint64_t> counts, double sum_ms) {
    storage::MetricPoint p;
    p.series = {service, "GET /", Span::SPAN_KIND_SERVER, status};
    p.time_ns = time;
    for (uint64_t c : counts) p.calls += c;
    p.bounds_ms = {10, 100};
    p.counts = std::move(counts);
    p.sum_ms = sum_ms;
    return p;
  }

  MetricsRegistry registry_;
  NullSink next_;
  FakeClock clock_{kT0 + 5'000'000'000};
  storage::InMemoryTraceStore store_;
  ServiceGraph graph_{100, &registry_};
  std::unique_ptr<SpanMetrics> span_metrics_;
  std::unique_ptr<SpanMetricsSink> sink_;
  std::unique_ptr<MetricsHistory> history_;
  uint64_t next_id_ = 1;
};

TEST_F(MetricsHistoryTest, EachWriteStoresTheIncreaseSinceTheLastInTheCurrentSlot) {
  Send("checkout", 3, Status::STATUS_CODE_OK, 5);
  Send("checkout", 1, Status::STATUS_CODE_ERROR, 50);
  ASSERT_TRUE(history_->Write().ok());
  Send("checkout", 2, Status::STATUS_CODE_OK, 500);
  ASSERT_TRUE(history_->Write().ok());  // same slot: adds up
  clock_.Advance(kMinute);
  Send("checkout", 1, Status::STATUS_CODE_OK, 5);
  ASSERT_TRUE(history_->Write().ok());
  ASSERT_TRUE(history_->Write().ok());  // nothing new: no point

  EXPECT_THAT(Stored("checkout"),
              ElementsAre(Expected("checkout", Status::STATUS_CODE_OK, kT0, {3, 0, 2}, 1015),
                          Expected("checkout", Status::STATUS_CODE_OK, kT0 + kMinute, {1, 0, 0}, 5),
                          Expected("checkout", Status::STATUS_CODE_ERROR, kT0, {0, 1, 0}, 50)));
}

TEST_F(MetricsHistoryTest, ARefusedWriteIsKeptAndWrittenWithTheNext) {
  Send("cart", 2, Status::STATUS_CODE_OK, 5);
  store_.FailWritesForTest(absl::UnavailableError("disk full"));
  absl::Status s = history_->Write();
  EXPECT_THAT(std::string(s.message()), HasSubstr("disk full"));
  EXPECT_EQ(history_->pending_points(), 1u);
  clock_.Advance(kMinute);
  Send("cart", 1, Status::STATUS_CODE_OK, 5);
  store_.FailWritesForTest(absl::OkStatus());
  ASSERT_TRUE(history_->Write().ok());
  EXPECT_EQ(history_->pending_points(), 0u);
  EXPECT_THAT(Stored("cart"),
              ElementsAre(Expected("cart", Status::STATUS_CODE_OK, kT0, {2, 0, 0}, 10),
                          Expected("cart", Status::STATUS_CODE_OK, kT0 + kMinute, {1, 0, 0}, 5)));
  EXPECT_THAT(registry_.RenderPrometheus(),
              HasSubstr("tailtrace_span_metrics_history_write_failures_total 1"));
}

TEST_F(MetricsHistoryTest, TheServiceGraphsCallsGoToTheStoreAndARefusedWriteIsRetried) {
  ExportTraceServiceRequest request;
  AddSpan(&request, "frontend", 1, 1, 0);
  AddSpan(&request, "checkout", 1, 2, 1)->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  testing::Decide(request, &graph_, /*keep=*/false);
  store_.FailWritesForTest(absl::UnavailableError("disk full"));
  EXPECT_FALSE(history_->Write().ok());
  EXPECT_EQ(history_->pending_calls(), 1u);
  store_.FailWritesForTest(absl::OkStatus());
  ASSERT_TRUE(history_->Write().ok());
  EXPECT_EQ(history_->pending_calls(), 0u);
  // AddSpan's spans start at 1'700'000'000 s.
  auto links = store_.GetDependencies(1'700'000'000'000'000'000, 60'000'000'000);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_THAT(*links, ElementsAre(storage::DependencyLink{"frontend", "checkout", 1, 1}))
      << "the failed call too";
}

TEST_F(MetricsHistoryTest, ARestartedProcessKeepsAddingToTheStoredHistory) {
  Send("cart", 2, Status::STATUS_CODE_OK, 5);
  ASSERT_TRUE(history_->Stop().ok());
  // A new process: new counters from zero, the same store.
  MetricsRegistry registry;
  SpanMetricsOptions options;
  options.buckets_ms = {10, 100};
  SpanMetrics span_metrics(options, &registry);
  SpanMetricsSink sink(&span_metrics, &next_);
  auto history =
      MetricsHistory::Create(options, &span_metrics, nullptr, &store_, &clock_, &registry);
  ASSERT_TRUE(history.ok());
  ExportTraceServiceRequest request;
  Span* span = AddSpan(&request, "cart", 99, 99, 0, "GET /");
  span->set_kind(Span::SPAN_KIND_SERVER);
  span->mutable_status()->set_code(Status::STATUS_CODE_OK);
  ASSERT_TRUE(sink.Consume(Scanned(request)).ok());
  ASSERT_TRUE((*history)->Stop().ok());
  ASSERT_EQ(Stored("cart").size(), 1u);
  EXPECT_EQ(Stored("cart")[0].calls, 3u);
}

TEST_F(MetricsHistoryTest, RefusesAResolutionThatIsNotPositive) {
  SpanMetricsOptions options;
  options.resolution_ns = 0;
  auto history =
      MetricsHistory::Create(options, span_metrics_.get(), &graph_, &store_, &clock_, &registry_);
  EXPECT_THAT(std::string(history.status().message()), HasSubstr("metrics.resolution"));
}

TEST_F(MetricsHistoryTest, TheFlushIntervalIsTheResolutionUpToTenSeconds) {
  EXPECT_EQ(history_->flush_interval_ns(), 10'000'000'000);
  SpanMetricsOptions options;
  options.resolution_ns = 2'000'000'000;
  auto fine =
      MetricsHistory::Create(options, span_metrics_.get(), &graph_, &store_, &clock_, &registry_);
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ((*fine)->flush_interval_ns(), 2'000'000'000);
}

}  // namespace
}  // namespace tailtrace::spanmetrics
