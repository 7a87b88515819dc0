#include "spanmetrics/span_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/collector/test_spans.h"

namespace tailtrace::spanmetrics {
namespace {

using collector::testing::AddSpan;
using collector::testing::Scanned;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using ::testing::HasSubstr;
using ::testing::Not;

// Answers every request with `status`, counting the spans it took.
class FixedSink : public collector::SpanSink {
 public:
  absl::Status Consume(WireRequest&& request) override {
    if (status.ok()) spans += request.spans.size();
    return status;
  }
  absl::Status status = absl::OkStatus();  // set while no request is under way
  std::atomic<uint64_t> spans{0};
};

Span* AddTimed(ExportTraceServiceRequest* request, const std::string& service, uint64_t id,
               const std::string& name, Span::SpanKind kind, Status::StatusCode code,
               double duration_ms) {
  Span* span = AddSpan(request, service, id, id, 0, name);
  span->set_kind(kind);
  span->mutable_status()->set_code(code);
  span->set_end_time_unix_nano(span->start_time_unix_nano() +
                               static_cast<uint64_t>(duration_ms * 1e6));
  return span;
}

std::string Series(const std::string& service, const std::string& name, const std::string& kind,
                   const std::string& status) {
  return absl::StrCat("{service_name=\"", service, "\",span_name=\"", name, "\",span_kind=\"", kind,
                      "\",status_code=\"", status, "\"}");
}

class SpanMetricsTest : public ::testing::Test {
 protected:
  explicit SpanMetricsTest(uint64_t max_series = 10'000) {
    SpanMetricsOptions options;
    options.max_series = max_series;
    span_metrics_ = std::make_unique<SpanMetrics>(options, &registry_);
    sink_ = std::make_unique<SpanMetricsSink>(span_metrics_.get(), &next_);
  }

  absl::Status Send(const ExportTraceServiceRequest& request) {
    return sink_->Consume(Scanned(request));
  }
  std::string Rendered() const { return registry_.RenderPrometheus(); }

