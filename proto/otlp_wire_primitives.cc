#include "otlp_wire_primitives.h"

#include <cstring>

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

const char* ReadVarint64Slow(const char* p, const char* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70 && p < end; shift += 7) {
    const auto b = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) {
      *out = v;
      return p;
    }
  }
  return nullptr;
}

namespace {

constexpr int kMaxGroupDepth = 100;  // protobuf's default recursion limit

// Skips a group's fields up to its end tag.
const char* SkipGroup(const char* p, const char* end, uint32_t number, int depth) {
  if (depth >= kMaxGroupDepth) return nullptr;
  while (p != nullptr && p < end) {
    Field f;
    const char* q = NextField(p, end, &f, depth + 1);
    if (q == nullptr) return nullptr;
    if (f.type == kEndGroup) return f.number == number ? q : nullptr;
    p = q;
  }
  return nullptr;
}

}  // namespace

// Tags and lengths are read with protobuf's rules (ReadTag, ReadLength).
const char* NextField(const char* p, const char* end, Field* f, int depth) {
  uint32_t tag = 0;
  p = ReadTag(p, end, &tag);
  if (p == nullptr || (tag >> 3) == 0) return nullptr;
  f->number = tag >> 3;
  f->type = tag & 7;
  switch (f->type) {
    case kVarint:
      return ReadVarint64(p, end, &f->value);
    case kFixed64:
      if (end - p < 8) return nullptr;
      std::memcpy(&f->value, p, 8);
      return p + 8;
    case kFixed32: {
      if (end - p < 4) return nullptr;
      uint32_t v;
      std::memcpy(&v, p, 4);
      f->value = v;
      return p + 4;
    }
    case kLengthDelimited: {
      uint32_t len = 0;
      p = ReadLength(p, end, &len);
      if (p == nullptr) return nullptr;
      f->bytes = std::string_view(p, len);
      return p + len;
    }
    case kStartGroup:
      return SkipGroup(p, end, f->number, depth);
    case kEndGroup:
      return p;
  }
  return nullptr;
}

}  // namespace tailtrace::wire_internal
