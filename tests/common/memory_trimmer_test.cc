#include "common/memory_trimmer.h"

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

extern "C" int mallctl(const char*, void*, size_t*, void*, size_t) __attribute__((weak));

#if defined(TAILTRACE_EXPECT_JEMALLOC)
// jemalloc reads its options from this symbol: freed pages stay resident until purged, as glibc's
// do until malloc_trim (under jemalloc's default they go back over about 10 s), so that the tests
// see what the trimmer gives back.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
#endif

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

// What a burst leaves behind: ~200 MB of small blocks freed, with the last one still held. With
// glibc in a thread's arena, so that glibc cannot shrink the heap from its top by itself; with
// jemalloc in this thread (a thread that exits hands jemalloc back its pages at once).
std::unique_ptr<char[]> Burst() {
  std::unique_ptr<char[]> pinned;
  auto burst = [&pinned] {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 100'000; ++i) {
      blocks.emplace_back(new char[2000]);
      for (int j = 0; j < 2000; j += 512) blocks.back()[j] = 1;  // touch the pages
    }
    pinned = std::move(blocks.back());
    blocks.pop_back();
  };
#if defined(TAILTRACE_EXPECT_JEMALLOC)
  burst();
#else
  std::thread(burst).join();
#endif
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

// memory_trimmer_jemalloc_test is built with TAILTRACE_EXPECT_JEMALLOC: the tests above then run
// the trimmer's jemalloc path, which it takes when it finds mallctl.
TEST(MemoryTrimmerAllocatorTest, RunsOnTheAllocatorItWasLinkedWith) {
  const bool jemalloc = mallctl != nullptr;
#if defined(TAILTRACE_EXPECT_JEMALLOC)
  EXPECT_TRUE(jemalloc) << "linked with jemalloc, yet mallctl is not found";
#else
  EXPECT_FALSE(jemalloc) << "glibc's malloc expected";
#endif
}

TEST(MemoryTrimmerThreadTest, StopEndsTheThreadAtOnce) {
  MemoryTrimmer trimmer(MemoryTrimmerOptions{.interval_ms = 3'600'000});
  trimmer.Stop();
  trimmer.Stop();  // idempotent
}

}  // namespace
}  // namespace tailtrace
