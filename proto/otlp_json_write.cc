// proto -> OTLP/JSON: rendering trace data, export responses and RPC statuses.

#include "proto/otlp_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "common/utf8.h"
#include "otlp_json_internal.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace::otlp_json {
namespace {

using namespace internal;  // NOLINT(build/namespaces)

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

class Emitter {
 public:
  explicit Emitter(Writer* w) : w_(*w) {}

  void ResourceSpansList(const ResourceSpansList& list) {
    w_.StartObject();
    if (!list.empty()) {
      Key("resourceSpans");
      w_.StartArray();
      for (const auto& rs : list) ResourceSpans(rs);
      w_.EndArray();
    }
    w_.EndObject();
  }

  void ResourceSpans(const tracev1::ResourceSpans& rs) {
    w_.StartObject();
    if (rs.has_resource()) {
      Key("resource");
      w_.StartObject();
      Attributes(rs.resource().attributes());
      Count("droppedAttributesCount", rs.resource().dropped_attributes_count());
      w_.EndObject();
    }
    if (!rs.scope_spans().empty()) {
      Key("scopeSpans");
      w_.StartArray();
      for (const auto& ss : rs.scope_spans()) ScopeSpans(ss);
      w_.EndArray();
    }
    OptString("schemaUrl", rs.schema_url());
    w_.EndObject();
  }

  void ScopeSpans(const tracev1::ScopeSpans& ss) {
    w_.StartObject();
    if (ss.has_scope()) {
      const auto& scope = ss.scope();
      Key("scope");
      w_.StartObject();
      OptString("name", scope.name());
      OptString("version", scope.version());
      Attributes(scope.attributes());
      Count("droppedAttributesCount", scope.dropped_attributes_count());
      w_.EndObject();
    }
    if (!ss.spans().empty()) {
      Key("spans");
      w_.StartArray();
      for (const auto& span : ss.spans()) Span(span);
      w_.EndArray();
    }
    OptString("schemaUrl", ss.schema_url());
    w_.EndObject();
  }

  void Span(const tracev1::Span& span) {
    w_.StartObject();
    Key("traceId");
    Hex(span.trace_id());
    Key("spanId");
    Hex(span.span_id());
    OptString("traceState", span.trace_state());
    if (!span.parent_span_id().empty()) {
      Key("parentSpanId");
      Hex(span.parent_span_id());
    }
    Count("flags", span.flags());
    OptString("name", span.name());
    if (span.kind() != 0) {
      Key("kind");
      w_.Int(span.kind());
    }
    Fixed64("startTimeUnixNano", span.start_time_unix_nano());
    Fixed64("endTimeUnixNano", span.end_time_unix_nano());
    Attributes(span.attributes());
    Count("droppedAttributesCount", span.dropped_attributes_count());
    if (!span.events().empty()) {
      Key("events");
      w_.StartArray();
      for (const auto& e : span.events()) {
        w_.StartObject();
        Fixed64("timeUnixNano", e.time_unix_nano());
        OptString("name", e.name());
        Attributes(e.attributes());
        Count("droppedAttributesCount", e.dropped_attributes_count());
        w_.EndObject();
      }
      w_.EndArray();
    }
    Count("droppedEventsCount", span.dropped_events_count());
    if (!span.links().empty()) {
      Key("links");
      w_.StartArray();
      for (const auto& l : span.links()) {
        w_.StartObject();
        Key("traceId");
        Hex(l.trace_id());
        Key("spanId");
        Hex(l.span_id());
        OptString("traceState", l.trace_state());
        Attributes(l.attributes());
        Count("droppedAttributesCount", l.dropped_attributes_count());
        Count("flags", l.flags());
        w_.EndObject();
      }
      w_.EndArray();
    }
    Count("droppedLinksCount", span.dropped_links_count());
    if (span.has_status()) {
      Key("status");
      w_.StartObject();
      OptString("message", span.status().message());
      if (span.status().code() != 0) {
        Key("code");
        w_.Int(span.status().code());
      }
      w_.EndObject();
    }
    w_.EndObject();
  }

  void Attributes(const KeyValueList& attrs) {
    if (attrs.empty()) return;
    Key("attributes");
    KeyValues(attrs);
  }

  void KeyValues(const KeyValueList& kvs) {
    w_.StartArray();
    for (const auto& kv : kvs) {
      w_.StartObject();
      Key("key");
      Str(kv.key());
      if (kv.has_value()) {
        Key("value");
        AnyValue(kv.value());
      }
      w_.EndObject();
    }
    w_.EndArray();
  }

