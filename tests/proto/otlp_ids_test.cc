#include "proto/otlp_ids.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace {
namespace {

using ::testing::HasSubstr;

TEST(OtlpIdsTest, HexEncodeIsLowerCase) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xCD\xff", 5)), "0001abcdff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(OtlpIdsTest, HexDecodeIsCaseInsensitive) {
  const std::string want("\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
  EXPECT_EQ(*HexDecode("0123456789abcdef", 8), want);
  EXPECT_EQ(*HexDecode("0123456789ABCDEF", 8), want);
  EXPECT_EQ(*HexDecode("0123456789AbCdEf", 8), want);
}

TEST(OtlpIdsTest, HexDecodeRejectsWrongLength) {
  auto r = HexDecode("0123456789abcde", 8);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("expected 16 hex digits, got 15"));
  EXPECT_FALSE(HexDecode("0123456789abcdef00", 8).ok());
  EXPECT_FALSE(HexDecode("", 8).ok());
}

TEST(OtlpIdsTest, HexDecodeRejectsInvalidDigit) {
  auto r = HexDecode("0123456789abcdeg", 8);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("invalid hex digit"));
  EXPECT_FALSE(HexDecode("01234567 9abcdef", 8).ok());
}

TEST(OtlpIdsTest, HexDecodeAllowShortPadsOnTheLeft) {
  auto r = HexDecode("abc", 8, /*allow_short=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, std::string("\x00\x00\x00\x00\x00\x00\x0a\xbc", 8));
  // A Jaeger 64-bit trace ID becomes the low half of a 128-bit one.
  auto t = HexDecode("0123456789ABCDEF", kTraceIdBytes, true);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(HexEncode(*t), "00000000000000000123456789abcdef");
  // Without allow_short the same input is an error; too long or empty stays an error.
  EXPECT_FALSE(HexDecode("abc", 8).ok());
  EXPECT_FALSE(HexDecode("", 8, true).ok());
  EXPECT_FALSE(HexDecode("0123456789abcdef0", 8, true).ok());
  EXPECT_FALSE(HexDecode("xyz", 8, true).ok());
}

TEST(OtlpIdsTest, Validity) {
  EXPECT_TRUE(IsValidTraceId(std::string(15, '\0') + "\x01"));
  EXPECT_FALSE(IsValidTraceId(std::string(16, '\0')));
  EXPECT_FALSE(IsValidTraceId(std::string(8, '\x01')));
  EXPECT_TRUE(IsValidSpanId(std::string(8, '\x01')));
  EXPECT_FALSE(IsValidSpanId(std::string(8, '\0')));
  EXPECT_FALSE(IsValidSpanId(std::string(16, '\x01')));
  EXPECT_FALSE(IsValidSpanId(""));
}

TEST(OtlpIdsTest, TraceIdValueType) {
  const std::string raw = *HexDecode("0102030405060708090a0b0c0d0e0f10", kTraceIdBytes);
  const TraceId id = TraceId::FromBytes(raw);
  EXPECT_EQ(id.view(), raw);
  EXPECT_EQ(id.Hex(), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(id.Low64(), 0x090a0b0c0d0e0f10ULL);
  TraceId other = id;
  EXPECT_EQ(id, other);
  other.bytes[0] = 0xff;
  EXPECT_NE(id, other);
  EXPECT_LT(id, other);
  absl::flat_hash_set<TraceId> set = {id, other, id};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace tailtrace
