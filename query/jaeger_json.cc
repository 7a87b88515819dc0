#include "query/jaeger_json.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "proto/any_value_text.h"
#include "proto/otlp_wire_fields.h"
#include "proto/span_kind.h"
#include "storage/span_tags.h"

// Rendering writes into a JsonBuffer with literal fragments rather than through rapidjson's
// Writer: every value is followed by ',' and JsonBuffer::Close replaces the last separator of an
// array or object by its closing bracket. The bytes are the ones the Writer wrote (see
// json_buffer.h; tests/query/jaeger_json_golden_test.cc compares both renderings).

namespace tailtrace::query {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;

// The fixed bytes of a tag object: {"key":,"type":"float64","value":},
constexpr size_t kTagBytes = 40;

// {"key":<key>,"type":"<type>","value":  (the caller writes the value, then EndTag).
char* PutTagStart(char* p, std::string_view key, std::string_view type) {
  p = JsonBuffer::PutRaw(p, R"({"key":)");
  p = JsonBuffer::PutString(p, key);
  p = JsonBuffer::PutRaw(p, R"(,"type":")");
  p = JsonBuffer::PutRaw(p, type);
  return JsonBuffer::PutRaw(p, R"(","value":)");
}

void WriteStringTag(JsonBuffer& b, std::string_view key, std::string_view value) {
  char* p = b.Ensure(kTagBytes + JsonBuffer::MaxStringBytes(key.size()) +
                     JsonBuffer::MaxStringBytes(value.size()));
  p = PutTagStart(p, key, "string");
  p = JsonBuffer::PutString(p, value);
  b.Commit(JsonBuffer::PutRaw(p, "},"));
}

void WriteBoolTag(JsonBuffer& b, std::string_view key, bool value) {
  char* p = b.Ensure(kTagBytes + JsonBuffer::MaxStringBytes(key.size()) + 5);
  p = PutTagStart(p, key, "bool");
  p = JsonBuffer::PutRaw(p, value ? "true" : "false");
  b.Commit(JsonBuffer::PutRaw(p, "},"));
}

void WriteInt64Tag(JsonBuffer& b, std::string_view key, int64_t value) {
  char* p = b.Ensure(kTagBytes + JsonBuffer::MaxStringBytes(key.size()));
  b.Commit(PutTagStart(p, key, "int64"));
  b.Int64(value);
  b.Raw("},");
}

void WriteDoubleTag(JsonBuffer& b, std::string_view key, double value) {
  if (!std::isfinite(value)) {
    WriteStringTag(b, key, NonFiniteName(value));
    return;
  }
  char* p = b.Ensure(kTagBytes + JsonBuffer::MaxStringBytes(key.size()));
  b.Commit(PutTagStart(p, key, "float64"));
  b.Double(value);
  b.Raw("},");
}

// One OTLP attribute as a typed Jaeger tag (also used for log fields and process tags).
void WriteAttributeTag(JsonBuffer& b, const common::KeyValue& kv) {
  const common::AnyValue& v = kv.value();
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      WriteStringTag(b, kv.key(), v.string_value());
      return;
    case common::AnyValue::kBoolValue:
      WriteBoolTag(b, kv.key(), v.bool_value());
      return;
    case common::AnyValue::kIntValue:
      WriteInt64Tag(b, kv.key(), v.int_value());
      return;
    case common::AnyValue::kDoubleValue:
      WriteDoubleTag(b, kv.key(), v.double_value());
      return;
    case common::AnyValue::kBytesValue: {
      const std::string base64 = absl::Base64Escape(v.bytes_value());
      char* p = b.Ensure(kTagBytes + JsonBuffer::MaxStringBytes(kv.key().size()) +
                         JsonBuffer::MaxStringBytes(base64.size()));
      p = PutTagStart(p, kv.key(), "binary");
      p = JsonBuffer::PutString(p, base64);
      b.Commit(JsonBuffer::PutRaw(p, "},"));
      return;
    }
    case common::AnyValue::kArrayValue:
    case common::AnyValue::kKvlistValue:
      WriteStringTag(b, kv.key(), PlainJson(v));
      return;
    case common::AnyValue::VALUE_NOT_SET:
      break;
  }
  WriteStringTag(b, kv.key(), "");
}

