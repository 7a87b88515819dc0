// RecentTraces: remembered for between one and two windows after the last insert; thread-safe.

#include "cluster/recent_traces.h"

#include <thread>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"

namespace tailtrace::cluster {
namespace {

constexpr int64_t kWindow = 10'000'000'000;

TraceId Id(uint64_t n) {
  TraceId id;
  for (int i = 0; i < 8; ++i) id.bytes[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  id.bytes[0] = 1;
  return id;
}

TEST(RecentTracesTest, ATraceIsRememberedForAtLeastOneWindowAfterItsLastSpan) {
  FakeClock clock;
  RecentTraces recent(kWindow, &clock);
  EXPECT_FALSE(recent.Contains(Id(1)));
  recent.Insert(Id(1));
  EXPECT_TRUE(recent.Contains(Id(1)));
  clock.Advance(kWindow - 1);
  EXPECT_TRUE(recent.Contains(Id(1)));
  clock.Advance(1);  // rotated: now in the older generation
  EXPECT_TRUE(recent.Contains(Id(1)));
  recent.Insert(Id(1));  // a new span keeps it in the current one
  clock.Advance(kWindow);
  EXPECT_TRUE(recent.Contains(Id(1)));
  clock.Advance(kWindow);
  EXPECT_FALSE(recent.Contains(Id(1))) << "two windows after its last span it is forgotten";
}

TEST(RecentTracesTest, ALongSilenceForgetsEverything) {
  FakeClock clock;
  RecentTraces recent(kWindow, &clock);
  recent.Insert(Id(7));
  clock.Advance(5 * kWindow);
  EXPECT_FALSE(recent.Contains(Id(7)));
}

TEST(RecentTracesTest, ConcurrentInsertsAndLookups) {
  FakeClock clock;
  RecentTraces recent(kWindow, &clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&recent, t] {
      for (uint64_t i = 0; i < 5000; ++i) {
        recent.Insert(Id(t * 100000 + i));
        EXPECT_TRUE(recent.Contains(Id(t * 100000 + i)));
      }
    });
  }
  // 1.5 windows in all: every shard rotates once while the others insert, and no trace can be
  // forgotten (that takes two windows).
  threads.emplace_back([&clock] {
    for (int i = 0; i < 100; ++i) clock.Advance(kWindow * 15 / 1000);
  });
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace tailtrace::cluster
