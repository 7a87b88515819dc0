// The hardened JSON parsing of untrusted bytes (proto/json_document.h, proto/utf8.h) and the
// inputs that crashed or fooled rapidjson 1.1.0's full-precision and encoding-validation paths,
// through the OTLP/JSON decoder that the HTTP receiver runs.

#include "proto/json_document.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/otlp_json.h"
#include "tests/proto/otlp_json_test_util.h"

namespace tailtrace::json {
namespace {

using namespace otlp_json::test_util;  // NOLINT(build/namespaces)
using ::testing::HasSubstr;

// The long number that crashed rapidjson's full-precision parser (SIGSEGV).
constexpr char kLongNumber[] = "128.74836467836484838364836483643636483648e-336";

double DoubleValue(const std::string& number) {
  return FirstValue(MustParse(OneValue(R"({"doubleValue":)" + number + "}"))).double_value();
}

int64_t IntValue(const std::string& number) {
  return FirstValue(MustParse(OneValue(R"({"intValue":)" + number + "}"))).int_value();
}

TEST(JsonRegressionTest, ZeroWithAnyExponentIsZero) {
  EXPECT_EQ(DoubleValue("0e111"), 0.0);  // rapidjson 1.1.0: 5.2e92
  EXPECT_EQ(DoubleValue("0e400"), 0.0);  // rapidjson 1.1.0: "Number too big"
  EXPECT_EQ(DoubleValue("0E+99999999999"), 0.0);
  EXPECT_EQ(DoubleValue("0.000e-400"), 0.0);
  EXPECT_TRUE(std::signbit(DoubleValue("-0e400")));
  EXPECT_EQ(IntValue("0e111"), 0);
  EXPECT_EQ(IntValue("0e400"), 0);
}

TEST(JsonRegressionTest, LongNumberParsesToTheCorrectlyRoundedDouble) {
  // 1.287...e-334 is below the smallest subnormal (4.9e-324): exactly 0.
  EXPECT_EQ(DoubleValue(kLongNumber), 0.0);
  for (const char* n : {"128.74836467836484838364836483643636483648e-300",
                        "128.74836467836484838364836483643636483648e-320",
                        "2.2250738585072011e-308", "4.9406564584124654e-324",
                        "1.7976931348623157e308", "0.1", "123456789012345678901234567890"}) {
    EXPECT_EQ(DoubleValue(n), std::strtod(n, nullptr)) << n;
  }
  // A finite value written with a huge exponent or a very long integer part.
  EXPECT_EQ(DoubleValue("0.0001e312"), 1e308);
  EXPECT_EQ(DoubleValue("1" + std::string(400, '0') + "e-100"), 1e300);
  EXPECT_EQ(DoubleValue("100000000000000000000"), 1e20);
}

TEST(JsonRegressionTest, OutOfRangeNumbersAreRefusedWithTheirPosition) {
  absl::Status st = ParseError(R"({"a":1e400})");
  EXPECT_EQ(std::string(st.message()),
            "invalid JSON at byte offset 5: Number too big to be stored in double.");
  st = ParseError(R"({"a":)" + std::string(400, '9') + "}");
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("invalid JSON at byte offset 5: Number too big"));
  EXPECT_EQ(DoubleValue("1e-400"), 0.0);
  EXPECT_TRUE(std::signbit(DoubleValue("-1e-400")));
}

TEST(JsonRegressionTest, BodyEndingOnAUtf8LeadByteIsRefusedNamingThePosition) {
  for (const char* lead : {"\xf0", "\xe2", "\xc3", "\xf0\x9f", "\xf0\x9f\x98"}) {
    const absl::Status st = ParseError(std::string("{\"a\":\"") + lead);
    EXPECT_EQ(std::string(st.message()), "invalid JSON at byte offset 6: invalid UTF-8 encoding")
        << lead;
  }
  const absl::Status st = ParseError("{\"a\":\"x\xf0\"}");
  EXPECT_EQ(std::string(st.message()), "invalid JSON at byte offset 7: invalid UTF-8 encoding");
}

// Found by the otlp_json fuzz harness: a quoted enum name holding a lone surrogate escape.
TEST(JsonRegressionTest, ErrorMessagesStayValidUtf8) {
  const absl::Status st = ParseError(OneSpan(R"("kind":"SPAN_\ude00")"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].kind: unknown enum value \"SPAN_\\xed\\xb8\\x80\""));
  EXPECT_EQ(FindInvalidUtf8(std::string(st.message())), std::string_view::npos);
}

