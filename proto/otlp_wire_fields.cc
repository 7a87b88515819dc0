#include "proto/otlp_wire_fields.h"

#include "otlp_wire_primitives.h"

namespace tailtrace {
namespace {

using wire_internal::Field;
using wire_internal::ForEachField;
using wire_internal::kFixed64;
using wire_internal::kLengthDelimited;
using wire_internal::kVarint;

// The string value of an AnyValue's bytes as it merges into *value: a later oneof member
// replaces an earlier one. *is_string says whether the merged value is a string.
bool MergeAnyValue(std::string_view any_value, std::string_view* value, bool* is_string) {
  return ForEachField(any_value, [&](const Field& f) {
    if (!wire_internal::IsAnyValueMember(f)) return;
    *is_string = f.number == 1;
    if (*is_string) *value = f.bytes;
  });
}

}  // namespace

bool ReadWireSpanFields(std::string_view span, WireSpanFields* out) {
  *out = WireSpanFields{};
  bool ok = true;
  ok &= ForEachField(span, [&](const Field& f) { ok &= wire_internal::ApplySpanField(f, out); });
  return ok;
}

namespace wire_internal {

// Span field numbers: trace.proto.
bool ApplySpanField(const Field& f, WireSpanFields* out) {
  const bool length = f.type == kLengthDelimited;
  switch (f.number) {
    case 2:
      if (length) out->span_id = f.bytes;
      break;
    case 3:
      if (length) out->trace_state = f.bytes;
      break;
    case 4:
      if (length) out->parent_span_id = f.bytes;
      break;
    case 5:
      if (length) out->name = f.bytes;
      break;
    case 6:
      if (f.type == kVarint) out->kind = static_cast<int32_t>(f.value);
      break;
    case 7:
      if (f.type == kFixed64) out->start_ns = f.value;
      break;
    case 8:
      if (f.type == kFixed64) out->end_ns = f.value;
      break;
    case 15:  // Status: message 2, code 3
      if (!length) break;
      return ForEachField(f.bytes, [&](const Field& s) {
        if (s.number == 2 && s.type == kLengthDelimited) out->status_message = s.bytes;
        if (s.number == 3 && s.type == kVarint) out->status_code = static_cast<int32_t>(s.value);
      });
    default:
      break;
  }
  return true;
}

}  // namespace wire_internal

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
      if (key == kServiceNameKey && is_string) {
        found = value;
        done = true;
      }
    });
  });
  return done ? found : kUnknownServiceName;
}

}  // namespace tailtrace
