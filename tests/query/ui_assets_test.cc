// The UI table compiled into this build (query/ui_assets.h). With TAILTRACE_BUILD_UI=ON: the real
// build of ui/ — an index.html whose every ./assets/ URL is in the table, served with its
// <base href> rewritten; with OFF: no files, and the query port says the UI was not built in.

#include "query/ui_assets.h"

#include <regex>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_port.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<QueryPort> PortUnder(std::string base_path) {
  QueryOptions options;
  options.base_path = std::move(base_path);
  absl::StatusOr<std::unique_ptr<QueryPort>> port =
      QueryPort::Create(options, EmbeddedUiAssets(),
                        [](const http::Request&, std::string_view) { return http::Response{}; });
  EXPECT_TRUE(port.ok()) << port.status();
  return port.ok() ? *std::move(port) : nullptr;
}

#if TAILTRACE_BUILD_UI

TEST(EmbeddedUiAssetsTest, IndexReferencesOnlyEmbeddedAssets) {
  std::set<std::string> paths;
  std::string index;
  for (const UiAsset& asset : EmbeddedUiAssets()) {
    paths.emplace(asset.path);
    if (asset.path == "index.html") index = std::string(asset.raw);
    EXPECT_FALSE(asset.content_type.empty()) << asset.path;
    EXPECT_THAT(std::string(asset.etag), ::testing::MatchesRegex("\"[0-9a-f]{32}\""));
  }
  ASSERT_FALSE(index.empty()) << "no index.html in the embedded table";
  EXPECT_EQ(index.find("<base href=\"/\" />"), index.rfind("<base href=\"/\" />"));
  const std::regex url(R"re((?:src|href)="\./(assets/[^"]+)")re");
  int referenced = 0;
  for (auto it = std::sregex_iterator(index.begin(), index.end(), url);
       it != std::sregex_iterator(); ++it) {
    EXPECT_TRUE(paths.contains((*it)[1].str())) << (*it)[1].str() << " is not embedded";
    ++referenced;
  }
  EXPECT_GT(referenced, 0) << index;
  EXPECT_THAT(index, HasSubstr("<script type=\"module\""));
}

TEST(EmbeddedUiAssetsTest, ServedWithTheBaseHrefRewritten) {
  std::unique_ptr<QueryPort> port = PortUnder("/tailtrace");
  const http::Response page = port->Handle(testing::Get("/tailtrace/trace/abc"));
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("<base href=\"/tailtrace/\" />"));
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr("<base href=\"/\" />")));
  for (const UiAsset& asset : EmbeddedUiAssets()) {
    const http::Response r = port->Handle(testing::Get("/tailtrace/" + std::string(asset.path)));
    EXPECT_EQ(r.status, 200) << asset.path;
    EXPECT_EQ(r.content_type, asset.content_type) << asset.path;
  }
}

#else

TEST(EmbeddedUiAssetsTest, NoneWithoutTheUiBuild) {
  EXPECT_TRUE(EmbeddedUiAssets().empty());
  const http::Response page = PortUnder("/")->Handle(testing::Get("/"));
  EXPECT_EQ(page.status, 404);
  EXPECT_THAT(page.body, HasSubstr("TAILTRACE_BUILD_UI=OFF"));
}

#endif

}  // namespace
}  // namespace tailtrace::query
