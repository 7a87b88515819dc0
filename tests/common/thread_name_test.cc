#include "common/thread_name.h"

#include <pthread.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace tailtrace {
namespace {

std::string NameInThread(std::string_view name) {
  std::string seen;
  std::thread t([&] {
    SetCurrentThreadName(name);
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    seen = buf;
  });
  t.join();
  return seen;
}

TEST(ThreadNameTest, NamesTheCallingThread) { EXPECT_EQ(NameInThread("tt-shard-3"), "tt-shard-3"); }

TEST(ThreadNameTest, KeepsTheFirstFifteenBytesOfALongName) {
  EXPECT_EQ(NameInThread("tt-otlp_grpc-listener"), "tt-otlp_grpc-li");
}

}  // namespace
}  // namespace tailtrace
