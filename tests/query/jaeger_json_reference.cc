// The pre-JsonBuffer Jaeger rendering (see jaeger_json_reference.h), unchanged but for names.

#include "tests/query/jaeger_json_reference.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_set>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "proto/any_value_text.h"
#include "proto/otlp_ids.h"
#include "proto/span_kind.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace::query::reference {
namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kServiceNameKey = "service.name";
constexpr std::string_view kUnknownService = "unknown_service";

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteKey(JsonWriter& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

std::string Base64(const std::string& bytes) { return absl::Base64Escape(bytes); }

void BeginTag(JsonWriter& w, std::string_view key, std::string_view type) {
  w.StartObject();
  WriteKey(w, "key");
  WriteString(w, key);
  WriteKey(w, "type");
  WriteString(w, type);
  WriteKey(w, "value");
}

void WriteStringTag(JsonWriter& w, std::string_view key, std::string_view value) {
  BeginTag(w, key, "string");
  WriteString(w, value);
  w.EndObject();
}

void WriteBoolTag(JsonWriter& w, std::string_view key, bool value) {
  BeginTag(w, key, "bool");
  w.Bool(value);
  w.EndObject();
}

void WriteDoubleTag(JsonWriter& w, std::string_view key, double value) {
  if (!std::isfinite(value)) {
    WriteStringTag(w, key, NonFiniteName(value));
    return;
  }
  BeginTag(w, key, "float64");
  w.Double(value);
  w.EndObject();
}

// One OTLP attribute as a typed Jaeger tag (also used for log fields).
void WriteAttributeTag(JsonWriter& w, const common::KeyValue& kv) {
  const common::AnyValue& v = kv.value();
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      WriteStringTag(w, kv.key(), v.string_value());
      return;
    case common::AnyValue::kBoolValue:
      WriteBoolTag(w, kv.key(), v.bool_value());
      return;
    case common::AnyValue::kIntValue:
      BeginTag(w, kv.key(), "int64");
      w.Int64(v.int_value());
      w.EndObject();
      return;
    case common::AnyValue::kDoubleValue:
      WriteDoubleTag(w, kv.key(), v.double_value());
      return;
    case common::AnyValue::kBytesValue:
      BeginTag(w, kv.key(), "binary");
      WriteString(w, Base64(v.bytes_value()));
      w.EndObject();
      return;
    case common::AnyValue::kArrayValue:
    case common::AnyValue::kKvlistValue:
      WriteStringTag(w, kv.key(), PlainJson(v));
      return;
    case common::AnyValue::VALUE_NOT_SET:
      break;
  }
  WriteStringTag(w, kv.key(), "");
}

// Nanoseconds since the epoch (or a nanosecond duration) in whole microseconds, truncated.
uint64_t Micros(uint64_t nanos) { return nanos / 1000; }

struct Process {
  std::string service_name;
  // Resource attributes except the service.name used above, stable-sorted by key.
  std::vector<const common::KeyValue*> tags;
};

Process ProcessOf(const trace_v1::ResourceSpans& rs) {
  Process p;
  const common::KeyValue* service = nullptr;
  for (const auto& kv : rs.resource().attributes()) {
    if (service == nullptr && kv.key() == kServiceNameKey && kv.value().has_string_value()) {
      service = &kv;
    }
  }
  p.service_name = service != nullptr ? service->value().string_value() : kUnknownService;
  for (const auto& kv : rs.resource().attributes()) {
    if (&kv != service) p.tags.push_back(&kv);
  }
  std::stable_sort(
      p.tags.begin(), p.tags.end(),
      [](const common::KeyValue* a, const common::KeyValue* b) { return a->key() < b->key(); });
  return p;
}

