#include "common/worker_pool.h"

#include <pthread.h>

#include <atomic>
#include <latch>
#include <string>

#include "gtest/gtest.h"

namespace tailtrace {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskRefusesBeyondTheQueueAndDrainsOnDestruction) {
  std::atomic<int> ran{0};
  std::latch started(1);
  std::latch release(1);
  {
    WorkerPool pool(1, 2, "tt-test-pool");
    EXPECT_EQ(pool.threads(), 1);
    ASSERT_TRUE(pool.TrySubmit([&] {
      started.count_down();
      release.wait();
      ++ran;
    }));
    started.wait();  // the only thread is busy now
    EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
    EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
    EXPECT_FALSE(pool.TrySubmit([&] { ++ran; }));  // two already wait
    release.count_down();
  }
  EXPECT_EQ(ran.load(), 3);
}

TEST(WorkerPoolTest, RunsTasksOnThreadsOfItsName) {
  std::string name;
  std::latch done(1);
  WorkerPool pool(0, 1, "tt-named");  // 0 threads asked: still one
  EXPECT_EQ(pool.threads(), 1);
  ASSERT_TRUE(pool.TrySubmit([&] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    name = buf;
    done.count_down();
  }));
  done.wait();
  EXPECT_EQ(name, "tt-named");
}

}  // namespace
}  // namespace tailtrace
