// The memory limiter (with an injected RSS source and clock) and the admission gate (store health
// and memory) in front of a recording sink.

#include "collector/admission.h"

#include <atomic>
#include <memory>

#include "collector/memory_limiter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/testing/in_memory_trace_store.h"

namespace tailtrace::collector {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1ull << 20;

class FakeRss final : public RssSource {
 public:
  absl::StatusOr<uint64_t> RssBytes() override {
    reads.fetch_add(1);
    if (fail.load()) return absl::UnavailableError("no statm");
    return bytes.load();
  }
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> fail{false};
  std::atomic<int> reads{0};
};

class CountingSink final : public SpanSink {
 public:
  absl::Status Consume(WireRequest&& request) override {
    spans += request.spans.size();
    return absl::OkStatus();
  }
  uint64_t spans = 0;
};

WireRequest RequestWithSpans(size_t n) {
  WireRequest r;
  r.spans.resize(n);
  return r;
}

MemoryLimiterOptions LimitMib(uint64_t limit, uint64_t spike) {
  MemoryLimiterOptions o;
  o.limit_mib = limit;
  o.spike_limit_mib = spike;
  return o;
}

TEST(MemoryLimiterTest, RefusesAboveTheSoftLimitAndRereadsOncePerInterval) {
  FakeRss rss;
  FakeClock clock;
  auto limiter = MemoryLimiter::Create(LimitMib(100, 20), 0, &rss, &clock);
  ASSERT_TRUE(limiter.ok()) << limiter.status();
  EXPECT_EQ((*limiter)->limit_bytes(), 100 * kMiB);
  EXPECT_EQ((*limiter)->soft_limit_bytes(), 80 * kMiB);

  rss.bytes = 79 * kMiB;
  EXPECT_FALSE((*limiter)->Refusing());
  rss.bytes = 81 * kMiB;
  // Cached until check_interval has passed: no re-read, still accepting.
  for (int i = 0; i < 100; ++i) EXPECT_FALSE((*limiter)->Refusing());
  EXPECT_EQ(rss.reads.load(), 1);
  clock.Advance(1'000'000'000);
  EXPECT_TRUE((*limiter)->Refusing());
  EXPECT_EQ((*limiter)->rss_bytes(), 81 * kMiB);
  absl::Status refused = (*limiter)->Check();
  EXPECT_TRUE(absl::IsUnavailable(refused));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("81 MiB"));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("80 MiB"));

  rss.bytes = 50 * kMiB;
  clock.Advance(1'000'000'000);
  EXPECT_FALSE((*limiter)->Refusing());
  EXPECT_EQ(rss.reads.load(), 3);
}

TEST(MemoryLimiterTest, AFailedReadKeepsTheLastState) {
  FakeRss rss;
  FakeClock clock;
  auto limiter = MemoryLimiter::Create(LimitMib(100, 20), 0, &rss, &clock);
  ASSERT_TRUE(limiter.ok());
  rss.bytes = 90 * kMiB;
  EXPECT_TRUE((*limiter)->Refusing());
  rss.fail = true;
  clock.Advance(1'000'000'000);
  EXPECT_TRUE((*limiter)->Refusing());
}

TEST(MemoryLimiterTest, PercentagesOfTheAvailableMemory) {
  FakeRss rss;
  FakeClock clock;
  MemoryLimiterOptions o;  // 80% / 20%
  auto limiter = MemoryLimiter::Create(o, 1000 * kMiB, &rss, &clock);
  ASSERT_TRUE(limiter.ok()) << limiter.status();
  EXPECT_EQ((*limiter)->limit_bytes(), 800 * kMiB);
  EXPECT_EQ((*limiter)->spike_limit_bytes(), 200 * kMiB);
  // limit_mib without spike_limit_mib: 20% of the limit.
  auto by_mib = MemoryLimiter::Create(LimitMib(500, 0), 1000 * kMiB, &rss, &clock);
  ASSERT_TRUE(by_mib.ok());
  EXPECT_EQ((*by_mib)->spike_limit_bytes(), 100 * kMiB);
}

TEST(MemoryLimiterTest, ImpossibleOptionsNameTheKey) {
  FakeRss rss;
  FakeClock clock;
  auto spike = MemoryLimiter::Create(LimitMib(100, 100), 0, &rss, &clock);
  ASSERT_FALSE(spike.ok());
  EXPECT_THAT(std::string(spike.status().message()), HasSubstr("spike_limit_mib"));
  MemoryLimiterOptions pct;
  pct.limit_percentage = 0;
  auto bad_pct = MemoryLimiter::Create(pct, 1000 * kMiB, &rss, &clock);
  ASSERT_FALSE(bad_pct.ok());
  EXPECT_THAT(std::string(bad_pct.status().message()), HasSubstr("limit_percentage"));
  auto unknown = MemoryLimiter::Create(MemoryLimiterOptions{}, 0, &rss, &clock);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("limit_mib"));
}

TEST(MemoryLimiterTest, AvailableMemoryIsReadFromThisMachine) {
  EXPECT_GT(AvailableMemoryBytes(), 0u);
  auto rss = RssSource::Proc()->RssBytes();
  ASSERT_TRUE(rss.ok());
  EXPECT_GT(*rss, 0u);
}

TEST(AdmissionSinkTest, RefusesWhileTheStoreCannotWriteAndAcceptsAfter) {
  CountingSink next;
  storage::InMemoryTraceStore store;
  AdmissionSink gate(&next, &store, nullptr);
  EXPECT_TRUE(gate.Consume(RequestWithSpans(3)).ok());
  store.FailWritesForTest(absl::UnavailableError("disk full"));
  absl::Status refused = gate.Consume(RequestWithSpans(4));
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("disk full"));
  EXPECT_EQ(gate.refused_spans_store(), 4u);
  store.FailWritesForTest(absl::OkStatus());
  EXPECT_TRUE(gate.Consume(RequestWithSpans(5)).ok());
  EXPECT_EQ(next.spans, 8u);
}

TEST(AdmissionSinkTest, RefusesAboveTheMemoryLimit) {
  CountingSink next;
  storage::InMemoryTraceStore store;
  FakeRss rss;
  FakeClock clock;
  auto limiter = MemoryLimiter::Create(LimitMib(100, 20), 0, &rss, &clock);
  ASSERT_TRUE(limiter.ok());
  AdmissionSink gate(&next, &store, limiter->get());
  rss.bytes = 90 * kMiB;
  absl::Status refused = gate.Consume(RequestWithSpans(2));
  EXPECT_TRUE(absl::IsUnavailable(refused));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("memory limit"));
  EXPECT_EQ(gate.refused_spans_memory(), 2u);
  EXPECT_EQ(next.spans, 0u);
  rss.bytes = 10 * kMiB;
  clock.Advance(1'000'000'000);
  EXPECT_TRUE(gate.Consume(RequestWithSpans(2)).ok());
  EXPECT_EQ(next.spans, 2u);
}

}  // namespace
}  // namespace tailtrace::collector