// Nanoseconds since the epoch (or a nanosecond duration) in whole microseconds, truncated.
uint64_t Micros(uint64_t nanos) { return nanos / 1000; }

// The process object of a resource: {"serviceName": service.name or "unknown_service", "tags":
// the other attributes stable-sorted by key}, written into `b` (which is cleared first).
void RenderProcess(const trace_v1::ResourceSpans& rs, std::vector<const common::KeyValue*>& tags,
                   JsonBuffer& b) {
  const common::KeyValue* service = nullptr;
  for (const auto& kv : rs.resource().attributes()) {
    if (kv.key() == kServiceNameKey && kv.value().has_string_value()) {
      service = &kv;
      break;
    }
  }
  tags.clear();
  for (const auto& kv : rs.resource().attributes()) {
    if (&kv != service) tags.push_back(&kv);
  }
  std::stable_sort(
      tags.begin(), tags.end(),
      [](const common::KeyValue* a, const common::KeyValue* b) { return a->key() < b->key(); });
  b.Clear();
  b.Raw(R"({"serviceName":)");
  b.String(service != nullptr ? std::string_view(service->value().string_value())
                              : kUnknownServiceName);
  b.Raw(R"(,"tags":[)");
  for (const common::KeyValue* kv : tags) WriteAttributeTag(b, *kv);
  b.Close(']');
  b.Char('}');
}

struct SpanRef {
  const trace_v1::Span* span;
  const common::InstrumentationScope* scope;
  size_t process;  // index into the process list
};

// {"refType":<type>,"traceID":<trace_hex>,"spanID":"<hex>"},  trace_hex is quoted already.
void WriteReference(JsonBuffer& b, std::string_view ref_type, std::string_view trace_hex,
                    std::string_view span_id) {
  char* p = b.Ensure(64 + ref_type.size() + trace_hex.size() + 2 * span_id.size());
  p = JsonBuffer::PutRaw(p, R"({"refType":")");
  p = JsonBuffer::PutRaw(p, ref_type);
  p = JsonBuffer::PutRaw(p, R"(","traceID":)");
  p = JsonBuffer::PutRaw(p, trace_hex);
  p = JsonBuffer::PutRaw(p, R"(,"spanID":)");
  p = JsonBuffer::PutHexString(p, span_id);
  b.Commit(JsonBuffer::PutRaw(p, "},"));
}

// The tags of a span: its attributes, then the ones derived from scope, kind, status, trace
// state and (root spans) the sampling decision.
void WriteSpanTags(JsonBuffer& b, const SpanRef& ref, bool is_root,
                   const storage::StoredTrace& trace) {
  const trace_v1::Span& span = *ref.span;
  for (const auto& kv : span.attributes()) WriteAttributeTag(b, kv);
  // The same derived tags the index searches (storage/span_tags.h).
  auto write = [&b](std::string_view key, std::string_view value, storage::DerivedTagType type) {
    if (type == storage::DerivedTagType::kBool) {
      WriteBoolTag(b, key, value == "true");
    } else {
      WriteStringTag(b, key, value);
    }
  };
  if (ref.scope != nullptr) storage::ForEachScopeTag(*ref.scope, write);
  storage::ForEachDerivedSpanTag(span, write);
  if (is_root) {  // the trace's decision, as a search finds it (storage/trace_store.h)
    if (storage::HasSamplingPolicyTag(trace.sampling_policy)) {
      WriteStringTag(b, storage::kSamplingPolicyTag, trace.sampling_policy);
    }
    if (storage::HasSamplingRateTag(trace.sample_rate)) {
      WriteDoubleTag(b, storage::kSamplingRateTag, trace.sample_rate);
    }
  }
}

