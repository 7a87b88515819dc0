#include "proto/otlp_wire_fields.h"

#include <cstring>

#include "otlp_wire_primitives.h"

namespace tailtrace {
namespace {

constexpr int kMaxGroupDepth = 100;  // protobuf's default recursion limit

using wire_internal::kEndGroup;
using wire_internal::kFixed32;
using wire_internal::kFixed64;
using wire_internal::kLengthDelimited;
using wire_internal::kStartGroup;
using wire_internal::kVarint;

struct Field {
  uint32_t number = 0;
  uint32_t type = 0;
  uint64_t value = 0;      // varint and fixed values
  std::string_view bytes;  // length-delimited values
};

const char* ReadVarint(const char* p, const char* end, uint64_t* out) {
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

const char* NextField(const char* p, const char* end, Field* f, int depth = 0);

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

// Reads the field at p (a group is skipped whole; an end-group tag is returned as it is). Tags and
// lengths are read by the scanner's own primitives, with protobuf's rules.
const char* NextField(const char* p, const char* end, Field* f, int depth) {
  uint32_t tag = 0;
  p = wire_internal::ReadTag(p, end, &tag);
  if (p == nullptr || (tag >> 3) == 0) return nullptr;
  f->number = tag >> 3;
  f->type = tag & 7;
  switch (f->type) {
    case kVarint:
      return ReadVarint(p, end, &f->value);
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
      p = wire_internal::ReadLength(p, end, &len);
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

// Calls fn(field) for each field of `message`; false when it is malformed.
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

// The string value of an AnyValue's bytes as it merges into *value: a later oneof member
// replaces an earlier one. *is_string says whether the merged value is a string.
bool MergeAnyValue(std::string_view any_value, std::string_view* value, bool* is_string) {
  return ForEachField(any_value, [&](const Field& f) {
    if (f.number < 1 || f.number > 7) return;  // not a member of the value oneof
    *is_string = f.number == 1 && f.type == kLengthDelimited;
    if (*is_string) *value = f.bytes;
  });
}

}  // namespace

bool ReadWireSpanFields(std::string_view span, WireSpanFields* out) {
  *out = WireSpanFields{};
  return ForEachField(span, [&](const Field& f) {
    switch (f.number) {
      case 2:
        if (f.type == kLengthDelimited) out->span_id = f.bytes;
        break;
      case 4:
        if (f.type == kLengthDelimited) out->parent_span_id = f.bytes;
        break;
      case 5:
        if (f.type == kLengthDelimited) out->name = f.bytes;
        break;
      case 6:
        if (f.type == kVarint) out->kind = static_cast<int>(static_cast<int32_t>(f.value));
        break;
      case 7:
        if (f.type == kFixed64) out->start_ns = f.value;
        break;
      case 8:
        if (f.type == kFixed64) out->end_ns = f.value;
        break;
      case 15:
        if (f.type != kLengthDelimited) break;
        ForEachField(f.bytes, [&](const Field& s) {
          if (s.number == 3 && s.type == kVarint) {
            out->status_code = static_cast<int>(static_cast<int32_t>(s.value));
          }
        });
        break;
      default:
        break;
    }
  });
}

std::string_view WireServiceName(std::string_view resource_spans) {
  // ResourceSpans.resource (1) -> Resource.attributes (1, KeyValue) -> key (1), value (2).
  std::string_view found;
  bool done = false;
  ForEachField(resource_spans, [&](const Field& r) {
    if (done || r.number != 1 || r.type != kLengthDelimited) return;
    ForEachField(r.bytes, [&](const Field& a) {
      if (done || a.number != 1 || a.type != kLengthDelimited) return;
      std::string_view key;
      std::string_view value;
      bool is_string = false;
      ForEachField(a.bytes, [&](const Field& kv) {
        if (kv.type != kLengthDelimited) return;
        if (kv.number == 1) key = kv.bytes;
        if (kv.number == 2) MergeAnyValue(kv.bytes, &value, &is_string);
      });
      if (key == "service.name" && is_string) {
        found = value;
        done = true;
      }
    });
  });
  return done ? found : kUnknownServiceName;
}

}  // namespace tailtrace
