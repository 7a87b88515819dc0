// OtlpTraceExporter over a scripted fake transport: batching, retries with backoff, the
// bounded queue, shutdown. Timing is asserted exactly on an injected FakeClock where the test
// can order its steps (the batch timeout), and as lower bounds on real time where the exporter
// waits after a failure (backoff, max_elapsed_time): the exporter reads its clock after the
// failed attempt returns, a moment a test cannot synchronize with.

#include "exporter/otlp_trace_exporter.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/exporter/exporter_test_util.h"

namespace tailtrace::exporter {
namespace {

using testing::Eventually;
using testing::FakeBackend;
using ::testing::HasSubstr;
using testing::kMs;
using testing::kS;
using testing::MakeTrace;
using testing::Permanent;
using testing::Retryable;
using testing::SpansIn;
using testing::TracesData;
using testing::WriteOf;

// Options for tests: no batch timeout to wait for unless a test sets one, no randomization.
OtlpExporterOptions TestOptions() {
  OtlpExporterOptions options;
  options.endpoint = "fake:4317";
  options.batch.timeout_ns = 3600 * kS;
  options.retry.randomization_factor = 0;
  return options;
}

class ExporterTest : public ::testing::Test {
 protected:
  std::unique_ptr<OtlpTraceExporter> Start(const OtlpExporterOptions& options,
                                           Clock* clock = Clock::Real()) {
    auto exporter = OtlpTraceExporter::Create(options, backend_.MakeSender(), clock, &metrics_);
    EXPECT_TRUE(exporter.ok()) << exporter.status();
    return exporter.ok() ? *std::move(exporter) : nullptr;
  }

  // Enqueues traces n .. n + count - 1 of `spans` spans each and keeps them alive.
  void EnqueueTraces(TraceExporter& exporter, uint64_t n, int count, int spans = 1) {
    for (int i = 0; i < count; ++i) {
      traces_.push_back(std::make_unique<TracesData>(MakeTrace(n + i, spans)));
      exporter.Enqueue(WriteOf(*traces_.back()));
    }
  }

  MetricsRegistry metrics_;
  // For the tests that pass it to the exporter; the backend notes its time at each attempt.
  FakeClock clock_;
  FakeBackend backend_{&clock_};
  std::vector<std::unique_ptr<TracesData>> traces_;
};

TEST_F(ExporterTest, BatchesBySpanCountAndShutdownSendsTheRest) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 10;
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 25);
  ASSERT_TRUE(backend_.WaitForAttempts(2));
  ASSERT_TRUE(exporter->Shutdown(5000).ok());
  const auto attempts = backend_.attempts();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(SpansIn(attempts[0].request), 10);
  EXPECT_EQ(SpansIn(attempts[1].request), 10);
  EXPECT_EQ(SpansIn(attempts[2].request), 5);
  EXPECT_EQ(exporter->Stats().sent_spans, 25u);
  EXPECT_EQ(exporter->Stats().sent_requests, 3u);
}

TEST_F(ExporterTest, ARequestIsTheTracesInOrderAsOneExportRequest) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 6;
  auto exporter = Start(options);
  // One trace with wire bytes (as the pipeline hands them), one without.
  const TracesData a = MakeTrace(1, 2, "frontend");
  const TracesData b = MakeTrace(2, 4, "inventory");
  const std::string a_bytes = a.SerializeAsString();
  exporter->Enqueue(WriteOf(a, a_bytes));
  exporter->Enqueue(WriteOf(b));
  ASSERT_TRUE(backend_.WaitForAttempts(1));
  testing::ExportTraceServiceRequest expected;
  expected.mutable_resource_spans()->MergeFrom(a.resource_spans());
  expected.mutable_resource_spans()->MergeFrom(b.resource_spans());
  EXPECT_EQ(backend_.attempts()[0].request.SerializeAsString(), expected.SerializeAsString());
}

TEST_F(ExporterTest, BatchesByBytesAndSendsALargerTraceAlone) {
  OtlpExporterOptions options = TestOptions();
  const uint64_t one = MakeTrace(0, 1).ByteSizeLong();
  options.batch.max_bytes = 3 * one;
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 3);       // one request of 3
  EnqueueTraces(*exporter, 10, 1, 20);  // larger than max_bytes: alone
  ASSERT_TRUE(backend_.WaitForAttempts(2));
  const auto attempts = backend_.attempts();
  EXPECT_EQ(attempts[0].request.resource_spans_size(), 3);
  EXPECT_EQ(attempts[1].request.resource_spans_size(), 1);
  EXPECT_EQ(SpansIn(attempts[1].request), 20);
}

