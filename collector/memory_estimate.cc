#include "collector/memory_estimate.h"

#include <string>

namespace tailtrace::collector {
namespace {

using google::protobuf::RepeatedPtrField;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;

// glibc malloc: 16-byte granularity plus a header word.
constexpr uint64_t Heap(uint64_t n) { return ((n + 8 + 15) / 16) * 16; }

// A non-empty string field: its std::string object (heap-allocated by protobuf) plus a buffer
// when it outgrows the small-string buffer.
uint64_t StringBytes(const std::string& s) {
  if (s.empty()) return 0;
  return Heap(sizeof(std::string)) + (s.size() > 15 ? Heap(s.size() + 1) : 0);
}

template <typename T>
uint64_t RepeatedBytes(const RepeatedPtrField<T>& field) {
  // The pointer array (with its header), grown by doubling: about 1.5 pointers per element.
  return field.empty() ? 0 : Heap(8 + field.size() * 12);
}

uint64_t ValueBytes(const AnyValue& value);

uint64_t AttributesBytes(const RepeatedPtrField<KeyValue>& attributes) {
  uint64_t total = RepeatedBytes(attributes);
  for (const KeyValue& kv : attributes) {
    total += Heap(sizeof(KeyValue)) + StringBytes(kv.key());
    if (kv.has_value()) total += ValueBytes(kv.value());
  }
  return total;
}

uint64_t ValueBytes(const AnyValue& value) {
  uint64_t total = Heap(sizeof(AnyValue));
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      total += StringBytes(value.string_value());
      break;
    case AnyValue::kBytesValue:
      total += StringBytes(value.bytes_value());
      break;
    case AnyValue::kArrayValue:
      total += Heap(sizeof(value.array_value())) + RepeatedBytes(value.array_value().values());
      for (const AnyValue& v : value.array_value().values()) total += ValueBytes(v);
      break;
    case AnyValue::kKvlistValue:
      total += Heap(sizeof(value.kvlist_value())) + AttributesBytes(value.kvlist_value().values());
      break;
    default:
      break;
  }
  return total;
}

}  // namespace

uint64_t EstimateMemoryBytes(const opentelemetry::proto::trace::v1::Span& span) {
  using opentelemetry::proto::trace::v1::Span;
  uint64_t total = Heap(sizeof(Span)) + StringBytes(span.trace_id()) + StringBytes(span.span_id()) +
                   StringBytes(span.parent_span_id()) + StringBytes(span.trace_state()) +
                   StringBytes(span.name()) + AttributesBytes(span.attributes());
  if (span.has_status())
    total += Heap(sizeof(span.status())) + StringBytes(span.status().message());
  total += RepeatedBytes(span.events());
  for (const Span::Event& e : span.events()) {
    total += Heap(sizeof(Span::Event)) + StringBytes(e.name()) + AttributesBytes(e.attributes());
  }
  total += RepeatedBytes(span.links());
  for (const Span::Link& l : span.links()) {
    total += Heap(sizeof(Span::Link)) + StringBytes(l.trace_id()) + StringBytes(l.span_id()) +
             StringBytes(l.trace_state()) + AttributesBytes(l.attributes());
  }
  return total;
}

uint64_t EstimateMemoryBytes(const opentelemetry::proto::resource::v1::Resource& resource) {
  return Heap(sizeof(resource)) + AttributesBytes(resource.attributes());
}

uint64_t EstimateMemoryBytes(const opentelemetry::proto::common::v1::InstrumentationScope& scope) {
  return Heap(sizeof(scope)) + StringBytes(scope.name()) + StringBytes(scope.version()) +
         AttributesBytes(scope.attributes());
}

}  // namespace tailtrace::collector
