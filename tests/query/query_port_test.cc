// The query port (query/query_port.h) over a hand-made asset table: the UI's files (content
// types, gzip by Accept-Encoding, ETag and 304, cache and security headers, the single-page app's
// deep links), the base path in front of the UI and the API, and a UI turned off or not built.

#include "query/query_port.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "query/query_service.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/query/query_test_util.h"

namespace tailtrace::query {
namespace {

using testing::Get;
using testing::Gunzip;
using ::testing::HasSubstr;

constexpr std::string_view kIndexHtml =
    "<!doctype html><html><head><base href=\"/\" />"
    "<script type=\"module\" crossorigin src=\"./assets/app-1a2b.js\"></script></head>"
    "<body><div id=\"app\"></div></body></html>";
constexpr std::string_view kJs = "console.log('tailtrace');";
constexpr std::string_view kJsGzip = "gzip bytes of the script";

// One file per content type the UI's build may hold; only the script has a gzip form.
constexpr UiAsset kAssets[] = {
    {"assets/app-1a2b.js", "text/javascript; charset=utf-8", kJs, kJsGzip, "\"js-etag\""},
    {"assets/app-1a2b.js.map", "application/json", "{\"version\":3}", {}, "\"map-etag\""},
    {"assets/font-9f.woff2", "font/woff2", "wOF2", {}, "\"woff2-etag\""},
    {"assets/logo-3c.png", "image/png", "\x89PNG", {}, "\"png-etag\""},
    {"assets/logo-4d.svg", "image/svg+xml", "<svg/>", {}, "\"svg-etag\""},
    {"assets/style-5e.css", "text/css; charset=utf-8", "body{}", {}, "\"css-etag\""},
    {"favicon.ico", "image/x-icon", "ICO", {}, "\"ico-etag\""},
    {"index.html", "text/html; charset=utf-8", kIndexHtml, "stale gzip", "\"stale-etag\""},
    {"manifest.json", "application/json", "{}", {}, "\"json-etag\""},
    {"robots.txt", "text/plain; charset=utf-8", "User-agent: *", {}, "\"txt-etag\""},
};

std::string HeaderOf(const http::Response& r, std::string_view name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return "";
}

http::Request WithHeader(http::Request r, std::string name, std::string value) {
  r.headers.emplace_back(std::move(name), std::move(value));
  return r;
}

// kIndexHtml as served under `base_path`.
std::string IndexUnder(std::string_view href) {
  std::string html(kIndexHtml);
  html.replace(html.find("<base href=\"/\" />"), 17, "<base href=\"" + std::string(href) + "\" />");
  return html;
}

class QueryPortTest : public ::testing::Test {
 protected:
  // A port over kAssets whose API handler records the path it was given.
  std::unique_ptr<QueryPort> MakePort(std::string base_path = "/", bool ui_enabled = true,
                                      std::span<const UiAsset> assets = kAssets) {
    QueryOptions options;
    options.base_path = std::move(base_path);
    options.ui_enabled = ui_enabled;
    absl::StatusOr<std::unique_ptr<QueryPort>> port =
        QueryPort::Create(options, assets, [this](const http::Request&, std::string_view path) {
          api_paths_.emplace_back(path);
          http::Response r;
          r.body = "api";
          return r;
        });
    EXPECT_TRUE(port.ok()) << port.status();
    return port.ok() ? *std::move(port) : nullptr;
  }

