// Fuzz harness: LZ4 frame decoding with an output bound (collector/lz4_frame.h), which the
// OTLP/gRPC receiver runs on what members of a cluster forward with kPeerEncodingMetadata.
// Invariants: the bound holds; errors are InvalidArgument or ResourceExhausted; a smaller bound
// never succeeds with more output; compressing and decoding the input gives it back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/lz4_frame.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_decode_check.h"

namespace {

constexpr uint64_t kLimit = 64 << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace c = tailtrace::collector;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<std::string> out = c::Lz4FrameDecompress(input, kLimit);
  CheckBoundedDecode(out, kLimit);
  const absl::StatusOr<std::string> small = c::Lz4FrameDecompress(input, 16);
  CheckBoundedDecode(small, 16);
  // A frame that decodes within 16 bytes decodes the same within the larger bound.
  FUZZ_CHECK(!small.ok() || (out.ok() && *out == *small));
  const std::string_view pieces[] = {input.substr(0, size / 2), input.substr(size / 2)};
  const absl::StatusOr<std::string> back = c::Lz4FrameDecompress(c::Lz4FrameCompress(pieces), size);
  FUZZ_CHECK(back.ok() && *back == input);
  return 0;
}
