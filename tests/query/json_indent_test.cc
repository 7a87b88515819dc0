#include "query/json_indent_internal.h"

#include <gtest/gtest.h>

namespace tailtrace::query::internal {
namespace {

TEST(IndentJsonTest, OneMemberOrElementPerLineFourSpacesALevel) {
  EXPECT_EQ(IndentJson(R"({"data":[1,{"a":"b"}],"total":2})"),
            "{\n    \"data\": [\n        1,\n        {\n            \"a\": \"b\"\n        }\n"
            "    ],\n    \"total\": 2\n}");
}

TEST(IndentJsonTest, StringsAreCopiedAsTheyAre) {
  EXPECT_EQ(IndentJson(R"(["a, b: {c}","q\"[x]\\",""])"),
            "[\n    \"a, b: {c}\",\n    \"q\\\"[x]\\\\\",\n    \"\"\n]");
}

TEST(IndentJsonTest, EmptyContainersStayCompact) {
  EXPECT_EQ(IndentJson(R"({"data":[],"errors":null,"o":{}})"),
            "{\n    \"data\": [],\n    \"errors\": null,\n    \"o\": {}\n}");
  EXPECT_EQ(IndentJson("[]"), "[]");
  EXPECT_EQ(IndentJson(""), "");
}

TEST(IndentJsonTest, MalformedTextDoesNotCrash) {
  for (const char* text : {"}}]]", "{\"unterminated", "[[[", "\"\\"}) {
    EXPECT_FALSE(IndentJson(text).empty()) << text;
  }
}

}  // namespace
}  // namespace tailtrace::query::internal
