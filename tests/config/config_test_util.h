#pragma once

// Helpers shared by the ParseConfig tests (config_test.cc, config_errors_test.cc).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "gtest/gtest.h"

namespace tailtrace::config::test_util {

inline constexpr int64_t kMs = 1'000'000;
inline constexpr int64_t kS = 1'000'000'000;
inline constexpr int64_t kM = 60 * kS;
inline constexpr int64_t kH = 60 * kM;

// An environment with exactly these variables.
inline EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline const EnvLookup kEmptyEnv = FakeEnv({});

// The config of `yaml`, which must be accepted.
inline DaemonConfig Parse(std::string_view yaml, const EnvLookup& env = kEmptyEnv) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "test.yaml", env);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : DaemonConfig{};
}

// The whole error message of a config that must be rejected.
inline std::string Error(std::string_view yaml, const EnvLookup& env = kEmptyEnv) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "test.yaml", env);
  EXPECT_FALSE(config.ok()) << "accepted:\n" << yaml;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

}  // namespace tailtrace::config::test_util
