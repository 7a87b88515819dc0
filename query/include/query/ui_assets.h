#pragma once

// The built-in web UI's files (ui/, built by Vite into ui/dist) as compiled into the binary.
//
// With TAILTRACE_BUILD_UI=ON (the default) the build runs `npm ci` and the UI's build, then
// query/embed_ui_assets.cc turns the output directory into a generated .cc file that defines
// EmbeddedUiAssets(); with OFF, query/ui_assets_none.cc defines it as an empty table. Only the
// daemon (and the test of the real table) link it (tailtrace::ui_assets); QueryPort takes any
// table, so tests hand it one of their own.

#include <span>
#include <string_view>

namespace tailtrace::query {

// One file of the built UI. Every view points into static storage.
struct UiAsset {
  // Relative to the output directory with '/' separators, e.g. "index.html",
  // "assets/index-BD7e_h4s.js" (Vite's content-hashed files are under assets/).
  std::string_view path;
  // Content-Type, from the file name's extension, e.g. "text/javascript; charset=utf-8".
  std::string_view content_type;
  // The file's bytes.
  std::string_view raw;
  // The file gzip-compressed (libdeflate level 12); empty when that is not smaller than `raw`.
  std::string_view gzip;
  // A strong ETag of `raw`, quoted: "\"<hex digits of a SHA-256>\"".
  std::string_view etag;
};

// The table compiled into this binary, sorted by path: the UI's files, or none when it was built
// with TAILTRACE_BUILD_UI=OFF.
std::span<const UiAsset> EmbeddedUiAssets();

}  // namespace tailtrace::query
