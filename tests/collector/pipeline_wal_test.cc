// The pipeline with its write-ahead log: what a crash leaves in the log comes back on the next
// start. A crash is simulated by copying the log directory while the pipeline runs (every append
// is in the file before Consume returns, which is what a killed process leaves behind) and
// starting a second pipeline on the copy.

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "collector/lz4_frame.h"
#include "collector/pipeline.h"
#include "collector/span_log.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/collector/test_spans.h"
#include "wal/wal.h"

namespace tailtrace::collector {
namespace {

namespace fs = std::filesystem;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using testing::AddSpan;
using testing::Scanned;
using testing::TestSpanId;
using testing::TestTraceId;

constexpr int64_t kSecond = 1'000'000'000;

TraceId Id(uint64_t trace) { return TraceId::FromBytes(TestTraceId(trace)); }

// The span IDs stored for `trace`, each as often as it is stored.
std::multiset<std::string> StoredSpanIds(storage::TraceStore& store, uint64_t trace) {
  std::multiset<std::string> ids;
  auto t = store.GetTrace(Id(trace));
  EXPECT_TRUE(t.ok());
  if (!t.ok() || !t->has_value()) return ids;
  for (const auto& rs : (*t)->data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) ids.insert(s.span_id());
    }
  }
  return ids;
}

class PipelineWalTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tailtrace-pipeline-wal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    wal_ = dir_ + "/wal";
  }
  void TearDown() override { fs::remove_all(dir_); }

  PipelineOptions Options(const std::string& wal_dir) const {
    PipelineOptions o;
    o.num_shards = GetParam();
    o.decision_wait_ns = 10 * kSecond;
    o.decision_wait_after_root_received_ns = 2 * kSecond;
    o.durability.wal_dir = wal_dir;
    return o;
  }

  std::unique_ptr<Pipeline> Start(const std::string& wal_dir, storage::TraceStore* store,
                                  FakeClock* clock, MetricsRegistry* metrics) {
    auto pipeline = Pipeline::Create(Options(wal_dir), store, nullptr, clock, metrics);
    EXPECT_TRUE(pipeline.ok()) << pipeline.status();
    return pipeline.ok() ? *std::move(pipeline) : nullptr;
  }

  // What a crash would leave: a copy of the log as it is now.
  std::string CrashCopy(const std::string& wal_dir, const std::string& name) {
    const std::string copy = (fs::path(dir_) / name).string();
    fs::copy(wal_dir, copy, fs::copy_options::recursive);
    return copy;
  }

  static size_t Segments(const std::string& dir) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".wal";
    return n;
  }

  std::string dir_;
  // The log of the first pipeline of a test, and what it runs on.
  std::string wal_;
  FakeClock clock_;
  MetricsRegistry metrics_;
  storage::InMemoryTraceStore store_;
};

TEST_P(PipelineWalTest, UndecidedTracesComeBackAfterACrashAndAreDecidedOnTime) {
  auto pipeline = Start(wal_, &store_, &clock_, &metrics_);
  ASSERT_NE(pipeline, nullptr);
  for (uint64_t t = 0; t < 30; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "svc", t, 1, 9);  // no root: waits the whole decision_wait
    AddSpan(&req, "svc", t, 2, 1);
    ASSERT_TRUE(pipeline->Consume(Scanned(req)).ok());
  }
  pipeline->SyncForTest();
  const std::string crashed = CrashCopy(wal_, "crashed");

  // The next start, 8 s after the spans arrived: they are due 2 s later, not 10 s later.
  FakeClock clock2(clock_.UnixNanos() + 8 * kSecond);
  MetricsRegistry metrics2;
  storage::InMemoryTraceStore store2;
  auto restarted = Start(crashed, &store2, &clock2, &metrics2);
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(metrics2.GetCounter("tailtrace_wal_replayed_spans_total", "")->Value(), 60u);
  clock2.Advance(kSecond);
  restarted->SyncForTest();
  EXPECT_TRUE(StoredSpanIds(store2, 0).empty()) << "decided before its time";
  clock2.Advance(kSecond);
  restarted->SyncForTest();
  for (uint64_t t = 0; t < 30; ++t) {
    EXPECT_EQ(StoredSpanIds(store2, t), (std::multiset<std::string>{TestSpanId(1), TestSpanId(2)}))
        << "trace " << t;
  }
  EXPECT_EQ(Segments(crashed), 0u) << "everything is stored: the log is emptied";
}

