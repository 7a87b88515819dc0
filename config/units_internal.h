#pragma once

// Helpers shared by the config parser's files; not part of the public API.

#include <cstdint>
#include <string>

namespace tailtrace::config::internal {

inline constexpr int64_t kNanosPerMicro = 1'000;
inline constexpr int64_t kNanosPerMilli = 1'000'000;
inline constexpr int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr int64_t kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr int64_t kNanosPerHour = 60 * kNanosPerMinute;

// The shortest exact spelling of a duration for messages: 60000000000 -> "1m", 1500000 -> "1500us".
[[nodiscard]] std::string FormatDuration(int64_t ns);

}  // namespace tailtrace::config::internal
