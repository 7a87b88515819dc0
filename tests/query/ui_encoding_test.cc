// What the build tool records for each file of the UI (query/ui_encoding_internal.h).

#include "query/ui_encoding_internal.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query::internal {
namespace {

TEST(UiContentTypeTest, ByExtension) {
  EXPECT_EQ(UiContentType("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(UiContentType("assets/index-BD7e_h4s.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(UiContentType("assets/worker.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(UiContentType("assets/index-95RDyomO.css"), "text/css; charset=utf-8");
  EXPECT_EQ(UiContentType("assets/logo.svg"), "image/svg+xml");
  EXPECT_EQ(UiContentType("assets/logo.PNG"), "image/png");
  EXPECT_EQ(UiContentType("favicon.ico"), "image/x-icon");
  EXPECT_EQ(UiContentType("manifest.json"), "application/json");
  EXPECT_EQ(UiContentType("assets/inter.woff2"), "font/woff2");
  EXPECT_EQ(UiContentType("assets/index.js.map"), "application/json");
  EXPECT_EQ(UiContentType("robots.txt"), "text/plain; charset=utf-8");
  for (const std::string other : {"README", "assets/x.bin", ".js", "assets.js/file", "a."}) {
    EXPECT_EQ(UiContentType(other), "application/octet-stream") << other;
  }
}

TEST(UiGzipTest, CompressesWhenItPays) {
  const std::string text(4000, 'a');
  const std::string gzip = UiGzip(text);
  ASSERT_FALSE(gzip.empty());
  EXPECT_LT(gzip.size(), 100u);
  EXPECT_EQ(testing::Gunzip(gzip), text);
  // Bytes that do not compress keep no gzip form.
  EXPECT_EQ(UiGzip("\x89PNG"), "");
  EXPECT_EQ(UiGzip(""), "");
}

TEST(UiEtagTest, StrongAndContentDerived) {
  const std::string etag = UiEtag("hello");
  // SHA-256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
  EXPECT_EQ(etag, "\"2cf24dba5fb0a30e26e83b2ac5b9e29e\"");
  EXPECT_NE(UiEtag("hello!"), etag);
}

}  // namespace
}  // namespace tailtrace::query::internal