TEST_F(ExporterTest, APartialBatchGoesOnceItsOldestTraceWaitedTheTimeout) {
  OtlpExporterOptions options = TestOptions();
  options.batch.timeout_ns = 200 * kMs;
  auto exporter = Start(options, &clock_);
  EnqueueTraces(*exporter, 0, 3);
  const int64_t enqueued_at = clock_.MonotonicNanos();
  clock_.Advance(200 * kMs);
  ASSERT_TRUE(backend_.WaitForAttempts(1));
  const auto attempts = backend_.attempts();
  EXPECT_EQ(SpansIn(attempts[0].request), 3);
  EXPECT_EQ(attempts[0].clock_ns - enqueued_at, 200 * kMs);
}

TEST_F(ExporterTest, RetriesWithExponentialBackoffThenDelivers) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 1;
  options.retry.initial_interval_ns = 20 * kMs;
  options.retry.multiplier = 2;
  backend_.Script({Retryable(), Retryable(), Retryable()});
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 1);
  ASSERT_TRUE(backend_.WaitForAttempts(4));
  ASSERT_TRUE(Eventually([&] { return exporter->Stats().sent_spans == 1; }));
  const auto attempts = backend_.attempts();
  // Waits of 20, 40 and 80 ms at least (real time; the exporter cannot be early).
  for (int i = 1; i < 4; ++i) {
    EXPECT_GE(attempts[i].steady_ns - attempts[i - 1].steady_ns, (20 * kMs) << (i - 1))
        << "before attempt " << i + 1;
  }
  const ExporterStats stats = exporter->Stats();
  EXPECT_EQ(stats.attempts, 4u);
  EXPECT_EQ(stats.dropped_send_failed, 0u);
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("tailtrace_exporter_requests_total{outcome=\"retryable\"} 3"));
}

TEST_F(ExporterTest, TheBackendsRetryDelayReplacesTheBackoff) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 1;
  options.retry.initial_interval_ns = 1 * kMs;
  backend_.Script({Retryable(/*retry_after_ns=*/300 * kMs)});
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 1);
  ASSERT_TRUE(backend_.WaitForAttempts(2));
  const auto attempts = backend_.attempts();
  EXPECT_GE(attempts[1].steady_ns - attempts[0].steady_ns, 300 * kMs);
}

TEST_F(ExporterTest, GivesUpAfterMaxElapsedTime) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 1;
  options.retry.initial_interval_ns = 50 * kMs;
  options.retry.multiplier = 4;
  options.retry.max_elapsed_time_ns = 500 * kMs;
  backend_.SetFallback(Retryable());
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 1, 3);
  // Attempts at 0, 50 and 250 ms (at the earliest); the next would be at 1050 ms, past 500 ms:
  // dropped. (The margins leave a loaded machine 200 ms of scheduling delay.)
  ASSERT_TRUE(Eventually([&] { return exporter->Stats().dropped_send_failed == 3; }));
  const auto attempts = backend_.attempts();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_GE(attempts[1].steady_ns - attempts[0].steady_ns, 50 * kMs);
  EXPECT_GE(attempts[2].steady_ns - attempts[1].steady_ns, 200 * kMs);
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("tailtrace_exporter_dropped_spans_total{reason=\"send_failed\"} 3"));
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("otelcol_exporter_send_failed_spans{exporter=\"otlp\"} 3"));
}

TEST_F(ExporterTest, APermanentFailureIsDroppedAtOnceAndTheNextRequestStillGoes) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 2;
  backend_.Script({Permanent()});
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 4);
  ASSERT_TRUE(backend_.WaitForAttempts(2));
  ASSERT_TRUE(Eventually([&] { return exporter->Stats().sent_spans == 2; }));
  EXPECT_EQ(exporter->Stats().dropped_send_failed, 2u);
  EXPECT_EQ(exporter->Stats().attempts, 2u);
}

