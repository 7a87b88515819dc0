// Fuzz harness: DecodeWireTraces (proto/wire_traces.h), which reads a TracesData's wire bytes into
// the flat views the store's index reads. Invariant: it never crashes, and whatever protobuf
// parses as a TracesData it accepts, with every field of the view equal to the parsed message's:
// resources' service names and attributes, scopes, spans, events, and each attribute's value
// (kind, string and bytes contents, numbers bit for bit, a composite value's merged AnyValue);
// and CountWireSpans counts as many spans.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_wire_fields.h"
#include "proto/wire_traces.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using tailtrace::WireAttribute;
using tailtrace::WireRange;
using tailtrace::WireTraces;
using tailtrace::WireValue;
using Kind = WireValue::Kind;

// ServiceNameOf's rule: the first service.name attribute with a string value.
std::string_view ParsedServiceName(const ResourceSpans& rs) {
  for (const KeyValue& kv : rs.resource().attributes()) {
    if (kv.key() == "service.name" && kv.value().has_string_value()) {
      return kv.value().string_value();
    }
  }
  return tailtrace::kUnknownServiceName;
}

void CheckValue(const WireValue& v, const AnyValue& a) {
  switch (a.value_case()) {
    case AnyValue::VALUE_NOT_SET:
      FUZZ_CHECK(v.kind == Kind::kNone);
      break;
    case AnyValue::kStringValue:
      FUZZ_CHECK(v.kind == Kind::kString);
      FUZZ_CHECK(v.bytes == a.string_value());
      break;
    case AnyValue::kBoolValue:
      FUZZ_CHECK(v.kind == Kind::kBool);
      FUZZ_CHECK((v.number != 0) == a.bool_value());
      break;
    case AnyValue::kIntValue:
      FUZZ_CHECK(v.kind == Kind::kInt);
      FUZZ_CHECK(static_cast<int64_t>(v.number) == a.int_value());
      break;
    case AnyValue::kDoubleValue:
      FUZZ_CHECK(v.kind == Kind::kDouble);
      FUZZ_CHECK(v.number == std::bit_cast<uint64_t>(a.double_value()));
      break;
    case AnyValue::kBytesValue:
      FUZZ_CHECK(v.kind == Kind::kBytes);
      FUZZ_CHECK(v.bytes == a.bytes_value());
      break;
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      FUZZ_CHECK(v.kind == Kind::kComposite);
      // The merged AnyValue bytes parse to the same value (serialized bytes compare NaNs and
      // unknown fields exactly).
      AnyValue merged;
      FUZZ_CHECK(merged.ParseFromString(std::string(v.bytes)));
      FUZZ_CHECK(merged.SerializeAsString() == a.SerializeAsString());
      break;
    }
  }
}

void CheckAttributes(const std::vector<WireAttribute>& all, WireRange range,
                     const google::protobuf::RepeatedPtrField<KeyValue>& parsed) {
  FUZZ_CHECK(range.begin <= range.end && range.end <= all.size());
  FUZZ_CHECK(range.size() == static_cast<uint32_t>(parsed.size()));
  for (int i = 0; i < parsed.size(); ++i) {
    const WireAttribute& a = all[range.begin + i];
    FUZZ_CHECK(a.key == parsed[i].key());
    CheckValue(a.value, parsed[i].value());
  }
}

void CheckSpan(const WireTraces& w, const WireTraces::Span& s, const Span& p) {
  FUZZ_CHECK(s.span_id == p.span_id());
  FUZZ_CHECK(s.parent_span_id == p.parent_span_id());
  FUZZ_CHECK(s.name == p.name());
  FUZZ_CHECK(s.trace_state == p.trace_state());
  FUZZ_CHECK(s.kind == static_cast<int>(p.kind()));
  FUZZ_CHECK(s.start_ns == p.start_time_unix_nano());
  FUZZ_CHECK(s.end_ns == p.end_time_unix_nano());
  FUZZ_CHECK(s.status_code == static_cast<int>(p.status().code()));
  FUZZ_CHECK(s.status_message == p.status().message());
  CheckAttributes(w.span_attributes, s.attributes, p.attributes());
  FUZZ_CHECK(s.events.begin <= s.events.end && s.events.end <= w.events.size());
  FUZZ_CHECK(s.events.size() == static_cast<uint32_t>(p.events_size()));
  for (int e = 0; e < p.events_size(); ++e) {
    const WireTraces::Event& event = w.events[s.events.begin + e];
    FUZZ_CHECK(event.name == p.events(e).name());
    CheckAttributes(w.event_attributes, event.attributes, p.events(e).attributes());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  WireTraces w;
  const bool decoded = tailtrace::DecodeWireTraces(bytes, &w);
  TracesData parsed;
  if (!parsed.ParseFromString(bytes)) return 0;
  FUZZ_CHECK(decoded);

  FUZZ_CHECK(w.resources.size() == static_cast<size_t>(parsed.resource_spans_size()));
  uint32_t scopes = 0;
  uint32_t spans = 0;
  for (int r = 0; r < parsed.resource_spans_size(); ++r) {
    const ResourceSpans& rs = parsed.resource_spans(r);
    const WireTraces::Resource& res = w.resources[r];
    FUZZ_CHECK(w.ServiceName(res) == ParsedServiceName(rs));
    CheckAttributes(w.resource_attributes, res.attributes, rs.resource().attributes());
    FUZZ_CHECK(res.scopes.begin == scopes && res.scopes.end <= w.scopes.size());
    FUZZ_CHECK(res.scopes.size() == static_cast<uint32_t>(rs.scope_spans_size()));
    for (const auto& ss : rs.scope_spans()) {
      const WireTraces::Scope& scope = w.scopes[scopes++];
      FUZZ_CHECK(scope.has_scope == ss.has_scope());
      FUZZ_CHECK(scope.name == ss.scope().name());
      FUZZ_CHECK(scope.version == ss.scope().version());
      FUZZ_CHECK(scope.spans.begin == spans && scope.spans.end <= w.spans.size());
      FUZZ_CHECK(scope.spans.size() == static_cast<uint32_t>(ss.spans_size()));
      for (const Span& span : ss.spans()) CheckSpan(w, w.spans[spans++], span);
    }
  }
  FUZZ_CHECK(scopes == w.scopes.size() && spans == w.spans.size());
  FUZZ_CHECK(tailtrace::CountWireSpans(bytes) == w.spans.size());
  return 0;
}
