#pragma once

// Helpers shared by the WireTraces decoder tests: the test fixture, a realistic TracesData built
// with the protobuf classes, a field-by-field comparison of the decoded view with protobuf's
// parse, and hand-built wire bytes.

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_wire_fields.h"
#include "proto/wire_traces.h"
#include "tests/proto/otlp_wire_test_util.h"

namespace tailtrace::wire_traces_test {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
using opentelemetry::proto::trace::v1::TracesData;
using wire_test::Fixed64;
using wire_test::Len;
using wire_test::SpanIdBytes;
using wire_test::Tag;
using wire_test::TraceIdBytes;
using wire_test::Varint;
using Kind = WireValue::Kind;

// protobuf logs every string field with invalid UTF-8 it refuses; the mutation test makes many.
class WireTracesTest : public ::testing::Test {
 protected:
  static void Silent(google::protobuf::LogLevel, const char*, int, const std::string&) {}
  void SetUp() override { previous_ = google::protobuf::SetLogHandler(&Silent); }
  void TearDown() override { google::protobuf::SetLogHandler(previous_); }

  google::protobuf::LogHandler* previous_ = nullptr;
};

// ---- Building messages ----

inline KeyValue* Add(google::protobuf::RepeatedPtrField<KeyValue>* attrs, const std::string& key) {
  KeyValue* kv = attrs->Add();
  kv->set_key(key);
  return kv;
}

inline void AddString(google::protobuf::RepeatedPtrField<KeyValue>* attrs, const std::string& key,
                      const std::string& value) {
  Add(attrs, key)->mutable_value()->set_string_value(value);
}

// An array ["a", 7] and a key-value list {inner: [true], n: 1.5}.
inline AnyValue ArrayValue() {
  AnyValue v;
  v.mutable_array_value()->add_values()->set_string_value("a");
  v.mutable_array_value()->add_values()->set_int_value(7);
  return v;
}

inline AnyValue KvlistValue() {
  AnyValue v;
  KeyValue* inner = v.mutable_kvlist_value()->add_values();
  inner->set_key("inner");
  inner->mutable_value()->mutable_array_value()->add_values()->set_bool_value(true);
  KeyValue* n = v.mutable_kvlist_value()->add_values();
  n->set_key("n");
  n->mutable_value()->set_double_value(1.5);
  return v;
}

// Two resources (the second without service.name); the first has a scope with an
// InstrumentationScope and one without; spans with every field the view reads.
inline TracesData RealisticTracesData() {
  TracesData data;
  ResourceSpans* rs0 = data.add_resource_spans();
  AddString(rs0->mutable_resource()->mutable_attributes(), "host.name", "web-1");
  AddString(rs0->mutable_resource()->mutable_attributes(), "service.name", "checkout");

  auto* ss0 = rs0->add_scope_spans();
  ss0->mutable_scope()->set_name("io.http");
  ss0->mutable_scope()->set_version("1.2.0");
  Span* a = ss0->add_spans();
  a->set_trace_id(TraceIdBytes(1));
  a->set_span_id(SpanIdBytes(1));
  a->set_name("GET /cart");
  a->set_trace_state("vendor=1");
  a->set_kind(Span::SPAN_KIND_SERVER);
  a->set_start_time_unix_nano(1'700'000'000'000'000'000);
  a->set_end_time_unix_nano(1'700'000'000'250'000'000);
  a->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  a->mutable_status()->set_message("timeout");
  AddString(a->mutable_attributes(), "http.route", "/cart");
  Add(a->mutable_attributes(), "cached")->mutable_value()->set_bool_value(true);
  Add(a->mutable_attributes(), "retries")->mutable_value()->set_int_value(-5);
  Add(a->mutable_attributes(), "ratio")->mutable_value()->set_double_value(0.25);
  Add(a->mutable_attributes(), "blob")->mutable_value()->set_bytes_value(std::string("\0\xff", 2));
  *Add(a->mutable_attributes(), "list")->mutable_value() = ArrayValue();
  *Add(a->mutable_attributes(), "map")->mutable_value() = KvlistValue();
  Add(a->mutable_attributes(), "unset");  // a KeyValue without a value
  auto* exception = a->add_events();
  exception->set_time_unix_nano(1'700'000'000'100'000'000);
  exception->set_name("exception");
  AddString(exception->mutable_attributes(), "exception.type", "Timeout");
  Add(exception->mutable_attributes(), "count")->mutable_value()->set_int_value(3);
  a->add_events()->set_name("retry");
  a->add_links()->set_trace_id(TraceIdBytes(9));  // not read

  Span* b = ss0->add_spans();
  b->set_trace_id(TraceIdBytes(1));
  b->set_span_id(SpanIdBytes(2));
  b->set_parent_span_id(SpanIdBytes(1));
  b->set_name("SELECT");
  b->set_kind(Span::SPAN_KIND_CLIENT);
  b->set_start_time_unix_nano(1'700'000'000'010'000'000);
  b->set_end_time_unix_nano(1'700'000'000'020'000'000);
  b->mutable_status()->set_code(Status::STATUS_CODE_OK);
  AddString(b->mutable_attributes(), "db.system", "postgresql");

  auto* ss1 = rs0->add_scope_spans();  // no InstrumentationScope
  Span* c = ss1->add_spans();
  c->set_span_id(SpanIdBytes(3));
  c->set_name("background");

  ResourceSpans* rs1 = data.add_resource_spans();
  AddString(rs1->mutable_resource()->mutable_attributes(), "host.name", "worker-7");
  auto* ss2 = rs1->add_scope_spans();
  ss2->mutable_scope()->set_name("worker");
  Span* d = ss2->add_spans();
  d->set_span_id(SpanIdBytes(4));
  d->set_name("consume");
  d->set_kind(Span::SPAN_KIND_CONSUMER);
  auto* ack = d->add_events();
  ack->set_name("ack");
  AddString(ack->mutable_attributes(), "queue", "orders");
  return data;
}

// ---- Comparing with protobuf ----

inline std::string KindName(Kind k) {
  static constexpr const char* kNames[] = {"none",   "string", "bool",     "int",
                                           "double", "bytes",  "composite"};
  return kNames[static_cast<int>(k)];
}

// Where the view's value differs from protobuf's; "" when it agrees.
inline std::string ValueDifference(const WireValue& v, const AnyValue& a) {
  bool same = false;
  switch (a.value_case()) {
    case AnyValue::VALUE_NOT_SET:
      same = v.kind == Kind::kNone;
      break;
    case AnyValue::kStringValue:
      same = v.kind == Kind::kString && v.bytes == a.string_value();
      break;
    case AnyValue::kBoolValue:
      same = v.kind == Kind::kBool && (v.number != 0) == a.bool_value();
      break;
    case AnyValue::kIntValue:
      same = v.kind == Kind::kInt && static_cast<int64_t>(v.number) == a.int_value();
      break;
    case AnyValue::kDoubleValue:
      same = v.kind == Kind::kDouble && v.number == std::bit_cast<uint64_t>(a.double_value());
      break;
    case AnyValue::kBytesValue:
      same = v.kind == Kind::kBytes && v.bytes == a.bytes_value();
      break;
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      AnyValue merged;
      same = v.kind == Kind::kComposite && merged.ParseFromString(std::string(v.bytes)) &&
             merged.SerializeAsString() == a.SerializeAsString();
      break;
    }
  }
  if (same) return "";
  return "value: view " + KindName(v.kind) + ", protobuf " + a.ShortDebugString();
}