TEST_F(ExporterTest, WithoutRetriesARetryableFailureIsDropped) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 1;
  options.retry.enabled = false;
  backend_.Script({Retryable()});
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 1);
  ASSERT_TRUE(Eventually([&] { return exporter->Stats().dropped_send_failed == 1; }));
  EXPECT_EQ(exporter->Stats().attempts, 1u);
}

TEST_F(ExporterTest, AFullQueueDropsAndCountsWhatDoesNotFit) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 1;
  options.queue_size_bytes = 3 * MakeTrace(0, 1).ByteSizeLong();
  backend_.Hold(true);
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 1);
  // The first trace is in flight (off the queue); three more fit, two do not.
  ASSERT_TRUE(backend_.WaitForAttempts(1));
  EnqueueTraces(*exporter, 1, 5);
  ExporterStats stats = exporter->Stats();
  EXPECT_EQ(stats.dropped_queue_full, 2u);
  EXPECT_EQ(stats.queued_bytes, options.queue_size_bytes);
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("tailtrace_exporter_dropped_spans_total{reason=\"queue_full\"} 2"));
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr(absl::StrCat("tailtrace_exporter_queue_bytes ", options.queue_size_bytes)));
  backend_.Hold(false);
  ASSERT_TRUE(Eventually([&] { return exporter->Stats().sent_spans == 4; }));
  EXPECT_EQ(exporter->Stats().queued_bytes, 0u);
}

TEST_F(ExporterTest, ShutdownDrainsTheQueueBeforeItReturns) {
  auto exporter = Start(TestOptions());
  EnqueueTraces(*exporter, 0, 5, 2);
  ASSERT_TRUE(exporter->Shutdown(5000).ok());
  EXPECT_EQ(exporter->Stats().sent_spans, 10u);
  EXPECT_EQ(backend_.attempts().size(), 1u);
  // After Shutdown a trace is dropped and counted, not queued.
  EnqueueTraces(*exporter, 10, 1);
  EXPECT_EQ(exporter->Stats().dropped_shutdown, 1u);
  EXPECT_TRUE(exporter->Shutdown(5000).ok());  // idempotent
}

TEST_F(ExporterTest, ShutdownStopsRetryingAtItsDeadlineAndReportsWhatWasLost) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 1;
  options.retry.initial_interval_ns = 50 * kMs;
  options.retry.multiplier = 1;
  backend_.SetFallback(Retryable());
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 3);
  ASSERT_TRUE(backend_.WaitForAttempts(1));
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = exporter->Shutdown(300);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("3 spans could not be sent to fake:4317"));
  EXPECT_THAT(s.message(), HasSubstr("UNAVAILABLE: try later"));
  EXPECT_EQ(exporter->Stats().dropped_shutdown, 3u);
  EXPECT_LT(took, std::chrono::seconds(2));
  // Attempts during the drain are cut to what is left of the deadline.
  for (const auto& attempt : backend_.attempts()) EXPECT_LE(attempt.timeout_ns, 5 * kS);
}

TEST_F(ExporterTest, SpansTheBackendRejectedAreCounted) {
  OtlpExporterOptions options = TestOptions();
  options.batch.max_spans = 5;
  backend_.Script({SendResult{SendResult::Kind::kOk, "2 spans too old", -1, 2}});
  auto exporter = Start(options);
  EnqueueTraces(*exporter, 0, 1, 5);
  ASSERT_TRUE(Eventually([&] { return exporter->Stats().dropped_rejected == 2; }));
  EXPECT_EQ(exporter->Stats().sent_spans, 3u);
}

TEST_F(ExporterTest, OptionsOutOfRangeAreRefusedNamingTheKey) {
  OtlpExporterOptions options = TestOptions();
  options.retry.max_interval_ns = options.retry.initial_interval_ns - 1;
  auto exporter =
      OtlpTraceExporter::Create(options, backend_.MakeSender(), Clock::Real(), &metrics_);
  ASSERT_FALSE(exporter.ok());
  EXPECT_THAT(exporter.status().message(),
              HasSubstr("exporters.otlp.retry_on_failure.max_interval"));
  options = TestOptions();
  options.endpoint = "collector";  // no port
  exporter = OtlpTraceExporter::Create(options, Clock::Real(), &metrics_);
  ASSERT_FALSE(exporter.ok());
  EXPECT_THAT(exporter.status().message(), HasSubstr("exporters.otlp.endpoint: \"collector\""));
}

}  // namespace
}  // namespace tailtrace::exporter
