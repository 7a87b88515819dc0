// ParseDuration and ParseBytes.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::config {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kUs = 1'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kM = 60 * kS;
constexpr int64_t kH = 60 * kM;

int64_t Duration(const std::string& text) {
  absl::StatusOr<int64_t> ns = ParseDuration(text);
  EXPECT_TRUE(ns.ok()) << text << ": " << ns.status();
  return ns.value_or(-1);
}

std::string DurationError(const std::string& text) {
  absl::StatusOr<int64_t> ns = ParseDuration(text);
  EXPECT_FALSE(ns.ok()) << text << " parsed as " << *ns;
  EXPECT_EQ(ns.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(ns.status().message());
}

uint64_t Bytes(const std::string& text) {
  absl::StatusOr<uint64_t> bytes = ParseBytes(text);
  EXPECT_TRUE(bytes.ok()) << text << ": " << bytes.status();
  return bytes.value_or(0);
}

std::string BytesError(const std::string& text) {
  absl::StatusOr<uint64_t> bytes = ParseBytes(text);
  EXPECT_FALSE(bytes.ok()) << text << " parsed as " << *bytes;
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(bytes.status().message());
}

TEST(ParseDurationTest, SingleUnits) {
  EXPECT_EQ(Duration("10s"), 10 * kS);
  EXPECT_EQ(Duration("250ms"), 250 * kMs);
  EXPECT_EQ(Duration("168h"), 168 * kH);
  EXPECT_EQ(Duration("100us"), 100 * kUs);
  EXPECT_EQ(Duration("100\xC2\xB5s"), 100 * kUs);  // U+00B5 MICRO SIGN
  EXPECT_EQ(Duration("100\xCE\xBCs"), 100 * kUs);  // U+03BC GREEK SMALL LETTER MU
  EXPECT_EQ(Duration("5ns"), 5);
  EXPECT_EQ(Duration("3m"), 3 * kM);
  EXPECT_EQ(Duration("0s"), 0);
}

TEST(ParseDurationTest, FractionsAndCompounds) {
  EXPECT_EQ(Duration("1.5h"), 90 * kM);
  EXPECT_EQ(Duration("0.5s"), 500 * kMs);
  EXPECT_EQ(Duration(".25s"), 250 * kMs);
  EXPECT_EQ(Duration("2.s"), 2 * kS);
  EXPECT_EQ(Duration("2m30s"), 150 * kS);
  EXPECT_EQ(Duration("1h2m3s4ms5us6ns"), kH + 2 * kM + 3 * kS + 4 * kMs + 5 * kUs + 6);
  EXPECT_EQ(Duration("0.1s"), 100 * kMs);  // exact, no floating-point rounding
  EXPECT_EQ(Duration("1.000000001s"), kS + 1);
  EXPECT_EQ(Duration("1.0000000019s"), kS + 1);  // below a nanosecond is cut off
  EXPECT_EQ(Duration("  10s\t"), 10 * kS);
}

TEST(ParseDurationTest, Limits) {
  EXPECT_EQ(Duration("9223372036854775807ns"), INT64_MAX);
  EXPECT_THAT(DurationError("9223372036854775808ns"), HasSubstr("too large"));
  EXPECT_THAT(DurationError("2562048h"), HasSubstr("too large"));
  EXPECT_THAT(DurationError("2562047h48m"), HasSubstr("too large"));
  EXPECT_EQ(Duration("2562047h"), 2562047 * kH);
  EXPECT_THAT(DurationError("99999999999999999999999999h"), HasSubstr("too large"));
}

TEST(ParseDurationTest, BareNumberNamesTheUnits) {
  EXPECT_EQ(DurationError("10"),
            "invalid duration \"10\": missing unit (use ns, us (or \xC2\xB5s), ms, s, m or h, "
            "e.g. \"10s\")");
  EXPECT_THAT(DurationError("0"), HasSubstr("missing unit"));
  EXPECT_THAT(DurationError("1m30"), HasSubstr("missing unit"));
}

TEST(ParseDurationTest, Errors) {
  EXPECT_EQ(DurationError("-5s"), "invalid duration \"-5s\": must not be negative");
  EXPECT_THAT(DurationError(""), HasSubstr("empty"));
  EXPECT_THAT(DurationError("   "), HasSubstr("empty"));
  EXPECT_EQ(DurationError("7d"),
            "invalid duration \"7d\": unknown unit \"d\" (use ns, us (or \xC2\xB5s), ms, s, m or "
            "h)");
  EXPECT_THAT(DurationError("7 days"), HasSubstr("unknown unit \" days\""));
  EXPECT_THAT(DurationError("10S"), HasSubstr("unknown unit \"S\""));
  EXPECT_THAT(DurationError("s"), HasSubstr("expected a number at \"s\""));
  EXPECT_THAT(DurationError(".s"), HasSubstr("expected a number"));
  EXPECT_THAT(DurationError("+5s"), HasSubstr("expected a number"));
  EXPECT_THAT(DurationError("1h 30m"), HasSubstr("unknown unit \"h \""));
  EXPECT_THAT(DurationError("1.5.5s"), HasSubstr("missing unit"));
}

TEST(ParseBytesTest, Units) {
  EXPECT_EQ(Bytes("1024"), 1024u);
  EXPECT_EQ(Bytes("0"), 0u);
  EXPECT_EQ(Bytes("7B"), 7u);
  EXPECT_EQ(Bytes("1KB"), 1000u);
  EXPECT_EQ(Bytes("1kB"), 1000u);
  EXPECT_EQ(Bytes("3MB"), 3'000'000u);
  EXPECT_EQ(Bytes("1GB"), 1'000'000'000u);
  EXPECT_EQ(Bytes("1KiB"), 1024u);
  EXPECT_EQ(Bytes("64MiB"), 64ull << 20);
  EXPECT_EQ(Bytes("512 MiB"), 512ull << 20);
  EXPECT_EQ(Bytes("2GiB"), 2ull << 30);
  EXPECT_EQ(Bytes(" 8 KiB "), 8192u);
}

TEST(ParseBytesTest, Fractions) {
  EXPECT_EQ(Bytes("1.5KiB"), 1536u);
  EXPECT_EQ(Bytes("0.5GB"), 500'000'000u);
  EXPECT_EQ(Bytes("0.1KiB"), 102u);  // rounded down to whole bytes
  EXPECT_THAT(BytesError("1.5"), HasSubstr("whole number"));
  EXPECT_THAT(BytesError("1.5B"), HasSubstr("whole number"));
}

TEST(ParseBytesTest, Limits) {
  EXPECT_EQ(Bytes("18446744073709551615"), UINT64_MAX);
  EXPECT_THAT(BytesError("18446744073709551616"), HasSubstr("too large"));
  EXPECT_THAT(BytesError("17179869184GiB"), HasSubstr("too large"));
  EXPECT_EQ(Bytes("17179869183GiB"), 17179869183ull << 30);
  EXPECT_THAT(BytesError("999999999999999999999999999"), HasSubstr("too large"));
}

TEST(ParseBytesTest, Errors) {
  EXPECT_EQ(BytesError("-1"), "invalid size \"-1\": must not be negative");
  EXPECT_THAT(BytesError(""), HasSubstr("empty"));
  EXPECT_EQ(BytesError("64 mb"),
            "invalid size \"64 mb\": unknown unit \"mb\" (use B, KB, MB, GB (powers of 1000) or "
            "KiB, MiB, GiB (powers of 1024))");
  EXPECT_THAT(BytesError("64MiBs"), HasSubstr("unknown unit \"MiBs\""));
  EXPECT_THAT(BytesError("1TB"), HasSubstr("unknown unit \"TB\""));
  EXPECT_THAT(BytesError("MiB"), HasSubstr("expected a number"));
  EXPECT_THAT(BytesError("abc"), HasSubstr("expected a number"));
  EXPECT_THAT(BytesError("0x10"), HasSubstr("unknown unit \"x10\""));
}

}  // namespace
}  // namespace tailtrace::config
