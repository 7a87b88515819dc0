#pragma once

// Everything the query port serves, under QueryOptions::base_path ("/" or e.g. "/tailtrace"):
//   <base>/api, <base>/api/...  the API: handed to the ApiHandler with the path relative to the
//                               base ("/api/..."), so the API's routes do not know the base;
//   <base>                      302 to <base>/ (with the query string) when the base is not "/";
//   any other path under <base>/  the built-in UI (GET and HEAD; another method is 405):
//     assets/...    the content-hashed files of the UI's build; an unknown one is 404. Cached for
//                   a year (Cache-Control: public, max-age=31536000, immutable);
//     a file of the build's top level (index.html, favicon.ico, ...)  that file (no-cache);
//     anything else (/, /search, /trace/{id}, ...)  index.html, so that the single-page app's deep
//                   links load it; its one <base href="/" /> is rewritten at start-up to
//                   <base href="<base>/" />, against which the page resolves its relative URLs.
//     A file is sent gzip-encoded (Content-Encoding: gzip) when the request's Accept-Encoding
//     allows gzip and the table has a gzip form, else as is; always with Vary: Accept-Encoding, a
//     strong ETag (a different one for the gzip form) and 304 for a matching If-None-Match.
//     Every UI answer carries X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and a
//     Content-Security-Policy allowing only same-origin scripts, connections, fonts and images
//     (and data: images), inline styles (the charts set style attributes), and no framing.
//     With an empty asset table (a binary built with TAILTRACE_BUILD_UI=OFF) every UI path is a
//     404 page saying so and where the API is;
//   anything else               404 naming the base path.
// With QueryOptions::ui_enabled false the UI's paths are 404 and the API is unchanged.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "query/options.h"
#include "query/ui_assets.h"

namespace tailtrace::query {

namespace internal {
class UiFiles;
}

class QueryPort {
 public:
  // Answers an API request; `path` is request.path without the base path ("/api/..."). Must be
  // thread-safe (called from every server thread).
  using ApiHandler =
      std::function<http::Response(const http::Request& request, std::string_view path)>;

  // Of `options`, base_path (normalised: see NormalizeBasePath) and ui_enabled apply. `assets`
  // (e.g. EmbeddedUiAssets()) must outlive the port. Fails when base_path is not normalised, or
  // when the table is not empty and its index.html is missing or does not hold exactly one
  // <base href="/" />.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<QueryPort>> Create(
      const QueryOptions& options, std::span<const UiAsset> assets, ApiHandler api);
  ~QueryPort();

  // Thread-safe.
  http::Response Handle(const http::Request& request) const;

  // True for a (percent-decoded) path the UI answers when it is enabled: <base> and every path
  // under <base>/ but <base>/api and <base>/api/.... The UI's files hold no data, so the daemon
  // serves these without a token when query.auth is on (HttpServerOptions::is_open_path), as
  // /healthz; the API still needs it. Thread-safe.
  [[nodiscard]] bool IsUiPath(std::string_view path) const;

  // Where the UI is: "<base>/" ("/" for the default base).
  [[nodiscard]] std::string UiPath() const;

 private:
  QueryPort(const QueryOptions& options, std::unique_ptr<internal::UiFiles> ui, ApiHandler api);

  // `path` relative to the base ("/..."), or nullopt when it is outside the base (or the base
  // itself without its trailing '/').
  [[nodiscard]] std::optional<std::string_view> Relative(std::string_view path) const;

  std::string base_path_;
  bool ui_enabled_;
  std::unique_ptr<internal::UiFiles> ui_;
  ApiHandler api_;
};

}  // namespace tailtrace::query