// One span object followed by ','. `trace_hex` is the quoted trace ID.
void WriteSpan(JsonBuffer& b, const SpanRef& ref, std::string_view trace_hex, bool is_root,
               const storage::StoredTrace& trace) {
  const trace_v1::Span& span = *ref.span;
  char* p = b.Ensure(64 + trace_hex.size() + 2 * span.span_id().size() +
                     JsonBuffer::MaxStringBytes(span.name().size()));
  p = JsonBuffer::PutRaw(p, R"({"traceID":)");
  p = JsonBuffer::PutRaw(p, trace_hex);
  p = JsonBuffer::PutRaw(p, R"(,"spanID":)");
  p = JsonBuffer::PutHexString(p, span.span_id());
  p = JsonBuffer::PutRaw(p, R"(,"operationName":)");
  p = JsonBuffer::PutString(p, span.name());
  b.Commit(JsonBuffer::PutRaw(p, R"(,"references":[)"));
  if (!span.parent_span_id().empty()) {
    WriteReference(b, "CHILD_OF", trace_hex, span.parent_span_id());
  }
  for (const auto& link : span.links()) {
    if (link.trace_id().empty()) {
      WriteReference(b, "FOLLOWS_FROM", trace_hex, link.span_id());
    } else {
      JsonBuffer link_hex;
      link_hex.HexString(link.trace_id());
      WriteReference(b, "FOLLOWS_FROM", link_hex.view(), link.span_id());
    }
  }
  b.Close(']');

  const uint64_t start_ns = span.start_time_unix_nano();
  const uint64_t end_ns = span.end_time_unix_nano();
  p = b.Ensure(64);
  p = JsonBuffer::PutRaw(p, R"(,"startTime":)");
  p = JsonBuffer::PutUint64(p, Micros(start_ns));
  p = JsonBuffer::PutRaw(p, R"(,"duration":)");
  p = JsonBuffer::PutUint64(p, end_ns > start_ns ? Micros(end_ns - start_ns) : 0);
  b.Commit(JsonBuffer::PutRaw(p, R"(,"tags":[)"));
  WriteSpanTags(b, ref, is_root, trace);
  b.Close(']');

  b.Raw(R"(,"logs":[)");
  for (const auto& event : span.events()) {
    p = b.Ensure(64);
    p = JsonBuffer::PutRaw(p, R"({"timestamp":)");
    p = JsonBuffer::PutUint64(p, Micros(event.time_unix_nano()));
    b.Commit(JsonBuffer::PutRaw(p, R"(,"fields":[)"));
    if (!event.name().empty()) WriteStringTag(b, "event", event.name());
    for (const auto& kv : event.attributes()) WriteAttributeTag(b, kv);
    b.Close(']');
    b.Raw("},");
  }
  b.Close(']');

  p = b.Ensure(96);
  p = JsonBuffer::PutRaw(p, R"(,"processID":"p)");
  p = JsonBuffer::PutUint64(p, ref.process + 1);
  p = JsonBuffer::PutRaw(p, R"(","warnings":null,"flags":)");
  p = JsonBuffer::PutUint64(p, span.flags() & trace_v1::SPAN_FLAGS_TRACE_FLAGS_MASK);
  b.Commit(JsonBuffer::PutRaw(p, "},"));
}

// An upper estimate of an attribute's rendered tag (escapes aside): fixed bytes, key and value.
size_t TagBytesEstimate(const common::KeyValue& kv) {
  const common::AnyValue& v = kv.value();
  size_t value = 24;
  if (v.has_string_value()) {
    value = v.string_value().size();
  } else if (v.has_bytes_value()) {
    value = v.bytes_value().size() * 4 / 3 + 4;
  } else if (v.has_array_value() || v.has_kvlist_value()) {
    value = 128;
  }
  return kTagBytes + 4 + kv.key().size() + value;
}

}  // namespace

