#include "query/trace_loads_internal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/worker_pool.h"

namespace tailtrace::query::internal {
namespace {

TraceId IdOf(size_t i) {
  TraceId id;
  id.bytes[15] = static_cast<uint8_t>(i + 1);
  return id;
}

std::vector<TraceId> Ids(size_t n) {
  std::vector<TraceId> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(IdOf(i));
  return ids;
}

// Each read answers its trace's position, so the order taken can be checked.
using Loads = TraceLoads<std::string>;

Loads::Result TraceAt(const TraceId& id) { return std::to_string(id.bytes[15] - 1); }

std::vector<std::string> TakeAll(Loads& loads) {
  std::vector<std::string> taken;
  while (loads.more()) {
    Loads::Result r = loads.Take();
    EXPECT_TRUE(r.ok()) << r.status();
    taken.push_back(r.ok() ? *r : "?");
  }
  return taken;
}

std::vector<std::string> Positions(size_t n) {
  std::vector<std::string> p;
  for (size_t i = 0; i < n; ++i) p.push_back(std::to_string(i));
  return p;
}

TEST(TraceLoadsTest, TracesAreTakenInTheOrderAskedWithOrWithoutAPool) {
  WorkerPool pool(3, 64, "tt-test-loads");
  for (WorkerPool* p : {&pool, static_cast<WorkerPool*>(nullptr)}) {
    std::atomic<int> reads{0};
    PartialErrors partial;
    Loads loads(
        p, 4, Ids(25),
        [&](const TraceId& id, PartialErrors*) {
          ++reads;
          return TraceAt(id);
        },
        &partial);
    EXPECT_EQ(loads.size(), 25u);
    EXPECT_EQ(TakeAll(loads), Positions(25));
    EXPECT_EQ(reads.load(), 25);  // each once
  }
}

TEST(TraceLoadsTest, NoReadStartsMoreThanTheWindowAheadOfTheTracesTaken) {
  WorkerPool pool(8, 64, "tt-test-loads");
  for (size_t window : {1u, 2u, 5u}) {
    std::atomic<size_t> taken{0};
    std::atomic<size_t> ahead_max{0};
    PartialErrors partial;
    Loads loads(
        &pool, window, Ids(30),
        [&](const TraceId& id, PartialErrors*) {
          const size_t i = static_cast<size_t>(id.bytes[15] - 1);
          const size_t ahead = i - taken.load();  // a read starts only after its earlier takes
          size_t seen = ahead_max.load();
          while (ahead > seen && !ahead_max.compare_exchange_weak(seen, ahead)) {
          }
          return TraceAt(id);
        },
        &partial);
    while (loads.more()) {
      ASSERT_TRUE(loads.Take().ok());
      ++taken;
    }
    EXPECT_LT(ahead_max.load(), window) << "window " << window;
  }
}

TEST(TraceLoadsTest, PartialErrorsMergeInOrderAndLaterReadsSkipWhatFailed) {
  WorkerPool pool(2, 64, "tt-test-loads");
  PartialErrors partial;
  std::vector<bool> saw_failed(3);
  Loads loads(
      &pool, 1, Ids(3),
      [&](const TraceId& id, PartialErrors* errors) {
        const size_t i = static_cast<size_t>(id.bytes[15] - 1);
        saw_failed[i] = errors->Failed("member a");
        if (i == 0) errors->Add("member a", "member a: UNAVAILABLE");
        if (i == 1) errors->Add("member b", "member b: DEADLINE_EXCEEDED");
        return TraceAt(id);
      },
      &partial);
  EXPECT_EQ(TakeAll(loads), Positions(3));
  EXPECT_EQ(partial.messages(),
            (std::vector<std::string>{"member a: UNAVAILABLE", "member b: DEADLINE_EXCEEDED"}));
  // With a window of 1, read 1 starts after trace 0 was taken, and knows member a failed.
  EXPECT_EQ(saw_failed, (std::vector<bool>{false, true, true}));
}

TEST(TraceLoadsTest, ReadsRunOnTheRequestsThreadWhenThePoolQueueIsFull) {
  WorkerPool pool(1, 0, "tt-test-loads");  // queues nothing: every TrySubmit fails
  const std::thread::id self = std::this_thread::get_id();
  std::vector<std::thread::id> threads;
  PartialErrors partial;
  Loads loads(
      &pool, 3, Ids(4),
      [&](const TraceId& id, PartialErrors* errors) {
        threads.push_back(std::this_thread::get_id());
        EXPECT_EQ(errors, &partial);
        return TraceAt(id);
      },
      &partial);
  EXPECT_EQ(TakeAll(loads), Positions(4));
  EXPECT_EQ(threads, std::vector<std::thread::id>(4, self));
}

TEST(TraceLoadsTest, DestructionWaitsForTheReadsUnderWay) {
  WorkerPool pool(4, 64, "tt-test-loads");
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  {
    PartialErrors partial;
    Loads loads(
        &pool, 4, Ids(10),
        [&](const TraceId& id, PartialErrors*) {
          ++started;
          Loads::Result r = TraceAt(id);
          ++finished;
          return r;
        },
        &partial);
    ASSERT_TRUE(loads.Take().ok());  // then the answer ends early, as after a store error
  }
  EXPECT_GE(started.load(), 1);
  EXPECT_EQ(finished.load(), started.load());
}

TEST(TraceLoadsTest, AReadThatThrowsIsAnErrorNamingTheTrace) {
  WorkerPool pool(2, 64, "tt-test-loads");
  PartialErrors partial;
  Loads loads(
      &pool, 2, Ids(2),
      [&](const TraceId& id, PartialErrors*) -> Loads::Result {
        if (id.bytes[15] == 2) throw std::runtime_error("out of memory");
        return TraceAt(id);
      },
      &partial);
  EXPECT_TRUE(loads.Take().ok());
  const Loads::Result r = loads.Take();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status().message().find(IdOf(1).Hex()), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("out of memory"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace tailtrace::query::internal