TEST(JsonDocumentTest, TellsNumbersFromStrings) {
  Document doc;
  ASSERT_TRUE(doc.Parse(R"({"n":-12,"s":"-12","e":"","z":0e400,"k":[1,"1"]})").ok());
  const Value& r = doc.root();
  EXPECT_TRUE(doc.IsNumber(r["n"]));
  EXPECT_EQ(doc.NumberText(r["n"]), "-12");
  EXPECT_TRUE(doc.IsString(r["s"]));
  EXPECT_TRUE(doc.IsString(r["e"]));
  EXPECT_TRUE(doc.IsNumber(r["z"]));
  EXPECT_EQ(doc.NumberText(r["z"]), "0e400");  // the input's text, though it was rewritten
  EXPECT_TRUE(doc.IsNumber(r["k"][0]));
  EXPECT_TRUE(doc.IsString(r["k"][1]));
  EXPECT_STREQ(doc.TypeName(r["k"][0]), "number");
  EXPECT_STREQ(doc.TypeName(r["k"][1]), "string");
  ASSERT_TRUE(doc.Parse("7").ok());  // a number at offset 0
  EXPECT_TRUE(doc.IsNumber(doc.root()));
  ASSERT_TRUE(doc.Parse(R"("7")").ok());
  EXPECT_TRUE(doc.IsString(doc.root()));
}

TEST(JsonDocumentTest, OnlyNumbersOutsideStringsAreRewritten) {
  Document doc;
  // An escaped quote does not end a string; an escaped backslash before a quote does.
  ASSERT_TRUE(doc.Parse(R"({"a\"0e400":"1e400\\","b\\":0e400})").ok());
  EXPECT_EQ(doc.StringView(doc.root().MemberBegin()->name), "a\"0e400");
  EXPECT_EQ(doc.StringView(doc.root().MemberBegin()->value), "1e400\\");
  EXPECT_EQ(doc.NumberText(doc.root()["b\\"]), "0e400");
  EXPECT_EQ(NumberToDouble(doc.StringView(doc.root()["b\\"])), 0.0);
}

TEST(JsonDocumentTest, ExactConversions) {
  EXPECT_EQ(NumberToInt64("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(NumberToInt64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(NumberToUint64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(NumberToInt64("1e3"), std::nullopt);
  EXPECT_EQ(NumberToDouble("1e3"), 1000.0);
  EXPECT_EQ(NumberToDouble("1e309"), std::nullopt);
  EXPECT_EQ(NumberToDouble("01"), std::nullopt);  // not a JSON number
  EXPECT_EQ(NumberToDouble("1."), std::nullopt);
  EXPECT_EQ(NumberToDouble(""), std::nullopt);
}

TEST(Utf8Test, FindsTheFirstInvalidByte) {
  EXPECT_EQ(FindInvalidUtf8("plain ascii text, longer than eight"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("abc\xff"), 3u);
  EXPECT_EQ(FindInvalidUtf8("abcdefghij\xc0\xaf"), 10u);  // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("\xed\xa0\x80"), 0u);         // surrogate
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80"), 0u);     // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("x\xe2\x82"), 1u);            // truncated
  EXPECT_EQ(FindInvalidUtf8("\x80"), 0u);                 // lone continuation byte
}

TEST(Utf8Test, SanitizeEscapesOnlyInvalidBytes) {
  EXPECT_EQ(SanitizeUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(SanitizeUtf8("a\xff"
                         "b\xf0\x9f"),
            "a\\xffb\\xf0\\x9f");
  EXPECT_EQ(FindInvalidUtf8(SanitizeUtf8("\xed\xa0\x80\xc3")), std::string_view::npos);
}

}  // namespace
}  // namespace tailtrace::json