inline std::string AttributesDifference(
    const std::vector<WireAttribute>& all, WireRange range,
    const google::protobuf::RepeatedPtrField<KeyValue>& parsed) {
  if (range.end > all.size() || range.begin > range.end) return "attribute range out of bounds";
  if (range.size() != static_cast<uint32_t>(parsed.size())) return "attribute count";
  for (int i = 0; i < parsed.size(); ++i) {
    const WireAttribute& a = all[range.begin + i];
    const std::string where = "attributes[" + std::to_string(i) + "] ";
    if (a.key != parsed[i].key()) return where + "key";
    const std::string d = ValueDifference(a.value, parsed[i].value());
    if (!d.empty()) return where + d;
  }
  return "";
}

inline std::string_view ParsedServiceName(const ResourceSpans& rs) {
  for (const KeyValue& kv : rs.resource().attributes()) {
    if (kv.key() == "service.name" && kv.value().has_string_value()) {
      return kv.value().string_value();
    }
  }
  return kUnknownServiceName;
}

inline std::string SpanDifference(const WireTraces& w, const WireTraces::Span& s, const Span& p) {
  if (s.span_id != p.span_id()) return "span_id";
  if (s.parent_span_id != p.parent_span_id()) return "parent_span_id";
  if (s.name != p.name()) return "name";
  if (s.trace_state != p.trace_state()) return "trace_state";
  if (s.kind != static_cast<int>(p.kind())) return "kind";
  if (s.start_ns != p.start_time_unix_nano()) return "start";
  if (s.end_ns != p.end_time_unix_nano()) return "end";
  if (s.status_code != static_cast<int>(p.status().code())) return "status code";
  if (s.status_message != p.status().message()) return "status message";
  std::string d = AttributesDifference(w.span_attributes, s.attributes, p.attributes());
  if (!d.empty()) return d;
  if (s.events.end > w.events.size() || s.events.begin > s.events.end) return "event range";
  if (s.events.size() != static_cast<uint32_t>(p.events_size())) return "event count";
  for (int e = 0; e < p.events_size(); ++e) {
    const WireTraces::Event& event = w.events[s.events.begin + e];
    const std::string where = "events[" + std::to_string(e) + "] ";
    if (event.name != p.events(e).name()) return where + "name";
    d = AttributesDifference(w.event_attributes, event.attributes, p.events(e).attributes());
    if (!d.empty()) return where + d;
  }
  return "";
}

