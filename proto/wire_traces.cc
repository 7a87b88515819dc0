#include "proto/wire_traces.h"

#include "otlp_wire_primitives.h"
#include "proto/otlp_wire_fields.h"

namespace tailtrace {
namespace {

using wire_internal::Field;
using wire_internal::ForEachField;
using wire_internal::kLengthDelimited;

// Field numbers (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto).
constexpr uint32_t kTracesDataResourceSpans = 1;
constexpr uint32_t kResourceSpansResource = 1;
constexpr uint32_t kResourceSpansScopeSpans = 2;
constexpr uint32_t kResourceAttributes = 1;
constexpr uint32_t kScopeSpansScope = 1;
constexpr uint32_t kScopeSpansSpans = 2;
constexpr uint32_t kScopeName = 1;
constexpr uint32_t kScopeVersion = 2;
constexpr uint32_t kKeyValueKey = 1;
constexpr uint32_t kKeyValueValue = 2;
constexpr uint32_t kSpanAttributes = 9;
constexpr uint32_t kSpanEvents = 11;
constexpr uint32_t kEventName = 2;
constexpr uint32_t kEventAttributes = 3;
// Tags (field number << 3 | wire type) of the usual KeyValue and AnyValue encodings.
constexpr uint8_t kKeyTag = 0x0a;          // KeyValue.key, length-delimited
constexpr uint8_t kValueTag = 0x12;        // KeyValue.value, length-delimited
constexpr uint8_t kStringValueTag = 0x0a;  // AnyValue.string_value
constexpr uint8_t kBoolValueTag = 0x10;    // AnyValue.bool_value, varint
constexpr uint8_t kIntValueTag = 0x18;     // AnyValue.int_value, varint
constexpr uint8_t kDoubleValueTag = 0x21;  // AnyValue.double_value, fixed64
constexpr uint8_t kBytesValueTag = 0x3a;   // AnyValue.bytes_value, length-delimited

uint32_t Size(size_t n) { return static_cast<uint32_t>(n); }

// The value that AnyValue bytes `any_value` merge to.
bool DecodeValue(std::string_view any_value, WireValue* out) {
  using Kind = WireValue::Kind;
  *out = WireValue{};
  return ForEachField(any_value, [&](const Field& f) {
    if (!wire_internal::IsAnyValueMember(f)) return;
    static constexpr Kind kKinds[] = {Kind::kNone,      Kind::kString, Kind::kBool,
                                      Kind::kInt,       Kind::kDouble, Kind::kComposite,
                                      Kind::kComposite, Kind::kBytes};
    out->kind = kKinds[f.number];
    out->bytes = out->kind == Kind::kComposite ? any_value : f.bytes;
    out->number = f.value;
  });
}

// A KeyValue: its key, and its value's occurrences merged.
bool DecodeKeyValue(std::string_view key_value, WireTraces* traces, WireAttribute* out) {
  std::string_view value;
  std::string* merged = nullptr;
  const bool read = ForEachField(key_value, [&](const Field& f) {
    if (f.type != kLengthDelimited) return;
    if (f.number == kKeyValueKey) out->key = f.bytes;
    if (f.number != kKeyValueValue) return;
    if (value.data() == nullptr) {
      value = f.bytes;
      return;
    }
    // A repeated message field merges: as if its occurrences were one message.
    if (merged == nullptr) merged = &traces->merged.emplace_back(value);
    merged->append(f.bytes);
    value = *merged;
  });
  return read && DecodeValue(value, &out->value);
}

// The usual encoding of an AnyValue, read without the field loop: one member, once. False for
// anything else, which DecodeValue reads.
bool DecodeUsualValue(const char* p, const char* end, WireValue* out) {
  using Kind = WireValue::Kind;
  if (p == end) {
    *out = WireValue{};
    return true;
  }
  const auto tag = static_cast<uint8_t>(*p++);
  if (tag == kStringValueTag || tag == kBytesValueTag) {
    uint32_t len = 0;
    p = wire_internal::ReadLength(p, end, &len);
    if (p == nullptr || p + len != end) return false;
    *out = WireValue{tag == kStringValueTag ? Kind::kString : Kind::kBytes, {p, len}, 0};
    return true;
  }
  if (tag == kBoolValueTag || tag == kIntValueTag) {
    uint64_t v = 0;
    p = wire_internal::ReadVarint64(p, end, &v);
    if (p != end) return false;
    *out = WireValue{tag == kBoolValueTag ? Kind::kBool : Kind::kInt, {}, v};
    return true;
  }
  if (tag == kDoubleValueTag && end - p == 8) {
    *out = WireValue{Kind::kDouble, {}, wire_internal::Load64(p)};
    return true;
  }
  return false;
}

// The usual encoding of a KeyValue: its key, then its value, each once (or no value). False for
// anything else, which DecodeKeyValue reads.
bool DecodeUsualKeyValue(std::string_view key_value, WireAttribute* out) {
  const char* p = key_value.data();
  const char* end = p + key_value.size();
  if (p == end || static_cast<uint8_t>(*p) != kKeyTag) return false;
  uint32_t len = 0;
  p = wire_internal::ReadLength(p + 1, end, &len);
  if (p == nullptr) return false;
  out->key = std::string_view(p, len);
  p += len;
  if (p == end) {
    out->value = WireValue{};
    return true;
  }
  if (static_cast<uint8_t>(*p) != kValueTag) return false;
  p = wire_internal::ReadLength(p + 1, end, &len);
  if (p == nullptr || p + len != end) return false;
  return DecodeUsualValue(p, end, &out->value);
}

// Appends the KeyValue `key_value` to `*attributes`.
bool AppendAttribute(std::string_view key_value, WireTraces* traces,
                     std::vector<WireAttribute>* attributes) {
  WireAttribute a;
  if (!DecodeUsualKeyValue(key_value, &a)) {
    a = WireAttribute{};
    if (!DecodeKeyValue(key_value, traces, &a)) return false;
  }
  attributes->push_back(a);
  return true;
}

bool DecodeEvent(std::string_view event, WireTraces* out) {
  WireTraces::Event e;
  e.attributes.begin = Size(out->event_attributes.size());
  bool ok = true;
  ok &= ForEachField(event, [&](const Field& f) {
    if (f.type != kLengthDelimited) return;
    if (f.number == kEventName) e.name = f.bytes;
    if (f.number == kEventAttributes) ok &= AppendAttribute(f.bytes, out, &out->event_attributes);
  });
  e.attributes.end = Size(out->event_attributes.size());
  out->events.push_back(e);
  return ok;
}

// A Span: the fields ApplySpanField reads, its attributes and its events.
bool DecodeSpan(std::string_view bytes, WireTraces* out) {
  WireTraces::Span s;
  s.attributes.begin = Size(out->span_attributes.size());
  s.events.begin = Size(out->events.size());
  bool ok = true;
  ok &= ForEachField(bytes, [&](const Field& f) {
    if (f.number == kSpanAttributes && f.type == kLengthDelimited) {
      ok &= AppendAttribute(f.bytes, out, &out->span_attributes);
    } else if (f.number == kSpanEvents && f.type == kLengthDelimited) {
      ok &= DecodeEvent(f.bytes, out);
    } else {
      ok &= wire_internal::ApplySpanField(f, &s);
    }
  });
  s.attributes.end = Size(out->span_attributes.size());
  s.events.end = Size(out->events.size());
  out->spans.push_back(s);
  return ok;
}

bool DecodeScopeSpans(std::string_view bytes, WireTraces* out) {
  WireTraces::Scope scope;
  scope.spans.begin = Size(out->spans.size());
  bool ok = true;
  ok &= ForEachField(bytes, [&](const Field& f) {
    if (f.type != kLengthDelimited) return;
    if (f.number == kScopeSpansSpans) ok &= DecodeSpan(f.bytes, out);
    if (f.number != kScopeSpansScope) return;
    scope.has_scope = true;
    ok &= ForEachField(f.bytes, [&](const Field& s) {
      if (s.type != kLengthDelimited) return;
      if (s.number == kScopeName) scope.name = s.bytes;
      if (s.number == kScopeVersion) scope.version = s.bytes;
    });
  });
  scope.spans.end = Size(out->spans.size());
  out->scopes.push_back(scope);
  return ok;
}

bool DecodeResourceSpans(std::string_view bytes, WireTraces* out) {
  WireTraces::Resource r;
  r.attributes.begin = Size(out->resource_attributes.size());
  r.scopes.begin = Size(out->scopes.size());
  bool ok = true;
  ok &= ForEachField(bytes, [&](const Field& f) {
    if (f.type != kLengthDelimited) return;
    if (f.number == kResourceSpansScopeSpans) ok &= DecodeScopeSpans(f.bytes, out);
    if (f.number != kResourceSpansResource) return;
    ok &= ForEachField(f.bytes, [&](const Field& a) {
      if (a.number == kResourceAttributes && a.type == kLengthDelimited) {
        ok &= AppendAttribute(a.bytes, out, &out->resource_attributes);
      }
    });
  });
  r.attributes.end = Size(out->resource_attributes.size());
  r.scopes.end = Size(out->scopes.size());
  for (uint32_t i = r.attributes.begin; i < r.attributes.end; ++i) {
    const WireAttribute& a = out->resource_attributes[i];
    if (a.key == kServiceNameKey && a.value.kind == WireValue::Kind::kString) {
      r.service_attribute = i;
      break;
    }
  }
  out->resources.push_back(r);
  return ok;
}

}  // namespace

std::string_view WireTraces::ServiceName(const Resource& r) const {
  if (r.service_attribute < 0) return kUnknownServiceName;
  return resource_attributes[static_cast<size_t>(r.service_attribute)].value.bytes;
}

void WireTraces::Clear() {
  resources.clear();
  scopes.clear();
  spans.clear();
  events.clear();
  resource_attributes.clear();
  span_attributes.clear();
  event_attributes.clear();
  merged.clear();
}

std::optional<size_t> CountWireSpans(std::string_view bytes) {
  size_t spans = 0;
  auto each_message = [](std::string_view message, uint32_t number, auto&& fn) {
    return ForEachField(message, [&](const Field& f) {
      if (f.number == number && f.type == kLengthDelimited) fn(f.bytes);
    });
  };
  bool ok = true;
  ok &= each_message(bytes, kTracesDataResourceSpans, [&](std::string_view rs) {
    ok &= each_message(rs, kResourceSpansScopeSpans, [&](std::string_view ss) {
      ok &= each_message(ss, kScopeSpansSpans, [&](std::string_view) { ++spans; });
    });
  });
  if (!ok) return std::nullopt;
  return spans;
}

bool DecodeWireTraces(std::string_view bytes, WireTraces* out) {
  out->Clear();
  bool ok = true;
  ok &= ForEachField(bytes, [&](const Field& f) {
    if (f.number == kTracesDataResourceSpans && f.type == kLengthDelimited && ok) {
      ok &= DecodeResourceSpans(f.bytes, out);
    }
  });
  return ok;
}

}  // namespace tailtrace
