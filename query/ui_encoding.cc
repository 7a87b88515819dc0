#include <libdeflate.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "ui_encoding_internal.h"

namespace tailtrace::query::internal {
namespace {

struct ExtensionType {
  std::string_view extension;
  std::string_view content_type;
};

constexpr ExtensionType kTypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
};

constexpr int kGzipLevel = 12;  // libdeflate's strongest; the files are compressed once
constexpr size_t kEtagHexDigits = 32;

}  // namespace

std::string_view UiContentType(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  if (dot != std::string_view::npos && dot > 0) {
    std::string extension(name.substr(dot + 1));
    absl::AsciiStrToLower(&extension);
    for (const ExtensionType& type : kTypes) {
      if (type.extension == extension) return type.content_type;
    }
  }
  return "application/octet-stream";
}

std::string UiGzip(std::string_view data) {
  struct Free {
    void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
  };
  std::unique_ptr<libdeflate_compressor, Free> compressor(libdeflate_alloc_compressor(kGzipLevel));
  if (compressor == nullptr) return "";
  std::string out(libdeflate_gzip_compress_bound(compressor.get(), data.size()), '\0');
  const size_t size =
      libdeflate_gzip_compress(compressor.get(), data.data(), data.size(), out.data(), out.size());
  if (size == 0 || size >= data.size()) return "";
  out.resize(size);
  return out;
}

std::string UiEtag(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string etag = "\"";
  for (unsigned int i = 0; i < length && i < kEtagHexDigits / 2; ++i) {
    etag += kHex[digest[i] >> 4];
    etag += kHex[digest[i] & 0xf];
  }
  etag += '"';
  return etag;
}

}  // namespace tailtrace::query::internal