  void AnyValue(const commonv1::AnyValue& v) {
    w_.StartObject();
    switch (v.value_case()) {
      case commonv1::AnyValue::kStringValue:
        Key("stringValue");
        Str(v.string_value());
        break;
      case commonv1::AnyValue::kBoolValue:
        Key("boolValue");
        w_.Bool(v.bool_value());
        break;
      case commonv1::AnyValue::kIntValue:
        Key("intValue");
        IntString(v.int_value());
        break;
      case commonv1::AnyValue::kDoubleValue:
        Key("doubleValue");
        Double(v.double_value());
        break;
      case commonv1::AnyValue::kArrayValue:
        Key("arrayValue");
        w_.StartObject();
        if (!v.array_value().values().empty()) {
          Key("values");
          w_.StartArray();
          for (const auto& e : v.array_value().values()) AnyValue(e);
          w_.EndArray();
        }
        w_.EndObject();
        break;
      case commonv1::AnyValue::kKvlistValue:
        Key("kvlistValue");
        w_.StartObject();
        if (!v.kvlist_value().values().empty()) {
          Key("values");
          KeyValues(v.kvlist_value().values());
        }
        w_.EndObject();
        break;
      case commonv1::AnyValue::kBytesValue:
        Key("bytesValue");
        Base64Encode(v.bytes_value(), &scratch_);
        Str(scratch_);
        break;
      case commonv1::AnyValue::VALUE_NOT_SET:
        break;
    }
    w_.EndObject();
  }

  template <size_t N>
  void Key(const char (&name)[N]) {
    w_.Key(name, static_cast<rapidjson::SizeType>(N - 1));
  }

  void Str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

  template <size_t N>
  void OptString(const char (&name)[N], const std::string& s) {
    if (s.empty()) return;
    Key(name);
    Str(s);
  }

  template <size_t N>
  void Count(const char (&name)[N], uint32_t n) {
    if (n == 0) return;
    Key(name);
    w_.Uint(n);
  }

  template <size_t N>
  void Fixed64(const char (&name)[N], uint64_t n) {
    if (n == 0) return;
    Key(name);
    IntString(n);
  }

  template <typename T>
  void IntString(T n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), n);
    w_.String(buf, static_cast<rapidjson::SizeType>(r.ptr - buf));
  }

  void Double(double d) {
    if (std::isnan(d)) {
      Str("NaN");
    } else if (std::isinf(d)) {
      Str(d > 0 ? "Infinity" : "-Infinity");
    } else {
      w_.Double(d);
    }
  }

  void Hex(const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    scratch_.resize(bytes.size() * 2);
    for (size_t i = 0; i < bytes.size(); ++i) {
      const auto b = static_cast<uint8_t>(bytes[i]);
      scratch_[2 * i] = kDigits[b >> 4];
      scratch_[2 * i + 1] = kDigits[b & 0xf];
    }
    Str(scratch_);
  }

 private:
  Writer& w_;
  std::string scratch_;  // reused for hex and base64 renderings
};

std::string Finish(const rapidjson::StringBuffer& buf) {
  return std::string(buf.GetString(), buf.GetSize());
}

// A starting capacity for the output buffer, so that typical bodies need no regrowth.
size_t EstimateJsonBytes(const ResourceSpansList& list) {
  size_t spans = 0;
  for (const auto& rs : list) {
    for (const auto& ss : rs.scope_spans()) spans += static_cast<size_t>(ss.spans_size());
  }
  return 256 + spans * 512;
}

std::string ResourceSpansToJson(const ResourceSpansList& list) {
  rapidjson::StringBuffer buf(nullptr, EstimateJsonBytes(list));
  Writer w(buf);
  Emitter e(&w);
  e.ResourceSpansList(list);
  return Finish(buf);
}

}  // namespace

std::string TracesDataToJson(const tracev1::TracesData& data) {
  return ResourceSpansToJson(data.resource_spans());
}

std::string ExportRequestToJson(const collv1::ExportTraceServiceRequest& request) {
  return ResourceSpansToJson(request.resource_spans());
}

std::string ExportResponseToJson(const collv1::ExportTraceServiceResponse& response) {
  const auto& ps = response.partial_success();
  if (ps.rejected_spans() == 0 && ps.error_message().empty()) return "{}";
  rapidjson::StringBuffer buf;
  Writer w(buf);
  Emitter e(&w);
  w.StartObject();
  e.Key("partialSuccess");
  w.StartObject();
  if (ps.rejected_spans() != 0) {
    e.Key("rejectedSpans");
    e.IntString(ps.rejected_spans());
  }
  if (!ps.error_message().empty()) {
    e.Key("errorMessage");
    e.Str(ps.error_message());
  }
  w.EndObject();
  w.EndObject();
  return Finish(buf);
}

std::string RpcStatusToJson(const google::rpc::Status& status) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  Emitter e(&w);
  w.StartObject();
  e.Key("code");
  w.Int(status.code());
  if (!status.message().empty()) {
    e.Key("message");
    e.Str(SanitizeUtf8(status.message()));  // it may quote request bytes
  }
  w.EndObject();
  return Finish(buf);
}

}  // namespace tailtrace::otlp_json
