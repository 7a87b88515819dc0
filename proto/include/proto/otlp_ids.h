#pragma once

// Trace and span identifiers as OTLP defines them: 16 and 8 raw bytes, rendered as lower-case
// hex in JSON. An all-zero ID is invalid.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tailtrace {

inline constexpr size_t kTraceIdBytes = 16;
inline constexpr size_t kSpanIdBytes = 8;

// A valid trace ID is exactly 16 bytes and not all zero.
bool IsValidTraceId(std::string_view bytes);
// A valid span ID is exactly 8 bytes and not all zero.
bool IsValidSpanId(std::string_view bytes);

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);
// Decodes case-insensitive hex into exactly `expected_bytes` bytes. Jaeger-style shorter trace
// IDs are left-padded with zeros when `allow_short` is set (Jaeger clients send 64-bit IDs).
absl::StatusOr<std::string> HexDecode(std::string_view hex, size_t expected_bytes,
                                      bool allow_short = false);

// A 16-byte trace ID as a value type, usable as a hash-map key.
struct TraceId {
  std::array<uint8_t, kTraceIdBytes> bytes{};

  // Requires bytes.size() == 16.
  static TraceId FromBytes(std::string_view b) {
    TraceId id;
    std::memcpy(id.bytes.data(), b.data(), kTraceIdBytes);
    return id;
  }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  std::string Hex() const { return HexEncode(view()); }
  // The low 64 bits, which are random in W3C trace IDs; used for shard routing and hashing.
  uint64_t Low64() const {
    uint64_t v = 0;
    for (size_t i = 8; i < 16; ++i) v = (v << 8) | bytes[i];
    return v;
  }
  friend bool operator==(const TraceId&, const TraceId&) = default;
  friend auto operator<=>(const TraceId&, const TraceId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TraceId& id) {
    return H::combine(std::move(h), id.Low64());
  }
};

}  // namespace tailtrace