TEST_P(PipelineWalTest, SpansTheStoreHasAreNotWrittenTwiceAndTheRestJoinTheirTrace) {
  {
    // The log of a process that stored trace 1's first two spans and died before it wrote its
    // late span 3 and the undecided trace 2.
    auto log = wal::Wal::Open(wal::WalOptions{wal_}, nullptr, nullptr);
    ASSERT_TRUE(log.ok());
    const int64_t arrival = FakeClock().UnixNanos();
    ExportTraceServiceRequest first;
    AddSpan(&first, "svc", 1, 1, 0);
    AddSpan(&first, "svc", 1, 2, 1);
    ExportTraceServiceRequest second;
    AddSpan(&second, "svc", 1, 3, 1);
    AddSpan(&second, "svc", 2, 1, 7);
    for (const auto* req : {&first, &second}) {
      const std::string header = SpanLog::RecordHeader(arrival);
      ASSERT_TRUE((*log)->Append(header + req->SerializeAsString()).ok());
    }
    opentelemetry::proto::trace::v1::TracesData stored;
    stored.mutable_resource_spans()->CopyFrom(first.resource_spans());
    const storage::TraceWrite write{Id(1), &stored, "errors", 0.5, ""};
    ASSERT_TRUE(store_.Write({&write, 1}).ok());
  }
  FakeClock clock(FakeClock().UnixNanos() + 60 * kSecond);
  MetricsRegistry metrics;
  auto pipeline = Start(wal_, &store_, &clock, &metrics);
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(metrics.GetCounter("tailtrace_wal_replay_skipped_spans_total", "")->Value(), 2u);
  pipeline->SyncForTest();
  EXPECT_EQ(StoredSpanIds(store_, 1),
            (std::multiset<std::string>{TestSpanId(1), TestSpanId(2), TestSpanId(3)}));
  auto trace1 = store_.GetTrace(Id(1));
  ASSERT_TRUE(trace1.ok() && trace1->has_value());
  EXPECT_EQ((*trace1)->sampling_policy, "errors") << "the late span keeps its trace's decision";
  EXPECT_EQ(StoredSpanIds(store_, 2), (std::multiset<std::string>{TestSpanId(1)}))
      << "long overdue: decided on the first tick";
}

TEST_P(PipelineWalTest, SegmentsGoOnlyWhenNothingInThemIsHeld) {
  PipelineOptions options = Options(wal_);
  options.durability.segment_bytes = 4096;  // a segment every few requests
  auto created = Pipeline::Create(options, &store_, nullptr, &clock_, &metrics_);
  ASSERT_TRUE(created.ok()) << created.status();
  Pipeline& pipeline = **created;
  // Early traces fill the first segments; no root: each is held for the whole decision_wait.
  for (uint64_t t = 1000; t < 1050; ++t) {
    ExportTraceServiceRequest early;
    AddSpan(&early, "svc", t, 1, 9)->set_name(std::string(200, 'x'));
    ASSERT_TRUE(pipeline.Consume(Scanned(early)).ok());
  }
  clock_.Advance(5 * kSecond);
  for (uint64_t t = 0; t < 100; ++t) {
    ExportTraceServiceRequest req;
    AddSpan(&req, "svc", t, 1, 9)->set_name(std::string(200, 'x'));
    ASSERT_TRUE(pipeline.Consume(Scanned(req)).ok());
  }
  pipeline.SyncForTest();
  const size_t all = Segments(wal_);
  EXPECT_GE(all, 4u);

  // The early traces are decided and written: the segments that held only them go.
  clock_.Advance(5 * kSecond);
  pipeline.SyncForTest();
  ASSERT_EQ(StoredSpanIds(store_, 1049).size(), 1u);
  const size_t after_slow = Segments(wal_);
  EXPECT_LT(after_slow, all);
  EXPECT_GE(after_slow, 1u) << "the other traces still wait";
  EXPECT_TRUE(StoredSpanIds(store_, 0).empty());

  clock_.Advance(5 * kSecond);
  pipeline.SyncForTest();
  EXPECT_EQ(StoredSpanIds(store_, 99).size(), 1u);
  EXPECT_EQ(Segments(wal_), 0u);
}