// Where the view differs from the parsed message; "" when every field it holds agrees.
inline std::string Difference(const WireTraces& w, const TracesData& parsed) {
  if (w.resources.size() != static_cast<size_t>(parsed.resource_spans_size())) {
    return "resource count";
  }
  uint32_t scopes = 0;
  uint32_t spans = 0;
  for (int r = 0; r < parsed.resource_spans_size(); ++r) {
    const ResourceSpans& rs = parsed.resource_spans(r);
    const WireTraces::Resource& res = w.resources[r];
    const std::string rwhere = "resource_spans[" + std::to_string(r) + "] ";
    if (w.ServiceName(res) != ParsedServiceName(rs)) return rwhere + "service name";
    std::string d =
        AttributesDifference(w.resource_attributes, res.attributes, rs.resource().attributes());
    if (!d.empty()) return rwhere + d;
    if (res.scopes.begin != scopes || res.scopes.end > w.scopes.size() ||
        res.scopes.size() != static_cast<uint32_t>(rs.scope_spans_size())) {
      return rwhere + "scope range";
    }
    for (int s = 0; s < rs.scope_spans_size(); ++s) {
      const auto& ss = rs.scope_spans(s);
      const WireTraces::Scope& scope = w.scopes[scopes++];
      const std::string swhere = rwhere + "scope_spans[" + std::to_string(s) + "] ";
      if (scope.has_scope != ss.has_scope()) return swhere + "has_scope";
      if (scope.name != ss.scope().name()) return swhere + "scope name";
      if (scope.version != ss.scope().version()) return swhere + "scope version";
      if (scope.spans.begin != spans || scope.spans.end > w.spans.size() ||
          scope.spans.size() != static_cast<uint32_t>(ss.spans_size())) {
        return swhere + "span range";
      }
      for (int i = 0; i < ss.spans_size(); ++i) {
        d = SpanDifference(w, w.spans[spans++], ss.spans(i));
        if (!d.empty()) return swhere + "spans[" + std::to_string(i) + "] " + d;
      }
    }
  }
  if (scopes != w.scopes.size() || spans != w.spans.size()) return "extra scopes or spans";
  return "";
}

// Decodes `bytes` (which must not crash) and, when protobuf parses them as a TracesData, checks
// that the decoder accepts them too, that every field of the view agrees and that CountWireSpans
// counts its spans. `*parsed_ok` (optional) tells whether protobuf parsed them.
inline ::testing::AssertionResult DecodesLikeProtobuf(const std::string& bytes,
                                                      bool* parsed_ok = nullptr) {
  WireTraces w;
  const bool decoded = DecodeWireTraces(bytes, &w);
  TracesData parsed;
  const bool ok = parsed.ParseFromString(bytes);
  if (parsed_ok != nullptr) *parsed_ok = ok;
  if (!ok) return ::testing::AssertionSuccess();
  if (!decoded) return ::testing::AssertionFailure() << "protobuf parses, the decoder refuses";
  const std::string d = Difference(w, parsed);
  if (!d.empty()) return ::testing::AssertionFailure() << d;
  if (CountWireSpans(bytes) != w.spans.size()) {
    return ::testing::AssertionFailure() << "CountWireSpans disagrees with the decoded spans";
  }
  return ::testing::AssertionSuccess();
}

// ---- Hand-built wire bytes ----

inline std::string KeyValueBytes(std::string_view key, std::string_view any_value) {
  return Len(1, key) + Len(2, any_value);
}

inline std::string StringValue(std::string_view s) { return Len(1, s); }
inline std::string IntValue(uint64_t v) { return Tag(3, 0) + Varint(v); }

// A TracesData of one resource (given as Resource bytes) and one scope of these spans.
inline std::string TracesOfSpans(const std::vector<std::string>& spans,
                                 std::string_view resource = "") {
  std::string scope_spans;
  for (const std::string& s : spans) scope_spans += Len(2, s);
  return Len(1, Len(1, resource) + Len(2, scope_spans));
}

inline std::vector<std::string> Keys(const std::vector<WireAttribute>& all, WireRange range) {
  std::vector<std::string> keys;
  for (uint32_t i = range.begin; i < range.end; ++i) keys.emplace_back(all[i].key);
  return keys;
}

}  // namespace tailtrace::wire_traces_test
