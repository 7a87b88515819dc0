#pragma once

// Internal to proto/: the layout of a span column block (span_columns.h), shared by its encoder
// (span_columns_encode.cc) and decoder (span_columns_decode.cc).

#include <cstddef>
#include <cstdint>
#include <string>

namespace tailtrace::span_columns {

inline constexpr uint8_t kVersion = 2;

// Every this many spans the block records where each column stands (kSeek), so that decoding a
// range of spans starts at the seek point before it instead of reading every span before it.
inline constexpr uint64_t kSeekInterval = 256;

// A block decodes to at most this many times its size (plus 1 MiB): dictionary entries are used
// many times, but a corrupt block must not make its decoder allocate without bound.
inline constexpr uint64_t kMaxExpansion = 256;

// The block's sections, in this order, each a varint length and its bytes. Per-span sections
// hold one entry per span; the field sections one entry per span whose presence bit is set; the
// attribute sections one entry per attribute (kAttrType) or per attribute of that type.
enum Section : int {
  kResource,       // varint index into kResources
  kScope,          // varint index into kScopes
  kPresence,       // varint: the Bit* of the span's fields held in columns
  kTraceId,        // 16 bytes
  kSpanId,         // 8 bytes
  kParentId,       // 8 bytes
  kTraceState,     // varint index into kStrings
  kFlags,          // 4 bytes, little-endian
  kName,           // varint index into kNames
  kKind,           // varint
  kStart,          // varint, zigzag of the difference from the previous start held (0 at first)
  kEnd,            // varint, zigzag of end minus the span's start (0 when none is held)
  kStatusCode,     // varint (with BitStatus)
  kStatusMessage,  // varint index into kStrings (with BitStatus)
  kAttrCount,      // varint per span: its attributes, in order
  kAttrType,       // one byte per attribute: AttrType
  kAttrKey,        // varint index into kKeys, per attribute but kRawKeyValue
  kAttrString,     // varint index into kStrings
  kAttrInt,        // varint, zigzag
  kAttrDouble,     // 8 bytes, little-endian
  kAttrBool,       // one byte
  kAttrRaw,        // varint length, bytes: a KeyValue (kRawKeyValue) or an AnyValue (kRawValue)
  kRest,           // varint length, bytes: the span's fields not in columns, as sent
  kResources,      // varint count, then per entry: varint length, the ResourceSpans' own fields
  kScopes,         // the same for ScopeSpans (all fields but the spans)
  kNames,          // varint count, then per entry: varint length, bytes
  kKeys,           // the same
  kStrings,        // the same: trace states, status messages and string attribute values
  kSeek,           // per seek point (before span k * kSeekInterval, k >= 1): varint the previous
                   // start (kStart), then per column section (kResource..kRest) varint its offset
  kSectionCount,
};

// Presence bits (kPresence): a field is held in a column when the span has it exactly once, with
// its declared wire type (and, for IDs, the usual size); otherwise it stays in kRest.
inline constexpr uint32_t kBitTraceId = 1u << 0;
inline constexpr uint32_t kBitSpanId = 1u << 1;
inline constexpr uint32_t kBitParentId = 1u << 2;
inline constexpr uint32_t kBitTraceState = 1u << 3;
inline constexpr uint32_t kBitFlags = 1u << 4;
inline constexpr uint32_t kBitName = 1u << 5;
inline constexpr uint32_t kBitKind = 1u << 6;
inline constexpr uint32_t kBitStart = 1u << 7;
inline constexpr uint32_t kBitEnd = 1u << 8;
inline constexpr uint32_t kBitStatus = 1u << 9;

enum AttrType : uint8_t {
  kRawKeyValue = 0,  // the whole KeyValue in kAttrRaw
  kString = 1,
  kInt = 2,
  kDouble = 3,
  kBool = 4,
  kRawValue = 5,  // the key in kAttrKey, the AnyValue's bytes in kAttrRaw
  kNoValue = 6,   // a key without a value field
};

// Span field numbers (opentelemetry/proto/trace/v1/trace.proto).
enum SpanField : uint32_t {
  kFieldTraceId = 1,
  kFieldSpanId = 2,
  kFieldTraceState = 3,
  kFieldParentId = 4,
  kFieldName = 5,
  kFieldKind = 6,
  kFieldStart = 7,
  kFieldEnd = 8,
  kFieldAttributes = 9,
  kFieldStatus = 15,
  kFieldFlags = 16,
};

// Appends the low `bytes` bytes of `value`, least significant first (fixed32, fixed64).
inline void AppendLittleEndian(uint64_t value, int bytes, std::string* out) {
  char buf[8];
  for (int i = 0; i < bytes; ++i) buf[i] = static_cast<char>(value >> (8 * i));
  out->append(buf, static_cast<size_t>(bytes));
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace tailtrace::span_columns
