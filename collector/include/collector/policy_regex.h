#pragma once

// The regular expressions of `string_attribute` policies with `enabled_regex_matching`: RE2, the
// syntax of Go's regexp package in which OpenTelemetry Collector configs are written, matched in
// time linear in the input (no backtracking, no recursion per character). The config validator
// and the policy factory both compile through here, so they accept exactly the same patterns.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace tailtrace::collector {

// Memory RE2 may use for one compiled pattern (its DFA cache); a pattern that needs more is
// refused at start-up instead of degrading at run time.
// Default: 8 MiB (RE2's own default)
inline constexpr int64_t kPolicyRegexMaxMemBytes = 8 << 20;

// Compiles `pattern`; InvalidArgument with RE2's reason when it is not a valid RE2 pattern.
[[nodiscard]] inline absl::StatusOr<std::unique_ptr<const RE2>> CompilePolicyRegex(
    const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kPolicyRegexMaxMemBytes);
  auto re = std::make_unique<const RE2>(pattern, options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid regular expression \"", pattern, "\": ", re->error()));
  }
  return re;
}

}  // namespace tailtrace::collector
