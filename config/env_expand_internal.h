#pragma once

// `${env:VAR}` expansion of config values; not part of the public API.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace tailtrace::config::internal {

// Expands every `${env:NAME}` and `${env:NAME:-default}` in `text` through `env` (the process
// environment when null); `$${` stands for a literal `${`. The default is used when NAME is unset
// or empty. Expanded text is not expanded again. An error names the variable or the bad
// substitution but neither the key nor the line: the caller adds those.
[[nodiscard]] absl::StatusOr<std::string> ExpandEnv(std::string_view text, const EnvLookup& env);

// Reads the process environment (getenv).
[[nodiscard]] std::optional<std::string> ProcessEnvLookup(std::string_view name);

}  // namespace tailtrace::config::internal