TEST_P(PipelineWalTest, ACleanShutdownLeavesAnEmptyLogAndAFailedOneKeepsWhatWasNotWritten) {
  auto pipeline = Start(wal_, &store_, &clock_, &metrics_);
  ASSERT_NE(pipeline, nullptr);
  ExportTraceServiceRequest req;
  AddSpan(&req, "svc", 1, 1, 9);
  ASSERT_TRUE(pipeline->Consume(Scanned(req)).ok());
  store_.FailWritesForTest(absl::UnavailableError("disk full"));
  EXPECT_FALSE(pipeline->Shutdown(0).ok());
  pipeline.reset();
  EXPECT_EQ(Segments(wal_), 1u) << "the unwritten trace waits in the log";

  store_.FailWritesForTest(absl::OkStatus());
  MetricsRegistry metrics2;
  pipeline = Start(wal_, &store_, &clock_, &metrics2);
  ASSERT_NE(pipeline, nullptr);
  ASSERT_TRUE(pipeline->Shutdown(1000).ok());
  EXPECT_EQ(StoredSpanIds(store_, 1).size(), 1u);
  EXPECT_EQ(Segments(wal_), 0u);
}

// Keeps the traces that have at least two spans when decided.
class TwoSpansSampler final : public Sampler {
 public:
  SamplingDecision Decide(const TraceBuffer& trace, int64_t) override {
    return {trace.span_count >= 2, "two-spans", 1.0};
  }
  bool NeedsSpans() const override { return false; }
};

TEST_P(PipelineWalTest, AReplayedTraceIsDecidedOnAllOfItsSpansInTheLog) {
  const SamplerFactory two_spans = [](uint32_t, uint32_t) {
    return std::make_unique<TwoSpansSampler>();
  };
  auto first = Pipeline::Create(Options(wal_), &store_, two_spans, &clock_, &metrics_);
  ASSERT_TRUE(first.ok());
  // The trace's spans come in two requests, a second apart, and long before the restart.
  ExportTraceServiceRequest a;
  AddSpan(&a, "svc", 7, 1, 9);
  ASSERT_TRUE((*first)->Consume(Scanned(a)).ok());
  clock_.Advance(kSecond);
  ExportTraceServiceRequest b;
  AddSpan(&b, "svc", 7, 2, 1);
  ASSERT_TRUE((*first)->Consume(Scanned(b)).ok());
  (*first)->SyncForTest();
  const std::string crashed = CrashCopy(wal_, "crashed");

  FakeClock later(clock_.UnixNanos() + 600 * kSecond);
  MetricsRegistry metrics2;
  storage::InMemoryTraceStore store2;
  PipelineOptions options = Options(crashed);
  // A queue of one request: replay waits for the shard to take each record before the next.
  options.max_queue_bytes_per_shard = 1;
  auto restarted = Pipeline::Create(options, &store2, two_spans, &later, &metrics2);
  ASSERT_TRUE(restarted.ok());
  (*restarted)->SyncForTest();
  EXPECT_EQ(StoredSpanIds(store2, 7), (std::multiset<std::string>{TestSpanId(1), TestSpanId(2)}))
      << "decided on its first record alone, it would have been dropped";
}

