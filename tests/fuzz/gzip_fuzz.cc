// Fuzz harness: gzip and deflate decoding with an output bound (collector/gzip.h), which the HTTP
// receiver runs on compressed bodies. Invariants: the bound holds; errors are InvalidArgument or
// ResourceExhausted; the libdeflate gzip decoder gives what zlib's gives (the same output, or an
// error of the same code); compressing and decompressing the input gives it back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/gzip.h"
#include "collector/gzip_internal.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_decode_check.h"

namespace {

constexpr uint64_t kLimit = 64 << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace c = tailtrace::collector;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<std::string> gzip = c::Decompress(input, c::Compression::kGzip, kLimit);
  CheckBoundedDecode(gzip, kLimit);
  const absl::StatusOr<std::string> zlib = c::internal::GunzipWithZlib(input, kLimit);
  FUZZ_CHECK(gzip.status().code() == zlib.status().code());
  FUZZ_CHECK(!gzip.ok() || *gzip == *zlib);
  CheckBoundedDecode(c::Decompress(input, c::Compression::kDeflate, kLimit), kLimit);
  CheckBoundedDecode(c::Decompress(input, c::Compression::kGzip, 16), 16);
  const absl::StatusOr<std::string> back = c::Gunzip(c::Gzip(input), kLimit);
  FUZZ_CHECK(back.ok() && *back == input);
  return 0;
}
