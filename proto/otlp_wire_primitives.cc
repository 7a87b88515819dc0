#include "otlp_wire_primitives.h"

namespace tailtrace::wire_internal {

const char* ReadTagSlow(const char* p, const char* end, uint32_t* tag) {
  uint32_t v = 0;
  for (int i = 0; i < 5 && p + i < end; ++i) {
    const uint32_t b = static_cast<uint8_t>(p[i]);
    v |= (b & 0x7F) << (7 * i);  // bits past 32 are dropped, as protobuf does
    if (b < 0x80) {
      *tag = v;
      return p + i + 1;
    }
  }
  return nullptr;
}

const char* SkipVarintSlow(const char* p, const char* end) {
  for (int i = 0; i < 10 && p + i < end; ++i) {
    if (static_cast<uint8_t>(p[i]) < 0x80) return p + i + 1;
  }
  return nullptr;
}

const char* ReadLengthSlow(const char* p, const char* end, uint32_t* len) {
  uint32_t v = 0;
  for (int i = 0; i < 5 && p + i < end; ++i) {
    const uint32_t b = static_cast<uint8_t>(p[i]);
    if (i == 4 && b >= 8) return nullptr;  // 2 GiB or more
    v |= (b & 0x7F) << (7 * i);
    if (b < 0x80) {
      if (v > static_cast<uint32_t>(end - (p + i + 1))) return nullptr;
      *len = v;
      return p + i + 1;
    }
  }
  return nullptr;
}

const char* LengthProblem(const char* p, const char* end) {
  for (int i = 0; i < 5; ++i) {
    if (p + i >= end) return "truncated length";
    const uint8_t b = static_cast<uint8_t>(p[i]);
    if (i == 4 && b >= 8) return "malformed length";
    if (b < 0x80) return "truncated length-delimited value";
  }
  return "malformed length";
}

}  // namespace tailtrace::wire_internal
