#pragma once

// Helpers shared by the sampling.policies tests (policies_test.cc, policy_errors_test.cc).

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "gtest/gtest.h"

namespace tailtrace::config::test_util {

inline const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> {
  return std::nullopt;
};

// The config of `yaml`, which must be accepted.
inline DaemonConfig ParseOk(std::string_view yaml) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "tailtrace.yaml", kNoEnv);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : DaemonConfig{};
}

// The whole error message of a config that must be rejected.
inline std::string ParseError(std::string_view yaml) {
  absl::StatusOr<DaemonConfig> config = ParseConfig(yaml, "tailtrace.yaml", kNoEnv);
  EXPECT_FALSE(config.ok());
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

// One policy under `sampling.policies` (its text indented by 4 spaces, starting at line 3).
inline std::string OnePolicy(std::string_view policy) {
  return std::string("sampling:\n  policies:\n") + std::string(policy);
}

}  // namespace tailtrace::config::test_util