  std::vector<std::string> api_paths_;
};

TEST_F(QueryPortTest, ServesEachFileWithItsContentType) {
  std::unique_ptr<QueryPort> port = MakePort();
  for (const UiAsset& asset : kAssets) {
    std::string path = "/";
    path += asset.path;
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(r.status, 200) << asset.path;
    EXPECT_EQ(r.content_type, asset.content_type) << asset.path;
    if (asset.path != "index.html") {
      EXPECT_EQ(r.body, asset.raw) << asset.path;
    }
  }
  EXPECT_TRUE(api_paths_.empty());
}

TEST_F(QueryPortTest, GzipOnlyWhenAcceptEncodingAllowsIt) {
  std::unique_ptr<QueryPort> port = MakePort();
  const http::Request get = Get("/assets/app-1a2b.js");
  for (const std::string accept :
       {"gzip", "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "*", "x-gzip", "identity, gzip;q=1"}) {
    const http::Response r = port->Handle(WithHeader(get, "accept-encoding", accept));
    EXPECT_EQ(r.body, kJsGzip) << accept;
    EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "gzip") << accept;
    EXPECT_EQ(HeaderOf(r, "Vary"), "Accept-Encoding") << accept;
  }
  for (const std::string accept :
       {"", "identity", "deflate, br", "gzip;q=0", "gzip;q=0.000, *", "*;q=0", "br, *;q=0"}) {
    const http::Response r = port->Handle(WithHeader(get, "accept-encoding", accept));
    EXPECT_EQ(r.body, kJs) << accept;
    EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "") << accept;
    EXPECT_EQ(HeaderOf(r, "Vary"), "Accept-Encoding") << accept;
  }
  // A file without a gzip form (e.g. an image) is sent as is.
  const http::Response png =
      port->Handle(WithHeader(Get("/assets/logo-3c.png"), "accept-encoding", "gzip"));
  EXPECT_EQ(png.body, "\x89PNG");
  EXPECT_EQ(HeaderOf(png, "Content-Encoding"), "");
}

TEST_F(QueryPortTest, EtagAndNotModified) {
  std::unique_ptr<QueryPort> port = MakePort();
  const http::Request get = Get("/assets/app-1a2b.js");
  const http::Response raw = port->Handle(get);
  EXPECT_EQ(HeaderOf(raw, "ETag"), "\"js-etag\"");
  const http::Response gzip = port->Handle(WithHeader(get, "accept-encoding", "gzip"));
  EXPECT_EQ(HeaderOf(gzip, "ETag"), "\"js-etag-gzip\"");

  for (const std::string tag :
       {"\"js-etag\"", "W/\"js-etag\"", "\"other\", \"js-etag\"", "*", "\"js-etag-gzip\""}) {
    const http::Response r = port->Handle(WithHeader(get, "if-none-match", tag));
    EXPECT_EQ(r.status, 304) << tag;
    EXPECT_EQ(r.body, "") << tag;
    EXPECT_EQ(r.content_type, "") << tag;
    EXPECT_EQ(HeaderOf(r, "ETag"), "\"js-etag\"") << tag;
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "public, max-age=31536000, immutable") << tag;
    EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "") << tag;
  }
  const http::Response changed = port->Handle(WithHeader(get, "if-none-match", "\"png-etag\""));
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, kJs);
}

TEST_F(QueryPortTest, HashedAssetsAreImmutableAndTheRestRevalidated) {
  std::unique_ptr<QueryPort> port = MakePort();
  for (const std::string path : {"/assets/app-1a2b.js", "/assets/style-5e.css"}) {
    EXPECT_EQ(HeaderOf(port->Handle(Get(path)), "Cache-Control"),
              "public, max-age=31536000, immutable")
        << path;
  }
  for (const std::string path : {"/", "/index.html", "/favicon.ico", "/trace/abc"}) {
    EXPECT_EQ(HeaderOf(port->Handle(Get(path)), "Cache-Control"), "no-cache") << path;
  }
}

TEST_F(QueryPortTest, DeepLinksServeIndexWithTheBaseHref) {
  std::unique_ptr<QueryPort> port = MakePort();
  for (const std::string path : {"/", "/index.html", "/search", "/services", "/search/",
                                 "/trace/0af7651916cd43dd8448eb211c80319c", "/assets"}) {
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << path;
    EXPECT_EQ(r.body, IndexUnder("/")) << path;
  }
  // The index is compressed and validated as served (the table's gzip and ETag are of the file
  // before its rewrite).
  const http::Response gzip = port->Handle(WithHeader(Get("/"), "accept-encoding", "gzip"));
  EXPECT_EQ(HeaderOf(gzip, "Content-Encoding"), "gzip");
  EXPECT_EQ(Gunzip(gzip.body), IndexUnder("/"));
  const std::string etag = HeaderOf(port->Handle(Get("/search")), "ETag");
  EXPECT_THAT(etag, ::testing::MatchesRegex("\"[0-9a-f]{32}\""));
  EXPECT_EQ(port->Handle(WithHeader(Get("/trace/x"), "if-none-match", etag)).status, 304);
  EXPECT_EQ(port->Handle(WithHeader(Get("/"), "if-none-match", "\"stale-etag\"")).status, 200);
}

TEST_F(QueryPortTest, UnknownAssetIs404) {
  std::unique_ptr<QueryPort> port = MakePort();
  for (const std::string path : {"/assets/app-0000.js", "/assets/", "/assets/x/y.css"}) {
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.body, HasSubstr("no such file of the UI")) << path;
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff") << path;
  }
}