std::string ProcessJson(const Process& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteKey(w, "serviceName");
  WriteString(w, p.service_name);
  WriteKey(w, "tags");
  w.StartArray();
  for (const common::KeyValue* kv : p.tags) WriteAttributeTag(w, *kv);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

struct SpanRef {
  const trace_v1::Span* span;
  const common::InstrumentationScope* scope;
  size_t process;  // index into the process list
};

void WriteReference(JsonWriter& w, std::string_view ref_type, std::string_view trace_id_hex,
                    const std::string& span_id) {
  w.StartObject();
  WriteKey(w, "refType");
  WriteString(w, ref_type);
  WriteKey(w, "traceID");
  WriteString(w, trace_id_hex);
  WriteKey(w, "spanID");
  WriteString(w, HexEncode(span_id));
  w.EndObject();
}

void WriteSpan(JsonWriter& w, const SpanRef& ref, const std::string& trace_hex, bool is_root,
               const storage::StoredTrace& trace) {
  const trace_v1::Span& span = *ref.span;
  w.StartObject();
  WriteKey(w, "traceID");
  WriteString(w, trace_hex);
  WriteKey(w, "spanID");
  WriteString(w, HexEncode(span.span_id()));
  WriteKey(w, "operationName");
  WriteString(w, span.name());

  WriteKey(w, "references");
  w.StartArray();
  if (!span.parent_span_id().empty()) {
    WriteReference(w, "CHILD_OF", trace_hex, span.parent_span_id());
  }
  for (const auto& link : span.links()) {
    const std::string link_trace = link.trace_id().empty() ? trace_hex : HexEncode(link.trace_id());
    WriteReference(w, "FOLLOWS_FROM", link_trace, link.span_id());
  }
  w.EndArray();

  const uint64_t start_ns = span.start_time_unix_nano();
  const uint64_t end_ns = span.end_time_unix_nano();
  WriteKey(w, "startTime");
  w.Uint64(Micros(start_ns));
  WriteKey(w, "duration");
  w.Uint64(end_ns > start_ns ? Micros(end_ns - start_ns) : 0);

  WriteKey(w, "tags");
  w.StartArray();
  for (const auto& kv : span.attributes()) WriteAttributeTag(w, kv);
  if (ref.scope != nullptr) {
    if (!ref.scope->name().empty()) WriteStringTag(w, "otel.scope.name", ref.scope->name());
    if (!ref.scope->version().empty()) {
      WriteStringTag(w, "otel.scope.version", ref.scope->version());
    }
  }
  const std::string_view kind = SpanKindName(static_cast<int>(span.kind()));
  if (!kind.empty()) WriteStringTag(w, "span.kind", kind);
  switch (span.status().code()) {
    case trace_v1::Status::STATUS_CODE_OK:
      WriteStringTag(w, "otel.status_code", "OK");
      break;
    case trace_v1::Status::STATUS_CODE_ERROR:
      WriteStringTag(w, "otel.status_code", "ERROR");
      WriteBoolTag(w, "error", true);
      if (!span.status().message().empty()) {
        WriteStringTag(w, "otel.status_description", span.status().message());
      }
      break;
    default:
      break;
  }
  if (!span.trace_state().empty()) WriteStringTag(w, "w3c.tracestate", span.trace_state());
  if (is_root) {
    if (!trace.sampling_policy.empty()) {
      WriteStringTag(w, "sampling.policy", trace.sampling_policy);
    }
    if (trace.sample_rate > 0) WriteDoubleTag(w, "sampling.rate", trace.sample_rate);
  }
  w.EndArray();

  WriteKey(w, "logs");
  w.StartArray();
  for (const auto& event : span.events()) {
    w.StartObject();
    WriteKey(w, "timestamp");
    w.Uint64(Micros(event.time_unix_nano()));
    WriteKey(w, "fields");
    w.StartArray();
    if (!event.name().empty()) WriteStringTag(w, "event", event.name());
    for (const auto& kv : event.attributes()) WriteAttributeTag(w, kv);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();

  WriteKey(w, "processID");
  // StrCat rather than "p" + std::to_string(...), which trips GCC 12's -Wrestrict false positive.
  WriteString(w, absl::StrCat("p", ref.process + 1));
  WriteKey(w, "warnings");
  w.Null();
  WriteKey(w, "flags");
  w.Uint(span.flags() & trace_v1::SPAN_FLAGS_TRACE_FLAGS_MASK);
  w.EndObject();
}

}  // namespace

namespace {

void WriteJaegerTrace(const storage::StoredTrace& trace, JsonWriter& w) {
  const std::string trace_hex = trace.trace_id.Hex();

  // Processes, deduplicated by their rendered JSON (service name + sorted tags).
  std::vector<std::string> process_json;
  std::map<std::string, size_t> process_index;
  std::vector<SpanRef> spans;
  std::unordered_set<std::string> span_ids;
  for (const auto& rs : trace.data.resource_spans()) {
    std::string json = ProcessJson(ProcessOf(rs));
    auto [it, inserted] = process_index.emplace(json, process_json.size());
    if (inserted) process_json.push_back(std::move(json));
    for (const auto& ss : rs.scope_spans()) {
      const common::InstrumentationScope* scope = ss.has_scope() ? &ss.scope() : nullptr;
      for (const auto& span : ss.spans()) {
        spans.push_back(SpanRef{&span, scope, it->second});
        span_ids.insert(span.span_id());
      }
    }
  }
  std::stable_sort(spans.begin(), spans.end(), [](const SpanRef& a, const SpanRef& b) {
    return a.span->start_time_unix_nano() < b.span->start_time_unix_nano();
  });

  w.StartObject();
  WriteKey(w, "traceID");
  WriteString(w, trace_hex);
  WriteKey(w, "spans");
  w.StartArray();
  for (const SpanRef& ref : spans) {
    const std::string& parent = ref.span->parent_span_id();
    const bool is_root = parent.empty() || !span_ids.contains(parent);
    WriteSpan(w, ref, trace_hex, is_root, trace);
  }
  w.EndArray();
  WriteKey(w, "processes");
  w.StartObject();
  for (size_t i = 0; i < process_json.size(); ++i) {
    WriteKey(w, absl::StrCat("p", i + 1));
    w.RawValue(process_json[i].data(), process_json[i].size(), rapidjson::kObjectType);
  }
  w.EndObject();
  WriteKey(w, "warnings");
  w.Null();
  w.EndObject();
}

}  // namespace

std::string RenderJaegerTrace(const storage::StoredTrace& trace) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteJaegerTrace(trace, w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace tailtrace::query::reference
