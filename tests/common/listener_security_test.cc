// Token files, constant-time compare and CORS origin matching.

#include "common/listener_security.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace tailtrace::security {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class TokenFile {
 public:
  TokenFile() {
    char tmpl[] = "/tmp/tailtrace-tokens-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ::close(fd);
    path_ = tmpl;
  }
  ~TokenFile() { std::remove(path_.c_str()); }
  void Write(const std::string& text) {
    const std::string tmp = path_ + ".new";
    std::ofstream(tmp, std::ios::trunc) << text;
    std::rename(tmp.c_str(), path_.c_str());  // a new inode: a change even within one mtime tick
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(TokenFileTest, ParsesOneTokenPerLine) {
  EXPECT_THAT(ParseTokenFile("# tokens\n\n  abc  \r\n#x\ndef\n\n"), ElementsAre("abc", "def"));
  EXPECT_TRUE(ParseTokenFile("").empty());
}

TEST(TokenFileTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(BearerTokensTest, ChecksTheHeaderAndReloadsOnChange) {
  TokenFile file;
  file.Write("one\ntwo\n");
  auto tokens = BearerTokens::Create(file.path());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  BearerTokens& t = **tokens;
  EXPECT_TRUE(t.Check("Bearer one"));
  EXPECT_TRUE(t.Check("bearer two"));
  EXPECT_FALSE(t.Check("Bearer three"));
  EXPECT_FALSE(t.Check("one"));
  EXPECT_FALSE(t.Check("Basic one"));
  EXPECT_FALSE(t.Check("Bearer "));
  EXPECT_FALSE(t.Check(""));
  file.Write("three\n");
  EXPECT_TRUE(t.Check("Bearer three"));
  EXPECT_FALSE(t.Check("Bearer one"));
  // An emptied or removed file keeps the last tokens.
  file.Write("# none\n");
  EXPECT_TRUE(t.Check("Bearer three"));
  std::remove(file.path().c_str());
  EXPECT_TRUE(t.Check("Bearer three"));
}

TEST(BearerTokensTest, StartupErrorsNameThePath) {
  auto missing = BearerTokens::Create("/nonexistent/tokens");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("\"/nonexistent/tokens\""));
  TokenFile file;
  file.Write("# only a comment\n");
  auto empty = BearerTokens::Create(file.path());
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("holds no token"));
}

TEST(CorsTest, OriginMatching) {
  const std::vector<std::string> allowed = {"https://*.example.com", "http://localhost:3000"};
  EXPECT_TRUE(OriginAllowed("https://app.example.com", allowed));
  EXPECT_TRUE(OriginAllowed("https://a.b.example.com", allowed));
  EXPECT_TRUE(OriginAllowed("HTTP://LOCALHOST:3000", allowed));
  EXPECT_FALSE(OriginAllowed("https://example.com", allowed));
  EXPECT_FALSE(OriginAllowed("https://example.com.evil.org", allowed));
  EXPECT_FALSE(OriginAllowed("http://app.example.com", allowed));
  EXPECT_FALSE(OriginAllowed("http://localhost:3001", allowed));
  EXPECT_FALSE(OriginAllowed("", allowed));
  EXPECT_TRUE(OriginAllowed("https://anything", {"*"}));
  EXPECT_FALSE(OriginAllowed("https://anything", {}));
}

}  // namespace
}  // namespace tailtrace::security