  MetricsRegistry registry_;
  FixedSink next_;
  std::unique_ptr<SpanMetrics> span_metrics_;
  std::unique_ptr<SpanMetricsSink> sink_;
};

TEST_F(SpanMetricsTest, CountsEverySpanBySeriesWithTheConnectorsNamesAndLabels) {
  ExportTraceServiceRequest request;
  AddTimed(&request, "checkout", 1, "GET /cart", Span::SPAN_KIND_SERVER, Status::STATUS_CODE_ERROR,
           3);
  AddTimed(&request, "checkout", 2, "GET /cart", Span::SPAN_KIND_SERVER, Status::STATUS_CODE_ERROR,
           4);
  AddTimed(&request, "checkout", 3, "GET /cart", Span::SPAN_KIND_SERVER, Status::STATUS_CODE_OK, 5);
  AddTimed(&request, "inventory", 4, "SELECT", Span::SPAN_KIND_CLIENT, Status::STATUS_CODE_UNSET,
           6);
  ASSERT_TRUE(Send(request).ok());
  const std::string text = Rendered();
  EXPECT_THAT(
      text,
      HasSubstr("traces_span_metrics_calls_total" +
                Series("checkout", "GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR") + " 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr("traces_span_metrics_calls_total" +
                Series("checkout", "GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_OK") + " 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("traces_span_metrics_calls_total" +
                Series("inventory", "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET") + " 1\n"));
  EXPECT_EQ(span_metrics_->series(), 3u);
  EXPECT_EQ(next_.spans, 4u);
}

TEST_F(SpanMetricsTest, DurationsGoToTheConnectorsMillisecondBuckets) {
  ExportTraceServiceRequest request;
  for (double ms : {1.0, 5.0, 5.5, 20'000.0}) {
    AddTimed(&request, "svc", static_cast<uint64_t>(ms * 10), "op", Span::SPAN_KIND_SERVER,
             Status::STATUS_CODE_UNSET, ms);
  }
  ASSERT_TRUE(Send(request).ok());
  const std::string text = Rendered();
  const std::string labels =
      "service_name=\"svc\",span_name=\"op\",span_kind=\"SPAN_KIND_SERVER\","
      "status_code=\"STATUS_CODE_UNSET\"";
  const std::string bucket = "traces_span_metrics_duration_milliseconds_bucket{" + labels;
  EXPECT_THAT(text, HasSubstr(bucket + ",le=\"2\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(bucket + ",le=\"4\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(bucket + ",le=\"6\"} 3\n"));
  EXPECT_THAT(text, HasSubstr(bucket + ",le=\"15000\"} 3\n"));
  EXPECT_THAT(text, HasSubstr(bucket + ",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("traces_span_metrics_duration_milliseconds_count{" + labels + "} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("traces_span_metrics_duration_milliseconds_sum{" + labels + "} 20011.5\n"));
}

// A refused request comes again: it must count once, when it is taken.
TEST_F(SpanMetricsTest, ARefusedRequestIsNotCounted) {
  ExportTraceServiceRequest request;
  AddTimed(&request, "svc", 1, "op", Span::SPAN_KIND_SERVER, Status::STATUS_CODE_OK, 1);
  const std::string line =
      "traces_span_metrics_calls_total" + Series("svc", "op", "SPAN_KIND_SERVER", "STATUS_CODE_OK");
  next_.status = absl::UnavailableError("full");
  EXPECT_FALSE(Send(request).ok());
  EXPECT_THAT(Rendered(), Not(HasSubstr(line + " 1\n")));
  next_.status = absl::OkStatus();
  ASSERT_TRUE(Send(request).ok());
  EXPECT_THAT(Rendered(), HasSubstr(line + " 1\n"));
}

TEST_F(SpanMetricsTest, AsyncSinksCountWhenTheyAnswerOk) {
  ExportTraceServiceRequest request;
  AddTimed(&request, "svc", 1, "op", Span::SPAN_KIND_SERVER, Status::STATUS_CODE_OK, 1);
  absl::Status answer = absl::UnknownError("not answered");
  sink_->ConsumeAsync(Scanned(request), collector::ConsumeContext{},
                      [&answer](absl::Status s) { answer = std::move(s); });
  ASSERT_TRUE(answer.ok()) << answer;
  EXPECT_THAT(Rendered(),
              HasSubstr("traces_span_metrics_calls_total" +
                        Series("svc", "op", "SPAN_KIND_SERVER", "STATUS_CODE_OK") + " 1\n"));
}

TEST_F(SpanMetricsTest, MissingServiceAndUnknownKindsGetTheConnectorsDefaults) {
  ExportTraceServiceRequest request;
  AddTimed(&request, "svc", 1, "op", static_cast<Span::SpanKind>(9),
           static_cast<Status::StatusCode>(7), 1);
  request.mutable_resource_spans(0)->mutable_resource()->clear_attributes();
  ASSERT_TRUE(Send(request).ok());
  EXPECT_THAT(Rendered(), HasSubstr("traces_span_metrics_calls_total" +
                                    Series("unknown_service", "op", "SPAN_KIND_UNSPECIFIED",
                                           "STATUS_CODE_UNSET") +
                                    " 1\n"));
}

// Receivers count from many threads at once, into series that exist and series that do not yet
// (run under ThreadSanitizer by make tsan-test).
TEST_F(SpanMetricsTest, ThreadsCountingAtOnceLoseNothing) {
  constexpr int kThreads = 4;
  constexpr int kRequests = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int r = 0; r < kRequests; ++r) {
        ExportTraceServiceRequest request;
        AddTimed(&request, "svc", 1, absl::StrCat("op", r % 10), Span::SPAN_KIND_SERVER,
                 Status::STATUS_CODE_OK, 1);
        AddTimed(&request, absl::StrCat("svc", t), 2, "op", Span::SPAN_KIND_CLIENT,
                 Status::STATUS_CODE_ERROR, 2);
        ASSERT_TRUE(Send(request).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(span_metrics_->series(), 10u + kThreads);
  const std::string text = Rendered();
  EXPECT_THAT(text, HasSubstr("traces_span_metrics_calls_total" +
                              Series("svc", "op3", "SPAN_KIND_SERVER", "STATUS_CODE_OK") +
                              absl::StrCat(" ", kThreads * kRequests / 10, "\n")));
  EXPECT_THAT(text, HasSubstr("traces_span_metrics_calls_total" +
                              Series("svc2", "op", "SPAN_KIND_CLIENT", "STATUS_CODE_ERROR") +
                              absl::StrCat(" ", kRequests, "\n")));
}

class SpanMetricsOverflowTest : public SpanMetricsTest {
 protected:
  SpanMetricsOverflowTest() : SpanMetricsTest(2) {}
};

TEST_F(SpanMetricsOverflowTest, SeriesBeyondTheLimitCountInTheOverflowSeries) {
  ExportTraceServiceRequest request;
  for (uint64_t i = 1; i <= 5; ++i) {
    AddTimed(&request, "svc", i, absl::StrCat("op", i), Span::SPAN_KIND_SERVER,
             Status::STATUS_CODE_OK, 1);
  }
  ASSERT_TRUE(Send(request).ok());
  ASSERT_TRUE(Send(request).ok());
  const std::string text = Rendered();
  EXPECT_EQ(span_metrics_->series(), 2u);
  EXPECT_THAT(text, HasSubstr("traces_span_metrics_calls_total" +
                              Series("svc", "op1", "SPAN_KIND_SERVER", "STATUS_CODE_OK") + " 2\n"));
  EXPECT_THAT(text,
              HasSubstr("traces_span_metrics_calls_total{otel_metric_overflow=\"true\"} 6\n"));
  EXPECT_THAT(text, Not(HasSubstr("span_name=\"op3\"")));
}

}  // namespace
}  // namespace tailtrace::spanmetrics
