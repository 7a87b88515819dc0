#pragma once

// A TracesData read from its wire bytes into flat arrays of views, in one pass and without
// protobuf objects: what the store's index reads from a trace's spans (service names, names,
// times, kind, status, trace state, attributes, events, scope name and version). It agrees with
// what protobuf would parse from the same bytes: a scalar field that occurs more than once takes
// its last value, a message field's occurrences merge, and a field whose wire type is not the
// declared one is an unknown field. Strings are not checked for UTF-8 (ScanExportRequest checks
// them when the spans are received); the bytes of a ExportTraceServiceRequest or of a stored
// SpanChunk read the same, their other fields being unknown here.
//
// Every view points into the decoded bytes or into the WireTraces itself (`merged`): the bytes
// must outlive the WireTraces, and the WireTraces its views.

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/otlp_wire_fields.h"

namespace tailtrace {

// An AnyValue as it merges from its occurrences.
struct WireValue {
  enum class Kind : uint8_t {
    kNone,       // no member of the oneof set
    kString,     // `bytes` is the string
    kBool,       // `number` != 0
    kInt,        // `number` is the int64's bits
    kDouble,     // `number` is the double's bits
    kBytes,      // `bytes` is the value
    kComposite,  // an array or a key-value list: `bytes` is the AnyValue message (merged)
  };
  Kind kind = Kind::kNone;
  std::string_view bytes;
  uint64_t number = 0;
};

struct WireAttribute {
  std::string_view key;
  WireValue value;
};

// Elements [begin, end) of one of WireTraces' arrays.
struct WireRange {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t size() const { return end - begin; }
};

struct WireTraces {
  struct Resource {
    WireRange attributes;  // in resource_attributes
    // The service.name attribute (the first with that key and a string value), as an index
    // into resource_attributes, or -1.
    int64_t service_attribute = -1;
    WireRange scopes;
  };
  struct Scope {
    bool has_scope = false;  // InstrumentationScope set
    std::string_view name;
    std::string_view version;
    WireRange spans;
  };
  struct Span : WireSpanFields {
    WireRange attributes;  // in span_attributes
    WireRange events;      // in events
  };
  struct Event {
    std::string_view name;
    WireRange attributes;  // in event_attributes
  };

  std::vector<Resource> resources;
  std::vector<Scope> scopes;
  std::vector<Span> spans;
  std::vector<Event> events;
  std::vector<WireAttribute> resource_attributes;
  std::vector<WireAttribute> span_attributes;
  std::vector<WireAttribute> event_attributes;
  // The AnyValue bytes of values set more than once, concatenated (protobuf merges them so). A
  // list: its strings stay put as it grows, and an empty one allocates nothing.
  std::list<std::string> merged;

  // The value of the resource's service.name attribute, or kUnknownServiceName.
  std::string_view ServiceName(const Resource& r) const;
  void Clear();
};

// Decodes the TracesData bytes `bytes` into `*out` (cleared first). False when the bytes are
// malformed; `*out` then holds what came before the problem.
[[nodiscard]] bool DecodeWireTraces(std::string_view bytes, WireTraces* out);

// The number of spans in the TracesData bytes `bytes`, counted without decoding them; nullopt
// when the resource or scope levels are malformed.
std::optional<size_t> CountWireSpans(std::string_view bytes);

}  // namespace tailtrace
