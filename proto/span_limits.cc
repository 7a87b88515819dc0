// ApplySpanLimits (proto/otlp_wire.h): the rare path that rewrites the spans a scan found over
// the limits.

#include <cstdint>
#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_wire.h"

namespace tailtrace {
namespace {

using ::opentelemetry::proto::common::v1::AnyValue;
using ::opentelemetry::proto::common::v1::KeyValue;
using ::opentelemetry::proto::trace::v1::Span;

// The longest prefix of `s` of at most `max_bytes` bytes that ends on a UTF-8 character
// boundary (s is valid UTF-8: the scan checked it).
size_t Utf8PrefixLength(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  size_t n = max_bytes;
  // Back off continuation bytes (10xxxxxx) so the cut is before a character's first byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return n;
}

// Cuts the string values of `value` (and of the strings in an array value) to `max_bytes`.
void TruncateValue(AnyValue* value, uint32_t max_bytes, SpanLimitsApplied* applied) {
  if (value->has_string_value()) {
    std::string* s = value->mutable_string_value();
    if (s->size() > max_bytes) {
      s->resize(Utf8PrefixLength(*s, max_bytes));
      ++applied->truncated_values;
    }
  } else if (value->has_array_value()) {
    for (AnyValue& element : *value->mutable_array_value()->mutable_values()) {
      if (element.has_string_value()) TruncateValue(&element, max_bytes, applied);
    }
  }
}

// Drops the elements of `field` past `limit` (0: none dropped); the number dropped.
template <typename T>
uint32_t DropPast(google::protobuf::RepeatedPtrField<T>* field, uint32_t limit) {
  if (limit == 0 || static_cast<uint32_t>(field->size()) <= limit) return 0;
  const int dropped = field->size() - static_cast<int>(limit);
  field->DeleteSubrange(static_cast<int>(limit), dropped);
  return static_cast<uint32_t>(dropped);
}

// Applies the attribute count and value length limits to `attributes`; the number dropped.
uint32_t LimitAttributes(google::protobuf::RepeatedPtrField<KeyValue>* attributes,
                         uint32_t max_count, const SpanLimits& limits, SpanLimitsApplied* applied) {
  const uint32_t dropped = DropPast(attributes, max_count);
  applied->dropped_attributes += dropped;
  if (limits.max_attribute_value_length != 0) {
    for (KeyValue& kv : *attributes) {
      TruncateValue(kv.mutable_value(), limits.max_attribute_value_length, applied);
    }
  }
  return dropped;
}

void LimitSpan(const SpanLimits& limits, Span* span, SpanLimitsApplied* applied) {
  span->set_dropped_attributes_count(
      span->dropped_attributes_count() +
      LimitAttributes(span->mutable_attributes(), limits.max_attributes_per_span, limits, applied));
  const uint32_t dropped_events = DropPast(span->mutable_events(), limits.max_events_per_span);
  span->set_dropped_events_count(span->dropped_events_count() + dropped_events);
  applied->dropped_events += dropped_events;
  for (Span::Event& event : *span->mutable_events()) {
    event.set_dropped_attributes_count(event.dropped_attributes_count() +
                                       LimitAttributes(event.mutable_attributes(),
                                                       limits.max_attributes_per_event, limits,
                                                       applied));
  }
  const uint32_t dropped_links = DropPast(span->mutable_links(), limits.max_links_per_span);
  span->set_dropped_links_count(span->dropped_links_count() + dropped_links);
  applied->dropped_links += dropped_links;
  for (Span::Link& link : *span->mutable_links()) {
    link.set_dropped_attributes_count(link.dropped_attributes_count() +
                                      LimitAttributes(link.mutable_attributes(),
                                                      limits.max_attributes_per_link, limits,
                                                      applied));
  }
}

}  // namespace

SpanLimitsApplied ApplySpanLimits(const SpanLimits& limits, WireRequest* request) {
  SpanLimitsApplied applied;
  Span span;
  std::string rewritten;
  for (uint32_t index : request->spans_over_limits) {
    WireSpan& wire = request->spans[index];
    span.Clear();
    // The scan checked these bytes; a span protobuf refuses (it cannot happen) is left as is.
    if (!span.ParseFromArray(request->bytes.data() + wire.offset, static_cast<int>(wire.size))) {
      continue;
    }
    const SpanLimitsApplied before = applied;
    LimitSpan(limits, &span, &applied);
    if (applied.dropped_attributes == before.dropped_attributes &&
        applied.dropped_events == before.dropped_events &&
        applied.dropped_links == before.dropped_links &&
        applied.truncated_values == before.truncated_values) {
      continue;  // within the limits after all (counted per span, not per event or link)
    }
    rewritten.clear();
    span.SerializeToString(&rewritten);
    // About the size of the span it replaces (at most a few bytes more), so offsets stay far
    // below 4 GiB (requests are < 2 GiB).
    wire.offset = static_cast<uint32_t>(request->bytes.size());
    wire.size = static_cast<uint32_t>(rewritten.size());
    // Only attributes, events and links changed, but the name moved with the rest.
    if (WireSpanFields fields; ReadWireSpanFields(rewritten, &fields)) {
      SetWireSpanFields(rewritten, fields, &wire);
    }
    request->bytes.append(rewritten);
    ++applied.spans;
  }
  request->spans_over_limits.clear();
  return applied;
}

}  // namespace tailtrace
