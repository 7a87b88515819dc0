#pragma once

// The built-in UI's files as the query port serves them (query_port.h describes the answers):
// lookup, the single-page app's fallback to index.html, content negotiation (gzip), validators
// (ETag, If-None-Match), caching and security headers, and the page of a binary without the UI.

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "query/ui_assets.h"

namespace tailtrace::query::internal {

// Immutable after Create: thread-safe.
class UiFiles {
 public:
  // `assets` must outlive the result; `base_path` is normalised (NormalizeBasePath). Fails when
  // `assets` is not empty and its index.html is missing or holds other than one <base href="/" />.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UiFiles>> Create(
      std::span<const UiAsset> assets, std::string_view base_path);

  // The answer to `request` for `path`, relative to the base path (it starts with '/').
  http::Response Serve(const http::Request& request, std::string_view path) const;

 private:
  struct File {
    std::string_view content_type;
    std::string_view raw;
    std::string_view gzip;   // empty: none
    std::string etag;        // of raw
    std::string gzip_etag;   // of gzip: etag with "-gzip" before its closing quote
    bool immutable = false;  // content-hashed (under assets/)
  };

  explicit UiFiles(std::string base_path) : base_path_(std::move(base_path)) {}

  http::Response Send(const http::Request& request, const File& file) const;
  http::Response NotBuilt() const;

  std::string base_path_;
  std::map<std::string, File, std::less<>> files_;  // by path, e.g. "assets/index-x.js"
  // index.html with the base path in its <base href>, which files_ points into.
  std::string index_raw_;
  std::string index_gzip_;
};

}  // namespace tailtrace::query::internal
