// The query section's UI keys: query.base_path (normalised, or an error naming the key and its
// line) and query.ui.enabled.

#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/options.h"
#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using test_util::Error;
using test_util::Parse;

std::string BasePathOf(const std::string& value) {
  return Parse("query:\n  base_path: " + value + "\n").query.base_path;
}

TEST(QueryConfigTest, Defaults) {
  const DaemonConfig c = Parse("query:\n  endpoint: localhost:16686\n");
  EXPECT_EQ(c.query.base_path, "/");
  EXPECT_TRUE(c.query.ui_enabled);
  EXPECT_EQ(Defaults().query.base_path, "/");
  EXPECT_TRUE(Defaults().query.ui_enabled);
}

TEST(QueryConfigTest, UiEnabled) {
  EXPECT_FALSE(Parse("query:\n  ui:\n    enabled: false\n").query.ui_enabled);
  EXPECT_TRUE(Parse("query:\n  ui: {enabled: true}\n").query.ui_enabled);
  EXPECT_TRUE(Parse("query:\n  ui: {}\n").query.ui_enabled);
}

TEST(QueryConfigTest, BasePathIsNormalisedWithoutTrailingSlash) {
  EXPECT_EQ(BasePathOf("/"), "/");
  EXPECT_EQ(BasePathOf("//"), "/");
  EXPECT_EQ(BasePathOf("/tailtrace"), "/tailtrace");
  EXPECT_EQ(BasePathOf("/tailtrace/"), "/tailtrace");
  EXPECT_EQ(BasePathOf("/a/b.c/"), "/a/b.c");
  EXPECT_EQ(BasePathOf("\"/x-y_z~1/@:+,;=!$()*//\""), "/x-y_z~1/@:+,;=!$()*");
}

TEST(QueryConfigTest, BasePathErrorsNameTheKeyAndLine) {
  EXPECT_EQ(Error("query:\n  base_path: tailtrace\n"),
            "test.yaml:2: query.base_path: invalid base path \"tailtrace\": it must start with "
            "\"/\", e.g. \"/tailtrace\"");
  EXPECT_EQ(Error("query:\n  endpoint: localhost:1\n  base_path: /a//b\n"),
            "test.yaml:3: query.base_path: invalid base path \"/a//b\": it has an empty segment "
            "(\"//\")");
  EXPECT_EQ(Error("query:\n  base_path: /a/../b\n"),
            "test.yaml:2: query.base_path: invalid base path \"/a/../b\": it has a \"..\" "
            "segment");
  EXPECT_EQ(Error("query:\n  base_path: /./b\n"),
            "test.yaml:2: query.base_path: invalid base path \"/./b\": it has a \".\" segment");
  EXPECT_EQ(Error("query:\n  base_path: \"\"\n"),
            "test.yaml:2: query.base_path: must not be empty");
}

// Every character that would need escaping in <base href="..."> or percent-encoding in a URL
// path is refused, naming it.
TEST(QueryConfigTest, BasePathRefusesCharactersOutsideAUrlPath) {
  const std::string allowed =
      "letters, digits and - . _ ~ ! $ ( ) * + , ; = : @ between the \"/\"s";
  EXPECT_EQ(Error("query:\n  base_path: \"/a\\\"b\"\n"),
            "test.yaml:2: query.base_path: invalid base path \"/a\"b\": \"\"\" is not allowed; "
            "use " +
                allowed);
  EXPECT_EQ(Error("query:\n  base_path: \"/a b\"\n"),
            "test.yaml:2: query.base_path: invalid base path \"/a b\": a space is not allowed; "
            "use " +
                allowed);
  EXPECT_EQ(Error("query:\n  base_path: \"/\\u00e9\"\n"),
            "test.yaml:2: query.base_path: invalid base path \"/\xc3\xa9\": byte 0xc3 is not "
            "allowed; use " +
                allowed);
  for (const std::string bad : {"<", ">", "'", "&", "?", "#", "%", "\\\\", "`", "{", "|", "^"}) {
    EXPECT_THAT(Error("query:\n  base_path: \"/a" + bad + "\"\n"),
                ::testing::HasSubstr("test.yaml:2: query.base_path: invalid base path"))
        << bad;
  }
}

TEST(QueryConfigTest, UnknownUiKey) {
  EXPECT_EQ(Error("query:\n  ui:\n    enable: false\n"),
            "test.yaml:3: query.ui.enable: unknown key (did you mean \"enabled\"?)");
}

// The rule itself, as the query port applies it to options given without the config.
TEST(NormalizeBasePathTest, IsTheConfigsRule) {
  EXPECT_EQ(*query::NormalizeBasePath("/p/"), "/p");
  EXPECT_FALSE(query::NormalizeBasePath("p").ok());
  EXPECT_FALSE(query::NormalizeBasePath("").ok());
}

}  // namespace
}  // namespace tailtrace::config
