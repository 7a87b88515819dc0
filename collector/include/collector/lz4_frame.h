#pragma once

// The LZ4 frame format (lz4's own, self-describing: magic number, content size, optional block and
// content checksums) for spans forwarded between members of a cluster: on OTLP requests LZ4 costs
// about a third of the CPU of gzip's fastest level for output about a quarter larger (17.5% of
// the request against 14.1%), and decodes several times faster (bench/README.md, "Cluster mode").
// Not an HTTP or gRPC content encoding: peers ask for it with kPeerEncodingMetadata
// (collector/span_sink.h). Thread-safe: every function is pure.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tailtrace::collector {

// One LZ4 frame holding the concatenation of `pieces` (not concatenated first), with its content
// size and no checksum (the transport checks the bytes). "" only when lz4 fails (out of memory).
[[nodiscard]] std::string Lz4FrameCompress(std::span<const std::string_view> pieces);

// The content of the LZ4 frames `frames`, one or more back to back (as the format allows: their
// contents concatenated). Errors:
//   ResourceExhausted when the content would exceed `max_output_bytes` (decoding stops there);
//   InvalidArgument when `frames` is not a sequence of whole, valid LZ4 frames (the message says
//   why).
[[nodiscard]] absl::StatusOr<std::string> Lz4FrameDecompress(std::string_view frames,
                                                             uint64_t max_output_bytes);

}  // namespace tailtrace::collector
