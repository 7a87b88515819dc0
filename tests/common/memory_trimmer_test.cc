#include "common/memory_trimmer.h"

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tailtrace {
namespace {

uint64_t RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// What a burst leaves behind: ~200 MB of small blocks freed in a thread's arena, with the last
// one still held, so that glibc cannot shrink the heap from its top by itself.
std::unique_ptr<char[]> Burst() {
  std::unique_ptr<char[]> pinned;
  std::thread burst([&pinned] {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 100'000; ++i) {
      blocks.emplace_back(new char[2000]);
      for (int j = 0; j < 2000; j += 512) blocks.back()[j] = 1;  // touch the pages
    }
    pinned = std::move(blocks.back());
    blocks.pop_back();
  });
  burst.join();
  return pinned;
}

class MemoryTrimmerTest : public testing::Test {
 protected:
  void SetUp() override {
#if !defined(__GLIBC__)
    GTEST_SKIP() << "malloc_trim is glibc's";
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "a sanitizer's allocator replaces glibc's heap, which malloc_trim trims";
#endif
  }
};

TEST_F(MemoryTrimmerTest, TrimNowGivesFreedHeapMemoryBack) {
  const std::unique_ptr<char[]> pinned = Burst();
  const uint64_t before = RssBytes();
  EXPECT_TRUE(MemoryTrimmer::TrimNow());
  const uint64_t after = RssBytes();
  EXPECT_LT(after + (100u << 20), before) << "before " << before << " after " << after;
}

TEST_F(MemoryTrimmerTest, TrimIfIdleTrimsOnlyAboveItsThreshold) {
  const std::unique_ptr<char[]> pinned = Burst();
  const uint64_t idle = MemoryTrimmer::IdleResidentBytes();
  ASSERT_GT(idle, 150u << 20) << "the burst's freed blocks are resident and not in use";
  const uint64_t before = RssBytes();
  EXPECT_FALSE(MemoryTrimmer::TrimIfIdle(idle + (1ull << 30)));
  EXPECT_GT(RssBytes() + (10u << 20), before) << "nothing may be given back below the threshold";
  EXPECT_TRUE(MemoryTrimmer::TrimIfIdle(100u << 20));
  EXPECT_LT(RssBytes() + (100u << 20), before);
  EXPECT_LT(MemoryTrimmer::IdleResidentBytes() + (100u << 20), idle)
      << "what was given back is no longer idle, so the next check does not trim again";
}

TEST(MemoryTrimmerThreadTest, StopEndsTheThreadAtOnce) {
  MemoryTrimmer trimmer(MemoryTrimmerOptions{.interval_ms = 3'600'000});
  trimmer.Stop();
  trimmer.Stop();  // idempotent
}

}  // namespace
}  // namespace tailtrace
