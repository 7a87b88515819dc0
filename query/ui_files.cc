#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/listener_security.h"
#include "ui_encoding_internal.h"
#include "ui_files_internal.h"

namespace tailtrace::query::internal {
namespace {

constexpr std::string_view kIndex = "index.html";
constexpr std::string_view kAssetsDir = "assets/";
// What the UI's index.html holds once, and the daemon rewrites (ui/index.html, ui/vite.config.ts).
constexpr std::string_view kBaseTag = "<base href=\"/\" />";

// Same-origin scripts, API calls, fonts and images (and data: images, e.g. the icon); inline
// styles, which the charting library sets; no plugins and no framing by other sites.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

// A response with the headers every UI answer carries.
http::Response UiResponse(int status, std::string_view content_type, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = std::string(content_type);
  r.body = std::move(body);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  return r;
}

// Whether an Accept-Encoding header allows gzip (RFC 9110 12.5.3): gzip (or x-gzip) listed with a
// non-zero q, or not listed and "*" listed with a non-zero q.
bool AcceptsGzip(std::string_view accept_encoding) {
  std::optional<bool> gzip;
  bool any = false;
  for (std::string_view entry : security::SplitAndTrim(accept_encoding, ',')) {
    const std::vector<std::string_view> parts = security::SplitAndTrim(entry, ';');
    bool nonzero = true;
    for (size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].size() < 2 || !security::EqualsIgnoreCase(parts[i].substr(0, 2), "q=")) {
        continue;
      }
      // A qvalue is 0 exactly when it has no digit but 0 ("0", "0.0", "0.000").
      const std::string_view q = parts[i].substr(2);
      nonzero = q.find_first_not_of("0.") != std::string_view::npos;
    }
    if (security::EqualsIgnoreCase(parts[0], "gzip") ||
        security::EqualsIgnoreCase(parts[0], "x-gzip")) {
      gzip = nonzero;
    } else if (parts[0] == "*") {
      any = nonzero;
    }
  }
  return gzip.value_or(any);
}

// Whether If-None-Match lists "*" or one of the tags (weak comparison, RFC 9110 13.1.2).
bool NoneMatchHits(std::string_view if_none_match, std::string_view etag,
                   std::string_view gzip_etag) {
  for (std::string_view tag : security::SplitAndTrim(if_none_match, ',')) {
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag || tag == gzip_etag) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UiFiles>> UiFiles::Create(std::span<const UiAsset> assets,
                                                         std::string_view base_path) {
  std::unique_ptr<UiFiles> ui(new UiFiles(std::string(base_path)));
  for (const UiAsset& asset : assets) {
    File file{asset.content_type,      asset.raw, asset.gzip,
              std::string(asset.etag), "",        asset.path.starts_with(kAssetsDir)};
    if (asset.path == kIndex) {
      size_t at = asset.raw.find(kBaseTag);
      const bool once = at != std::string_view::npos &&
                        asset.raw.find(kBaseTag, at + 1) == std::string_view::npos;
      if (!once) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the UI's index.html must hold ", std::string(kBaseTag),
            " exactly once (the daemon writes query.base_path there); rebuild the UI"));
      }
      const std::string href = base_path == "/" ? "/" : absl::StrCat(std::string(base_path), "/");
      ui->index_raw_ = absl::StrCat(std::string(asset.raw.substr(0, at)), "<base href=\"", href,
                                    "\" />", std::string(asset.raw.substr(at + kBaseTag.size())));
      ui->index_gzip_ = UiGzip(ui->index_raw_);
      file.raw = ui->index_raw_;
      file.gzip = ui->index_gzip_;
      file.etag = UiEtag(ui->index_raw_);
    }
    file.gzip_etag = file.etag;
    file.gzip_etag.insert(file.gzip_etag.empty() ? 0 : file.gzip_etag.size() - 1, "-gzip");
    ui->files_.emplace(std::string(asset.path), std::move(file));
  }
  if (!assets.empty() && !ui->files_.contains(kIndex)) {
    return absl::FailedPreconditionError("the UI's files have no index.html; rebuild the UI");
  }
  return ui;
}

http::Response UiFiles::Serve(const http::Request& request, std::string_view path) const {
  if (request.method != "GET" && request.method != "HEAD") {
    http::Response r = UiResponse(
        405, "text/plain; charset=utf-8",
        absl::StrCat("method ", request.method, " not allowed on the UI's pages; use GET\n"));
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (files_.empty()) return NotBuilt();
  const std::string_view name = path.substr(path.starts_with('/') ? 1 : 0);
  auto it = files_.find(name);
  if (it == files_.end() && name.starts_with(kAssetsDir)) {
    return UiResponse(404, "text/plain; charset=utf-8",
                      absl::StrCat("no such file of the UI: ", std::string(name), "\n"));
  }
  // Any other path is a page of the single-page app: index.html routes it in the browser.
  if (it == files_.end()) it = files_.find(kIndex);
  return Send(request, it->second);
}

http::Response UiFiles::Send(const http::Request& request, const File& file) const {
  const bool gzip = !file.gzip.empty() && AcceptsGzip(request.Header("accept-encoding"));
  const std::string& etag = gzip ? file.gzip_etag : file.etag;
  const bool not_modified =
      NoneMatchHits(request.Header("if-none-match"), file.etag, file.gzip_etag);
  http::Response r =
      not_modified ? UiResponse(304, "", "")
                   : UiResponse(200, file.content_type, std::string(gzip ? file.gzip : file.raw));
  if (gzip && !not_modified) r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control",
                         file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  return r;
}

http::Response UiFiles::NotBuilt() const {
  const std::string api = base_path_ == "/" ? "/api/" : absl::StrCat(base_path_, "/api/");
  return UiResponse(
      404, "text/html; charset=utf-8",
      absl::StrCat("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<title>tailtrace: no UI</title></head><body>\n"
                   "<h1>The web UI was not built into this binary</h1>\n"
                   "<p>This tailtraced was built with <code>TAILTRACE_BUILD_UI=OFF</code>, so it "
                   "serves no UI. Build it with <code>-DTAILTRACE_BUILD_UI=ON</code> (the default; "
                   "needs node and npm) to get one.</p>\n"
                   "<p>The query API is at <a href=\"",
                   api, "services\">", api, "</a> (Jaeger's HTTP API, and the OTLP JSON API at ",
                   api, "v3/).</p>\n</body></html>\n"));
}

}  // namespace tailtrace::query::internal