// A log written with either setting of `compress` comes back under the other one.
TEST_P(PipelineWalTest, RecordsAreLz4FramedAndEitherKindReplaysWhateverTheSettingSays) {
  for (const bool compress : {true, false}) {
    SCOPED_TRACE(compress ? "written LZ4-framed" : "written as they came");
    const std::string wal = wal_ + (compress ? "-lz4" : "-raw");
    PipelineOptions options = Options(wal);
    options.durability.compress = compress;
    MetricsRegistry metrics;
    storage::InMemoryTraceStore store;
    auto first = Pipeline::Create(options, &store, nullptr, &clock_, &metrics);
    ASSERT_TRUE(first.ok()) << first.status();
    uint64_t request_bytes = 0;
    for (uint64_t t = 0; t < 20; ++t) {
      ExportTraceServiceRequest req;
      AddSpan(&req, "svc", t, 1, 9)->set_name(std::string(300, 'x'));  // no root: held
      AddSpan(&req, "svc", t, 2, 1)->set_name(std::string(300, 'y'));
      request_bytes += req.ByteSizeLong();
      ASSERT_TRUE((*first)->Consume(Scanned(req)).ok());
    }
    (*first)->SyncForTest();
    const uint64_t logged = metrics.GetCounter("tailtrace_wal_appended_bytes_total", "")->Value();
    if (compress) {
      EXPECT_LT(logged, request_bytes / 4) << "the names' repeats are compressed";
    } else {
      EXPECT_EQ(logged, request_bytes + 20 * SpanLog::RecordHeader(0).size());
    }
    const std::string crashed = CrashCopy(wal, compress ? "crashed-lz4" : "crashed-raw");

    PipelineOptions reader = Options(crashed);
    reader.durability.compress = !compress;
    MetricsRegistry metrics2;
    storage::InMemoryTraceStore store2;
    FakeClock later(clock_.UnixNanos() + 60 * kSecond);
    auto restarted = Pipeline::Create(reader, &store2, nullptr, &later, &metrics2);
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    (*restarted)->SyncForTest();
    EXPECT_EQ(metrics2.GetCounter("tailtrace_wal_replayed_spans_total", "")->Value(), 40u);
    EXPECT_EQ(metrics2.GetCounter("tailtrace_wal_corrupt_records_total", "")->Value(), 0u);
    for (uint64_t t = 0; t < 20; ++t) {
      EXPECT_EQ(StoredSpanIds(store2, t),
                (std::multiset<std::string>{TestSpanId(1), TestSpanId(2)}))
          << "trace " << t;
    }
  }
}

TEST_P(PipelineWalTest, ARecordWhoseRequestCannotBeReadIsSkippedAndCounted) {
  ExportTraceServiceRequest req;
  AddSpan(&req, "svc", 3, 1, 0);
  const std::string bytes = req.SerializeAsString();
  const std::string_view pieces[] = {bytes};
  const std::string frame = Lz4FrameCompress(pieces);
  ASSERT_FALSE(frame.empty());
  {
    auto log = wal::Wal::Open(wal::WalOptions{wal_}, nullptr, nullptr);
    ASSERT_TRUE(log.ok());
    const int64_t arrival = FakeClock().UnixNanos();
    using Format = SpanLog::RecordFormat;
    const std::string lz4 = SpanLog::RecordHeader(arrival, Format::kLz4);
    // Not an LZ4 frame; a frame cut short; a format no build writes; then a good record.
    ASSERT_TRUE((*log)->Append(lz4 + bytes).ok());
    ASSERT_TRUE((*log)->Append(lz4 + frame.substr(0, frame.size() - 4)).ok());
    std::string unknown = SpanLog::RecordHeader(arrival);
    unknown[0] = 9;
    ASSERT_TRUE((*log)->Append(unknown + bytes).ok());
    ASSERT_TRUE((*log)->Append(std::string("\x02", 1)).ok());  // shorter than a header
    ASSERT_TRUE((*log)->Append(lz4 + frame).ok());
  }
  FakeClock clock(FakeClock().UnixNanos() + 60 * kSecond);
  MetricsRegistry metrics;
  auto pipeline = Start(wal_, &store_, &clock, &metrics);
  ASSERT_NE(pipeline, nullptr);
  pipeline->SyncForTest();
  EXPECT_EQ(metrics.GetCounter("tailtrace_wal_corrupt_records_total", "")->Value(), 4u);
  EXPECT_EQ(metrics.GetCounter("tailtrace_wal_replayed_records_total", "")->Value(), 1u);
  EXPECT_EQ(StoredSpanIds(store_, 3), (std::multiset<std::string>{TestSpanId(1)}));
}

INSTANTIATE_TEST_SUITE_P(Shards, PipelineWalTest, ::testing::Values(1u, 3u));

}  // namespace
}  // namespace tailtrace::collector