TEST_F(QueryPortTest, SecurityHeadersOnEveryUiAnswer) {
  std::unique_ptr<QueryPort> port = MakePort();
  for (const std::string path : {"/", "/assets/app-1a2b.js", "/trace/abc", "/assets/nope.js"}) {
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer") << path;
    const std::string csp = HeaderOf(r, "Content-Security-Policy");
    EXPECT_THAT(csp, HasSubstr("default-src 'self'")) << path;
    EXPECT_THAT(csp, HasSubstr("script-src 'self';")) << path;
    EXPECT_THAT(csp, HasSubstr("connect-src 'self';")) << path;
    EXPECT_THAT(csp, HasSubstr("style-src 'self' 'unsafe-inline';")) << path;
    EXPECT_THAT(csp, HasSubstr("img-src 'self' data:;")) << path;
    EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'")) << path;
  }
  // The API's answers are the API's own.
  EXPECT_EQ(HeaderOf(port->Handle(Get("/api/services")), "Content-Security-Policy"), "");
}

// HEAD is answered as GET (the HTTP server sends the headers and Content-Length, not the body).
TEST_F(QueryPortTest, HeadAsGet) {
  std::unique_ptr<QueryPort> port = MakePort();
  for (const std::string path : {"/", "/assets/app-1a2b.js", "/trace/abc", "/assets/nope.js"}) {
    http::Request head = Get(path);
    head.method = "HEAD";
    const http::Response h = port->Handle(head);
    const http::Response g = port->Handle(Get(path));
    EXPECT_EQ(h.status, g.status) << path;
    EXPECT_EQ(h.content_type, g.content_type) << path;
    EXPECT_EQ(h.headers, g.headers) << path;
    EXPECT_EQ(h.body.size(), g.body.size()) << path;
  }
  http::Request post = Get("/search");
  post.method = "POST";
  const http::Response r = port->Handle(post);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
}

TEST_F(QueryPortTest, BasePathPrefixesTheUiAndTheApi) {
  std::unique_ptr<QueryPort> port = MakePort("/tailtrace/ui");
  for (const std::string path : {"/tailtrace/ui/", "/tailtrace/ui/search",
                                 "/tailtrace/ui/trace/abc", "/tailtrace/ui/index.html"}) {
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, IndexUnder("/tailtrace/ui/")) << path;
  }
  EXPECT_EQ(port->Handle(Get("/tailtrace/ui/assets/app-1a2b.js")).body, kJs);
  EXPECT_EQ(port->Handle(Get("/tailtrace/ui/assets/nope.js")).status, 404);

  EXPECT_EQ(port->Handle(Get("/tailtrace/ui/api/services")).body, "api");
  EXPECT_EQ(port->Handle(Get("/tailtrace/ui/api/v3/traces/abc")).body, "api");
  EXPECT_EQ(port->Handle(Get("/tailtrace/ui/api")).body, "api");
  EXPECT_EQ(api_paths_, (std::vector<std::string>{"/api/services", "/api/v3/traces/abc", "/api"}));
}

