#pragma once

// Internal to proto/: the protobuf wire-format primitives the scanner (otlp_wire.cc) and the
// span-field reader (otlp_wire_fields.cc) are built on, with protobuf 3.21's acceptance rules
// (parse_context.h). Each reader returns nullptr when the value is malformed or does not end by
// `end`; the inline fast paths take the usual one-byte case.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "google/protobuf/stubs/common.h"
#include "proto/otlp_wire_fields.h"

namespace tailtrace::wire_internal {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

const char* ReadTagSlow(const char* p, const char* end, uint32_t* tag);

// Requires p < end.
inline const char* ReadTag(const char* p, const char* end, uint32_t* tag) {
  const uint32_t b = static_cast<uint8_t>(*p);
  if (b < 0x80) {
    *tag = b;
    return p + 1;
  }
  return ReadTagSlow(p, end, tag);
}

const char* SkipVarintSlow(const char* p, const char* end);

inline const char* SkipVarint(const char* p, const char* end) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) return p + 1;
  return SkipVarintSlow(p, end);
}

const char* ReadLengthSlow(const char* p, const char* end, uint32_t* len);

// Reads a length and checks that that many bytes follow before `end`.
inline const char* ReadLength(const char* p, const char* end, uint32_t* len) {
  if (p < end) {
    const uint32_t b = static_cast<uint8_t>(*p);
    if (b < 0x80 && b <= static_cast<uint32_t>(end - p - 1)) {
      *len = b;
      return p + 1;
    }
  }
  return ReadLengthSlow(p, end, len);
}

const char* ReadVarint64Slow(const char* p, const char* end, uint64_t* out);

// Reads a varint of up to 10 bytes (protobuf's rule: the bits past 64 are dropped).
inline const char* ReadVarint64(const char* p, const char* end, uint64_t* out) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) {
    *out = static_cast<uint8_t>(*p);
    return p + 1;
  }
  return ReadVarint64Slow(p, end, out);
}

// Why ReadLength failed at p (cold).
const char* LengthProblem(const char* p, const char* end);

// Why a varint of at most `max_bytes` failed at p (cold).
inline bool VarintTruncated(const char* p, const char* end, int max_bytes) {
  return end - p < max_bytes;
}

// Appends `value` as a varint (1 to 10 bytes).
inline void AppendVarint(uint64_t value, std::string* out) {
  char buf[10];
  size_t n = 0;
  while (value >= 0x80) {
    buf[n++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  buf[n++] = static_cast<char>(value);
  out->append(buf, n);
}

inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

inline uint32_t Load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// ASCII (the usual case) is checked here a word at a time; anything else is left to protobuf's
// own check, so that exactly what protobuf accepts is accepted.
inline bool ValidUtf8(const char* p, size_t n) {
  uint64_t bits = 0;
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) bits |= Load64(p + i);
    bits |= Load64(p + n - 8);
  } else if (n >= 4) {
    bits = Load32(p) | Load32(p + n - 4);
  } else if (n > 0) {
    bits = static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[n / 2]) |
           static_cast<uint8_t>(p[n - 1]);
  }
  if ((bits & 0x8080808080808080ull) == 0) return true;
  return google::protobuf::internal::IsStructurallyValidUTF8(p, static_cast<int>(n));
}

// ---- Reading a message field by field ----

// One field of a message. Groups are skipped whole; an end-group tag is returned as it is.
struct Field {
  uint32_t number = 0;
  uint32_t type = 0;
  uint64_t value = 0;      // varint and fixed values
  std::string_view bytes;  // length-delimited values
};

// Reads the field at p (requires p < end); nullptr when it is malformed.
const char* NextField(const char* p, const char* end, Field* f, int depth = 0);

// Calls fn(field) for each field of `message`; false when it is malformed (fields before the
// problem have been passed to fn).
template <typename Fn>
bool ForEachField(std::string_view message, Fn&& fn) {
  const char* p = message.data();
  const char* end = p + message.size();
  while (p < end) {
    Field f;
    p = NextField(p, end, &f);
    if (p == nullptr || f.type == kEndGroup) return false;
    fn(f);
  }
  return true;
}

// Applies field `f` of a Span message to `*out` when it is one of WireSpanFields' (protobuf's
// rules: the last value wins, the status's occurrences merge); other fields are left alone.
// False when the status is malformed. ReadWireSpanFields and DecodeWireTraces read spans with it.
bool ApplySpanField(const Field& f, WireSpanFields* out);

// Whether `f` sets a member of AnyValue's `value` oneof (field number and wire type as declared;
// a field with another wire type is an unknown field to protobuf and changes nothing).
inline bool IsAnyValueMember(const Field& f) {
  switch (f.number) {
    case 1:  // string_value
    case 5:  // array_value
    case 6:  // kvlist_value
    case 7:  // bytes_value
      return f.type == kLengthDelimited;
    case 2:  // bool_value
    case 3:  // int_value
      return f.type == kVarint;
    case 4:  // double_value
      return f.type == kFixed64;
    default:
      return false;
  }
}

}  // namespace tailtrace::wire_internal
