#pragma once

// gzip / deflate decompression with a bound on the output size (decompression bombs), and gzip
// compression. libdeflate underneath gzip (zlib decodes deflate, and says what is wrong with
// corrupt or truncated gzip input). Thread-safe: every function is pure.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tailtrace::collector {

enum class Compression {
  kGzip,     // RFC 1952 (Content-Encoding: gzip); concatenated members are all decoded
  kDeflate,  // Content-Encoding: deflate: RFC 1950 zlib stream, raw RFC 1951 also accepted
};

// Decompresses `compressed`. Errors:
//   ResourceExhausted when the output would exceed `max_output_bytes` (decoding stops there);
//   InvalidArgument when the input is corrupt or truncated (the message says which).
[[nodiscard]] absl::StatusOr<std::string> Decompress(std::string_view compressed,
                                                     Compression compression,
                                                     uint64_t max_output_bytes);

// Shorthand for Decompress(compressed, Compression::kGzip, max_output_bytes).
[[nodiscard]] absl::StatusOr<std::string> Gunzip(std::string_view compressed,
                                                 uint64_t max_output_bytes);

// Compression levels (zlib's numbering). On OTLP spans level 1 costs about a third of the CPU of
// level 6 (zlib's default, and what gRPC's own gzip uses) for output about 15% larger.
enum class GzipLevel { kFastest = 1, kDefault = 6 };

// gzip-compresses `data` (e.g. for responses to "Accept-Encoding: gzip", and tests).
[[nodiscard]] std::string Gzip(std::string_view data, GzipLevel level = GzipLevel::kDefault);

// gzip-compresses the concatenation of `pieces` (one gzip member), without concatenating them.
[[nodiscard]] std::string Gzip(std::span<const std::string_view> pieces, GzipLevel level);

}  // namespace tailtrace::collector