TEST_F(QueryPortTest, BasePathWithoutSlashRedirects) {
  std::unique_ptr<QueryPort> port = MakePort("/p");
  http::Response r = port->Handle(Get("/p"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(HeaderOf(r, "Location"), "/p/");
  http::Request with_query = Get("/p");
  with_query.target = "/p?service=a&x=1";
  EXPECT_EQ(HeaderOf(port->Handle(with_query), "Location"), "/p/?service=a&x=1");
}

TEST_F(QueryPortTest, PathsOutsideTheBasePathAre404NamingIt) {
  std::unique_ptr<QueryPort> port = MakePort("/p");
  for (const std::string path : {"/", "/api/services", "/pp/", "/pp", "/search", "/x/p/"}) {
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.body, HasSubstr("outside the base path /p (query.base_path)")) << path;
    EXPECT_THAT(r.body, HasSubstr("the UI is at /p/ and the API at /p/api/")) << path;
  }
  EXPECT_TRUE(api_paths_.empty());
}

// Base path "/" keeps today's paths: the API under /api as before.
TEST_F(QueryPortTest, DefaultBasePathKeepsTheApiPaths) {
  storage::InMemoryTraceStore store;
  FakeClock clock(0);
  QueryService service(&store, &clock);
  for (const std::string base : {"/", "/p"}) {
    QueryOptions options;
    options.base_path = base;
    absl::StatusOr<std::unique_ptr<QueryPort>> port = QueryPort::Create(
        options, kAssets, [&service](const http::Request& r, std::string_view path) {
          return service.Handle(r, path);
        });
    ASSERT_TRUE(port.ok()) << port.status();
    const std::string prefix = base == "/" ? "" : base;
    for (const std::string path : {"/api/services", "/api/v3/services", "/api/services/"}) {
      const http::Response r = (*port)->Handle(Get(prefix + path));
      EXPECT_EQ(r.status, 200) << prefix + path;
      EXPECT_EQ(r.body, service.Handle(Get(path)).body) << prefix + path;
    }
    const http::Response unknown = (*port)->Handle(Get(prefix + "/api/nope"));
    EXPECT_EQ(unknown.status, 404);
    EXPECT_THAT(unknown.body, HasSubstr("unknown path /api/nope"));
  }
}

TEST_F(QueryPortTest, DisabledUiIs404AndTheApiIsUnchanged) {
  std::unique_ptr<QueryPort> port = MakePort("/", /*ui_enabled=*/false);
  for (const std::string path : {"/", "/search", "/index.html", "/assets/app-1a2b.js"}) {
    const http::Response r = port->Handle(Get(path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.body, HasSubstr("the built-in UI is off (query.ui.enabled: false)")) << path;
  }
  EXPECT_EQ(port->Handle(Get("/api/services")).body, "api");
  EXPECT_FALSE(port->IsUiPath("/"));
}

TEST_F(QueryPortTest, WithoutAssetsTheUiPathsSayItWasNotBuilt) {
  for (const std::string base : {"/", "/p"}) {
    std::unique_ptr<QueryPort> port = MakePort(base, true, {});
    const std::string prefix = base == "/" ? "" : base;
    for (const std::string path : {"/", "/trace/abc", "/assets/app-1a2b.js"}) {
      const http::Response r = port->Handle(Get(prefix + path));
      EXPECT_EQ(r.status, 404) << path;
      EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
      EXPECT_THAT(r.body, HasSubstr("not built into this binary"));
      EXPECT_THAT(r.body, HasSubstr("TAILTRACE_BUILD_UI=OFF"));
      EXPECT_THAT(r.body, HasSubstr("<a href=\"" + prefix + "/api/services\">" + prefix + "/api/"));
    }
    EXPECT_EQ(port->Handle(Get(prefix + "/api/services")).body, "api");
  }
}

TEST_F(QueryPortTest, UiPathsAreTheBasePathsButTheApi) {
  std::unique_ptr<QueryPort> root = MakePort("/");
  for (const std::string path : {"/", "/search", "/assets/app-1a2b.js", "/apis", "/x/api/"}) {
    EXPECT_TRUE(root->IsUiPath(path)) << path;
  }
  for (const std::string path : {"/api", "/api/", "/api/services", "/api/v3/traces", ""}) {
    EXPECT_FALSE(root->IsUiPath(path)) << path;
  }
  EXPECT_EQ(root->UiPath(), "/");
  std::unique_ptr<QueryPort> prefixed = MakePort("/p");
  for (const std::string path : {"/p", "/p/", "/p/trace/a", "/p/assets/x.js"}) {
    EXPECT_TRUE(prefixed->IsUiPath(path)) << path;
  }
  for (const std::string path : {"/", "/search", "/p/api", "/p/api/services", "/pp", "/api/x"}) {
    EXPECT_FALSE(prefixed->IsUiPath(path)) << path;
  }
  EXPECT_EQ(prefixed->UiPath(), "/p/");
}

TEST(QueryPortCreateTest, RefusesABrokenTableOrBasePath) {
  const auto create = [](std::span<const UiAsset> assets, std::string base = "/") {
    QueryOptions options;
    options.base_path = std::move(base);
    return QueryPort::Create(
        options, assets, [](const http::Request&, std::string_view) { return http::Response{}; });
  };
  const UiAsset no_base[] = {{"index.html", "text/html", "<html></html>", {}, "\"e\""}};
  EXPECT_THAT(std::string(create(no_base).status().message()),
              HasSubstr("index.html must hold <base href=\"/\" /> exactly once"));
  const UiAsset two_bases[] = {
      {"index.html", "text/html", "<base href=\"/\" /><base href=\"/\" />", {}, "\"e\""}};
  EXPECT_FALSE(create(two_bases).ok());
  const UiAsset no_index[] = {{"assets/a.js", "text/javascript", "x", {}, "\"e\""}};
  EXPECT_THAT(std::string(create(no_index).status().message()), HasSubstr("no index.html"));
  EXPECT_THAT(std::string(create(kAssets, "/p/").status().message()),
              HasSubstr("not normalised; use \"/p\""));
  EXPECT_FALSE(create(kAssets, "p").ok());
  EXPECT_TRUE(create({}).ok());
}

}  // namespace
}  // namespace tailtrace::query
