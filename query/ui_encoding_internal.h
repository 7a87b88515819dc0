#pragma once

// How a file of the built UI is served: its Content-Type, its gzip encoding and its ETag. The
// build tool (query/embed_ui_assets.cc) computes them for every file, and the query port for the
// index.html it rewrites at start-up, with these same functions. Pure and thread-safe.

#include <string>
#include <string_view>

namespace tailtrace::query::internal {

// The Content-Type for a file name's extension (html, js, mjs, css, svg, png, ico, json,
// webmanifest, woff2, woff, map, txt, wasm; case-insensitive); "application/octet-stream" for any
// other. Text types say charset=utf-8.
[[nodiscard]] std::string_view UiContentType(std::string_view path);

// `data` gzip-compressed at libdeflate's strongest level (12), or "" when that is not smaller
// than `data` (e.g. an image that is compressed already).
[[nodiscard]] std::string UiGzip(std::string_view data);

// A strong ETag of `data`, quoted: "\"" + the first 32 hex digits of its SHA-256 + "\"".
[[nodiscard]] std::string UiEtag(std::string_view data);

}  // namespace tailtrace::query::internal
