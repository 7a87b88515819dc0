#pragma once

// Builds OTLP TracesData for storage tests from compact span descriptions.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"
#include "storage/index/keys.h"

namespace tailtrace::storage::testing {

using AttrValue = std::variant<std::string, int64_t, bool, double>;

struct SpanSpec {
  std::string service = "svc";
  std::string name = "op";
  uint64_t span_id = 1;
  uint64_t parent_id = 0;  // 0 = root
  int64_t start_ns = 1'700'000'000'000'000'000;
  int64_t duration_ns = 1'000'000;
  int kind = opentelemetry::proto::trace::v1::Span::SPAN_KIND_INTERNAL;
  bool error = false;
  std::vector<std::pair<std::string, AttrValue>> attributes = {};
  // Extra resource attributes of the span's resource (besides service.name).
  std::vector<std::pair<std::string, AttrValue>> resource_attributes = {};
  // Span events: name and attributes.
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, AttrValue>>>> events = {};
  // The W3C trace state ("" = none).
  std::string trace_state = {};
};

inline TraceId MakeTraceId(uint64_t high, uint64_t low) {
  std::string b;
  PutFixed64BE(&b, high);
  PutFixed64BE(&b, low);
  return TraceId::FromBytes(b);
}

inline std::string SpanIdBytes(uint64_t id) {
  std::string b;
  PutFixed64BE(&b, id);
  return b;
}

inline void SetValue(opentelemetry::proto::common::v1::AnyValue* out, const AttrValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) out->set_string_value(*s);
  if (const auto* i = std::get_if<int64_t>(&v)) out->set_int_value(*i);
  if (const auto* b = std::get_if<bool>(&v)) out->set_bool_value(*b);
  if (const auto* d = std::get_if<double>(&v)) out->set_double_value(*d);
}

// One resource per distinct (service, resource attributes) in order of first appearance, one
// scope per resource.
inline opentelemetry::proto::trace::v1::TracesData BuildChunk(const TraceId& id,
                                                              const std::vector<SpanSpec>& spans) {
  namespace trace_v1 = opentelemetry::proto::trace::v1;
  trace_v1::TracesData data;
  std::map<std::string, trace_v1::ScopeSpans*> scopes;
  for (const SpanSpec& spec : spans) {
    std::string resource_key = spec.service;
    for (const auto& [k, v] : spec.resource_attributes) {
      resource_key += "\x01" + k + "\x02" + std::to_string(v.index());
      if (const auto* s = std::get_if<std::string>(&v)) resource_key += *s;
    }
    trace_v1::ScopeSpans*& ss = scopes[resource_key];
    if (ss == nullptr) {
      auto* rs = data.add_resource_spans();
      auto* attr = rs->mutable_resource()->add_attributes();
      attr->set_key("service.name");
      attr->mutable_value()->set_string_value(spec.service);
      for (const auto& [k, v] : spec.resource_attributes) {
        auto* a = rs->mutable_resource()->add_attributes();
        a->set_key(k);
        SetValue(a->mutable_value(), v);
      }
      ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("test.scope");
    }
    trace_v1::Span* span = ss->add_spans();
    span->set_trace_id(std::string(id.view()));
    span->set_span_id(SpanIdBytes(spec.span_id));
    if (spec.parent_id != 0) span->set_parent_span_id(SpanIdBytes(spec.parent_id));
    span->set_name(spec.name);
    span->set_kind(static_cast<trace_v1::Span::SpanKind>(spec.kind));
    span->set_trace_state(spec.trace_state);
    span->set_start_time_unix_nano(static_cast<uint64_t>(spec.start_ns));
    span->set_end_time_unix_nano(static_cast<uint64_t>(spec.start_ns + spec.duration_ns));
    for (const auto& [name, attributes] : spec.events) {
      auto* event = span->add_events();
      event->set_time_unix_nano(static_cast<uint64_t>(spec.start_ns));
      event->set_name(name);
      for (const auto& [k, v] : attributes) {
        auto* a = event->add_attributes();
        a->set_key(k);
        SetValue(a->mutable_value(), v);
      }
    }
    if (spec.error) {
      span->mutable_status()->set_code(trace_v1::Status::STATUS_CODE_ERROR);
      span->mutable_status()->set_message("boom");
    }
    for (const auto& [k, v] : spec.attributes) {
      auto* a = span->add_attributes();
      a->set_key(k);
      SetValue(a->mutable_value(), v);
    }
  }
  return data;
}

}  // namespace tailtrace::storage::testing
