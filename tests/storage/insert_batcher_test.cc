// InsertBatcher (storage/clickhouse/insert_batcher.h): concurrent writers' rows go out in one
// send once the batch is full or due by the clock, and every writer gets that send's status.

#include "insert_batcher.h"

#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"

namespace tailtrace::storage::clickhouse {
namespace {

class InsertBatcherTest : public ::testing::Test {
 protected:
  InsertBatcher Make(uint64_t max_rows, int64_t flush_interval_ns) {
    return InsertBatcher(InsertBatcher::Options{max_rows, flush_interval_ns}, &clock_,
                         [this](std::string_view rows) {
                           std::lock_guard lock(mu_);
                           sent_.emplace_back(rows);
                           return result_;
                         });
  }
  std::vector<std::string> Sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }

  FakeClock clock_;
  std::mutex mu_;
  std::vector<std::string> sent_;
  absl::Status result_;
};

TEST_F(InsertBatcherTest, WithoutAnIntervalEverySubmitIsSentAtOnce) {
  InsertBatcher batcher = Make(100, 0);
  ASSERT_TRUE(batcher.Submit("a", 1).ok());
  ASSERT_TRUE(batcher.Submit("b", 1).ok());
  EXPECT_EQ(Sent(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(InsertBatcherTest, ABatchWaitsForTheClockUntilItIsDue) {
  InsertBatcher batcher = Make(100, 1'000'000'000);
  auto first = std::async(std::launch::async, [&] { return batcher.Submit("a", 1); });
  auto second = std::async(std::launch::async, [&] { return batcher.Submit("b", 1); });
  // Nothing is sent while the clock stands still.
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_TRUE(Sent().empty());
  // Each second of the clock sends what gathered (both rows at once, unless the second writer
  // came after the first batch had left).
  while (second.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready ||
         first.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
    clock_.Advance(1'000'000'000);
  }
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(second.get().ok());
  std::string all;
  for (const std::string& s : Sent()) all += s;
  EXPECT_EQ(all.size(), 2u);
}

TEST_F(InsertBatcherTest, AFullBatchIsSentWithoutWaitingAndEveryWriterGetsItsStatus) {
  result_ = absl::UnavailableError("down");
  InsertBatcher batcher = Make(3, 3'600'000'000'000);
  std::vector<std::future<absl::Status>> writers;
  for (const char* rows : {"a", "b", "c"}) {
    writers.push_back(
        std::async(std::launch::async, [&, rows] { return batcher.Submit(rows, 1); }));
  }
  for (auto& w : writers) EXPECT_EQ(w.get().code(), absl::StatusCode::kUnavailable);
  std::string all;
  for (const std::string& s : Sent()) all += s;
  EXPECT_EQ(all.size(), 3u);
}

}  // namespace
}  // namespace tailtrace::storage::clickhouse
