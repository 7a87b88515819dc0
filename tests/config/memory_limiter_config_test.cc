// The memory_limiter keys of the config file (otelcol's names).

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::config {
namespace {

using ::testing::HasSubstr;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> {
  return std::nullopt;
};

TEST(MemoryLimiterConfigTest, DefaultsMatchTheDocumentedValues) {
  // A named DaemonConfig, not a temporary: GCC 12 warns (-Wmaybe-uninitialized) about the
  // temporary's strings.
  const DaemonConfig config;
  const collector::MemoryLimiterOptions& d = config.memory_limiter;
  EXPECT_EQ(d.check_interval_ns, 100'000'000);
  EXPECT_EQ(d.limit_mib, 0u);
  EXPECT_EQ(d.spike_limit_mib, 0u);
  EXPECT_EQ(d.limit_percentage, 80);
  EXPECT_EQ(d.spike_limit_percentage, 20);
}

TEST(MemoryLimiterConfigTest, ReadsEveryKey) {
  absl::StatusOr<DaemonConfig> c = ParseConfig(
      "memory_limiter:\n  check_interval: 250ms\n  limit_mib: 4000\n  spike_limit_mib: 800\n"
      "  limit_percentage: 70\n  spike_limit_percentage: 10\n",
      "test.yaml", kNoEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->memory_limiter.check_interval_ns, 250'000'000);
  EXPECT_EQ(c->memory_limiter.limit_mib, 4000u);
  EXPECT_EQ(c->memory_limiter.spike_limit_mib, 800u);
  EXPECT_EQ(c->memory_limiter.limit_percentage, 70);
  EXPECT_EQ(c->memory_limiter.spike_limit_percentage, 10);
}

TEST(MemoryLimiterConfigTest, ErrorsNameTheKeyAndLine) {
  for (auto [yaml, key] : {
           std::pair{"memory_limiter:\n  limit_percentage: 0\n", "memory_limiter.limit_percentage"},
           std::pair{"memory_limiter:\n  spike_limit_percentage: 101\n",
                     "memory_limiter.spike_limit_percentage"},
           std::pair{"memory_limiter:\n  limit_mib: -1\n", "memory_limiter.limit_mib"},
           std::pair{"memory_limiter:\n  check_interval: 0s\n", "memory_limiter.check_interval"},
           std::pair{"memory_limiter:\n  limit_mb: 10\n", "memory_limiter.limit_mb"},
       }) {
    absl::StatusOr<DaemonConfig> c = ParseConfig(yaml, "test.yaml", kNoEnv);
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("test.yaml:2"));
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(key));
  }
}

}  // namespace
}  // namespace tailtrace::config
