#include "query/json_buffer.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace::query {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string RapidjsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string BufferString(std::string_view s) {
  JsonBuffer b;
  b.String(s);
  return b.Release();
}

TEST(JsonBufferTest, EveryByteAloneIsEscapedLikeRapidjson) {
  for (int c = 0; c < 256; ++c) {
    const std::string s(1, static_cast<char>(c));
    EXPECT_EQ(BufferString(s), RapidjsonString(s)) << "byte " << c;
  }
}

TEST(JsonBufferTest, KnownEscapes) {
  EXPECT_EQ(BufferString(""), R"("")");
  EXPECT_EQ(BufferString("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(BufferString(std::string("\0\x1f\b\t\n\f\r\x0b", 8)),
            R"("\u0000\u001F\b\t\n\f\r\u000B")");
  EXPECT_EQ(BufferString("h\xc3\xa9llo \xe2\x82\xac \xff\x7f"),
            "\"h\xc3\xa9llo \xe2\x82\xac \xff\x7f\"");
}

TEST(JsonBufferTest, RandomStringsAroundBlockBoundariesMatchRapidjson) {
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    const size_t len = rng() % 40;
    std::string s;
    const bool sparse = rng() % 2 == 0;  // mostly plain text with an occasional special byte
    for (size_t j = 0; j < len; ++j) {
      if (sparse && rng() % 16 != 0) {
        s.push_back(static_cast<char>(0x20 + rng() % 95));
      } else {
        s.push_back(static_cast<char>(rng() % 256));
      }
    }
    ASSERT_EQ(BufferString(s), RapidjsonString(s)) << i;
  }
}

TEST(JsonBufferTest, SpecialByteAtEveryPositionOfABlock) {
  for (const char special : {'"', '\\', '\0', '\x1f', '\n'}) {
    for (size_t pos = 0; pos < 24; ++pos) {
      std::string s(24, 'x');
      s[pos] = special;
      ASSERT_EQ(BufferString(s), RapidjsonString(s)) << int(special) << " at " << pos;
    }
  }
  // Bytes just outside the escaped ranges are copied.
  const std::string edge = "\x20\x21\x23\x5b\x5d\x7f\x80\xa2\xdc\xff\x20\x21\x23\x5b\x5d\x7f";
  EXPECT_EQ(BufferString(edge), "\"" + edge + "\"");
}

TEST(JsonBufferTest, IntegersMatchRapidjson) {
  for (const uint64_t v : {uint64_t{0}, uint64_t{9}, uint64_t{10}, uint64_t{1'700'000'000'123'456},
                           std::numeric_limits<uint64_t>::max()}) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.Uint64(v);
    JsonBuffer b;
    b.Uint64(v);
    EXPECT_EQ(b.Release(), buf.GetString());
  }
  for (const int64_t v : {int64_t{0}, int64_t{-1}, int64_t{42}, std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max()}) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.Int64(v);
    JsonBuffer b;
    b.Int64(v);
    EXPECT_EQ(b.Release(), buf.GetString());
  }
}

TEST(JsonBufferTest, DoublesMatchRapidjson) {
  std::mt19937_64 rng(11);
  std::vector<double> values = {0.0,   -0.0,   1.0,      -1.5,
                                0.1,   1e21,   1e-7,     123456789.125,
                                1e300, 5e-324, 2.5e-308, std::numeric_limits<double>::max()};
  for (int i = 0; i < 5000; ++i) {
    double d;
    const uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) values.push_back(d);
  }
  for (const double d : values) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    ASSERT_TRUE(w.Double(d));
    JsonBuffer b;
    b.Double(d);
    ASSERT_EQ(b.Release(), buf.GetString()) << d;
  }
}

TEST(JsonBufferTest, HexStringIsLowerCase) {
  JsonBuffer b;
  b.HexString(std::string("\x00\x01\xab\xff", 4));
  b.HexString("");
  EXPECT_EQ(b.Release(), R"("0001abff""")");
}

TEST(JsonBufferTest, CloseReplacesTheTrailingSeparator) {
  JsonBuffer b;
  b.Char('[');
  b.Close(']');  // empty array
  b.Raw(",[1,2,");
  b.Close(']');
  b.Raw(",{");
  b.Close('}');
  EXPECT_EQ(b.Release(), "[],[1,2],{}");
}

TEST(JsonBufferTest, GrowsAcrossLargeWritesAndKeepsContent) {
  JsonBuffer b;
  std::string want;
  const std::string big(100'000, 'q');
  for (int i = 0; i < 30; ++i) {
    b.Raw("x");
    b.String(big);
    b.Uint64(static_cast<uint64_t>(i));
    want += "x\"" + big + "\"" + std::to_string(i);
  }
  EXPECT_EQ(b.size(), want.size());
  EXPECT_EQ(b.view(), want);
  EXPECT_EQ(b.Release(), want);
  EXPECT_EQ(b.size(), 0u);
  b.Raw("again");  // usable after Release
  EXPECT_EQ(b.Release(), "again");
}

TEST(JsonBufferTest, ClearKeepsNothing) {
  JsonBuffer b;
  b.Raw("abc");
  b.Clear();
  b.Raw("d");
  EXPECT_EQ(b.view(), "d");
}

}  // namespace
}  // namespace tailtrace::query