size_t EstimateJaegerTraceBytes(const storage::StoredTrace& trace) {
  // Per span: the fixed members and a parent reference (~330 bytes) plus the derived tags
  // (kind, status, scope, sampling: ~270 bytes).
  constexpr size_t kSpanBytes = 600;
  size_t bytes = 128;
  for (const auto& rs : trace.data.resource_spans()) {
    bytes += 64;
    for (const auto& kv : rs.resource().attributes()) bytes += TagBytesEstimate(kv);
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        bytes += kSpanBytes + span.name().size() + 128 * span.links_size();
        for (const auto& kv : span.attributes()) bytes += TagBytesEstimate(kv);
        for (const auto& event : span.events()) {
          bytes += 96 + event.name().size();
          for (const auto& kv : event.attributes()) bytes += TagBytesEstimate(kv);
        }
      }
    }
  }
  return bytes;
}

std::string_view SpanKindName(int otlp_span_kind) {
  return tailtrace::SpanKindName(otlp_span_kind);
}

void AppendJaegerTrace(const storage::StoredTrace& trace, JsonBuffer& out) {
  // One allocation for the whole trace rather than a series of doublings (each a copy, and
  // fresh pages to fault in for large traces).
  out.Reserve(EstimateJaegerTraceBytes(trace));
  // Processes, deduplicated by their rendered JSON (service name + sorted tags), numbered in
  // order of first appearance.
  std::deque<std::string> process_json;  // stable addresses for the map's keys
  std::unordered_map<std::string_view, size_t> process_index;
  std::vector<SpanRef> spans;
  std::vector<std::string_view> span_ids;
  {
    JsonBuffer scratch;
    std::vector<const common::KeyValue*> tags;
    for (const auto& rs : trace.data.resource_spans()) {
      RenderProcess(rs, tags, scratch);
      size_t process = process_json.size();
      if (auto it = process_index.find(scratch.view()); it != process_index.end()) {
        process = it->second;
      } else {
        process_json.emplace_back(scratch.view());
        process_index.emplace(process_json.back(), process);
      }
      for (const auto& ss : rs.scope_spans()) {
        const common::InstrumentationScope* scope = ss.has_scope() ? &ss.scope() : nullptr;
        for (const auto& span : ss.spans()) {
          spans.push_back(SpanRef{&span, scope, process});
          span_ids.push_back(span.span_id());
        }
      }
    }
  }
  std::stable_sort(spans.begin(), spans.end(), [](const SpanRef& a, const SpanRef& b) {
    return a.span->start_time_unix_nano() < b.span->start_time_unix_nano();
  });
  std::sort(span_ids.begin(), span_ids.end());

  // The quoted trace ID, written once per span and reference.
  char trace_hex_buf[2 * kTraceIdBytes + 2];
  const std::string_view trace_hex(
      trace_hex_buf,
      static_cast<size_t>(JsonBuffer::PutHexString(trace_hex_buf, trace.trace_id.view()) -
                          trace_hex_buf));

  out.Raw(R"({"traceID":)");
  out.Raw(trace_hex);
  out.Raw(R"(,"spans":[)");
  for (const SpanRef& ref : spans) {
    const std::string& parent = ref.span->parent_span_id();
    const bool is_root =
        parent.empty() || !std::binary_search(span_ids.begin(), span_ids.end(), parent);
    WriteSpan(out, ref, trace_hex, is_root, trace);
  }
  out.Close(']');
  out.Raw(R"(,"processes":{)");
  for (size_t i = 0; i < process_json.size(); ++i) {
    char* p = out.Ensure(32);
    p = JsonBuffer::PutRaw(p, R"("p)");
    p = JsonBuffer::PutUint64(p, i + 1);
    out.Commit(JsonBuffer::PutRaw(p, R"(":)"));
    out.Raw(process_json[i]);
    out.Char(',');
  }
  out.Close('}');
  out.Raw(R"(,"warnings":null})");
}

void WriteJaegerTrace(const storage::StoredTrace& trace, JsonWriter& w) {
  JsonBuffer b;
  AppendJaegerTrace(trace, b);
  w.RawValue(b.view().data(), b.size(), rapidjson::kObjectType);
}

std::string RenderJaegerTrace(const storage::StoredTrace& trace) {
  JsonBuffer b;
  AppendJaegerTrace(trace, b);
  return b.Release();
}

}  // namespace tailtrace::query
