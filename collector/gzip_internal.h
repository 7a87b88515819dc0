#pragma once

// For tests and the fuzz harness: the zlib decoder that Decompress falls back on to describe
// corrupt gzip input. Decompress(kGzip) must give what it gives, the same output or the same
// error code, on every input (tests/fuzz/gzip_fuzz.cc checks it).

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tailtrace::collector::internal {

[[nodiscard]] absl::StatusOr<std::string> GunzipWithZlib(std::string_view compressed,
                                                         uint64_t max_output_bytes);

}  // namespace tailtrace::collector::internal
