// ParseDuration and ParseBytes: the duration and size syntax of the config file.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "config/config.h"
#include "units_internal.h"

namespace tailtrace::config {
namespace {

using u128 = unsigned __int128;
using internal::kNanosPerHour;
using internal::kNanosPerMicro;
using internal::kNanosPerMilli;
using internal::kNanosPerMinute;
using internal::kNanosPerSecond;

// More fraction digits than this add nothing below a nanosecond (or a byte) and could overflow.
constexpr int kMaxFractionDigits = 18;

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A decimal number "12", "1.5", ".5", "1." read from the front of `text`.
struct Decimal {
  u128 integer = 0;   // the integer part, capped just above 2^64 to detect overflow
  u128 fraction = 0;  // fraction digits as an integer ...
  u128 scale = 1;     // ... to be divided by this
  bool has_fraction = false;
};

// Reads a decimal number at `*pos`; returns false when there is no digit.
bool ReadDecimal(std::string_view text, size_t* pos, Decimal* out) {
  size_t i = *pos;
  bool any_digit = false;
  constexpr u128 kCap = static_cast<u128>(std::numeric_limits<uint64_t>::max()) + 1;
  while (i < text.size() && IsDigit(text[i])) {
    if (out->integer <= kCap) out->integer = out->integer * 10 + (text[i] - '0');
    any_digit = true;
    ++i;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    out->has_fraction = true;
    int digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (digits < kMaxFractionDigits) {
        out->fraction = out->fraction * 10 + (text[i] - '0');
        out->scale *= 10;
        ++digits;
      }
      any_digit = true;
      ++i;
    }
  }
  if (!any_digit) return false;
  *pos = i;
  return true;
}

absl::Status DurationError(std::string_view text, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid duration \"", AbslView(text), "\": ", AbslView(what)));
}

absl::Status SizeError(std::string_view text, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid size \"", AbslView(text), "\": ", AbslView(what)));
}

constexpr std::string_view kDurationUnits = "ns, us (or µs), ms, s, m or h";
constexpr std::string_view kSizeUnits =
    "B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)";

// Nanoseconds per `unit`, or 0 when `unit` is not a duration unit.
int64_t DurationUnit(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" /* U+00B5 */ || unit == "\xCE\xBCs" /* U+03BC */) {
    return kNanosPerMicro;
  }
  if (unit == "ms") return kNanosPerMilli;
  if (unit == "s") return kNanosPerSecond;
  if (unit == "m") return kNanosPerMinute;
  if (unit == "h") return kNanosPerHour;
  return 0;
}

// Bytes per `unit`, or 0 when `unit` is not a size unit.
uint64_t SizeUnit(std::string_view unit) {
  if (unit == "B") return 1;
  if (unit == "KB" || unit == "kB") return 1'000;
  if (unit == "MB") return 1'000'000;
  if (unit == "GB") return 1'000'000'000;
  if (unit == "KiB") return 1ull << 10;
  if (unit == "MiB") return 1ull << 20;
  if (unit == "GiB") return 1ull << 30;
  return 0;
}

}  // namespace

absl::StatusOr<int64_t> ParseDuration(std::string_view input) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(AbslView(input));
  const std::string_view text(stripped.data(), stripped.size());
  if (text.empty()) return DurationError(input, "empty (write e.g. \"10s\")");
  if (text.front() == '-') return DurationError(input, "must not be negative");

  constexpr u128 kMax = std::numeric_limits<int64_t>::max();
  u128 total_ns = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    Decimal number;
    if (!ReadDecimal(text, &pos, &number)) {
      return DurationError(
          input, absl::StrCat("expected a number at \"", AbslView(text.substr(pos)), "\""));
    }
    const size_t unit_start = pos;
    while (pos < text.size() && !IsDigit(text[pos]) && text[pos] != '.') ++pos;
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      return DurationError(
          input, absl::StrCat("missing unit (use ", AbslView(kDurationUnits), ", e.g. \"10s\")"));
    }
    const int64_t unit_ns = DurationUnit(unit);
    if (unit_ns == 0) {
      return DurationError(input, absl::StrCat("unknown unit \"", AbslView(unit), "\" (use ",
                                               AbslView(kDurationUnits), ")"));
    }
    if (number.integer > kMax / static_cast<u128>(unit_ns)) {
      return DurationError(input, "too large");
    }
    total_ns += number.integer * static_cast<u128>(unit_ns);
    total_ns += number.fraction * static_cast<u128>(unit_ns) / number.scale;
    if (total_ns > kMax) return DurationError(input, "too large");
  }
  return static_cast<int64_t>(total_ns);
}

absl::StatusOr<uint64_t> ParseBytes(std::string_view input) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(AbslView(input));
  const std::string_view text(stripped.data(), stripped.size());
  if (text.empty()) return SizeError(input, "empty (write e.g. \"64MiB\")");
  if (text.front() == '-') return SizeError(input, "must not be negative");

  size_t pos = 0;
  Decimal number;
  if (!ReadDecimal(text, &pos, &number)) {
    return SizeError(input, absl::StrCat("expected a number, optionally followed by a unit (",
                                         AbslView(kSizeUnits), ")"));
  }
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const std::string_view unit = text.substr(pos);
  uint64_t unit_bytes = 1;
  if (!unit.empty()) {
    unit_bytes = SizeUnit(unit);
    if (unit_bytes == 0) {
      return SizeError(input, absl::StrCat("unknown unit \"", AbslView(unit), "\" (use ",
                                           AbslView(kSizeUnits), ")"));
    }
  }
  if (number.has_fraction && unit_bytes == 1) {
    return SizeError(input, "a number of bytes must be a whole number");
  }
  constexpr u128 kMax = std::numeric_limits<uint64_t>::max();
  if (number.integer > kMax / unit_bytes) return SizeError(input, "too large");
  const u128 total = number.integer * unit_bytes + number.fraction * unit_bytes / number.scale;
  if (total > kMax) return SizeError(input, "too large");
  return static_cast<uint64_t>(total);
}

namespace internal {

std::string FormatDuration(int64_t ns) {
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{kNanosPerHour, "h"},   {kNanosPerMinute, "m"},
                                    {kNanosPerSecond, "s"}, {kNanosPerMilli, "ms"},
                                    {kNanosPerMicro, "us"}, {1, "ns"}};
  if (ns == 0) return "0s";
  for (const Unit& unit : kUnits) {
    if (ns % unit.ns == 0) return absl::StrCat(ns / unit.ns, unit.name);
  }
  return absl::StrCat(ns, "ns");
}

}  // namespace internal
}  // namespace tailtrace::config
