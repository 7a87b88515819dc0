#pragma once

// The tags tailtrace derives from a span's scope, kind, status and trace state, beyond its
// attributes: one definition for what the index searches (storage/index) and what the Jaeger API
// shows (query/jaeger_json.cc), so a tag that is shown can be searched ("Search semantics" in
// trace_store.h).
//
//   otel.scope.name, otel.scope.version   the instrumentation scope's, when set
//   span.kind                             server, client, producer, consumer or internal; not for
//                                         an unspecified kind
//   otel.status_code                      OK or ERROR, when the status is set
//   error                                 true (a boolean tag) on ERROR spans
//   otel.status_description               the status message of an ERROR span, when set
//   w3c.tracestate                        the span's W3C trace state, when set
//
// Each function calls `fn(key, value, type)` or, if `fn` takes two arguments, `fn(key, value)`;
// keys and values are std::string_view, valid during the call only.

#include <string_view>
#include <type_traits>

#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/span_kind.h"

namespace tailtrace::storage {

// How the Jaeger API renders a derived tag's value (the index keeps its text).
enum class DerivedTagType { kString, kBool };

namespace span_tags_internal {

template <typename Fn>
void Call(Fn& fn, std::string_view key, std::string_view value,
          DerivedTagType type = DerivedTagType::kString) {
  if constexpr (std::is_invocable_v<Fn&, std::string_view, std::string_view, DerivedTagType>) {
    fn(key, value, type);
  } else {
    fn(key, value);
  }
}

}  // namespace span_tags_internal

// The scope's tags (the same for every span of the scope), from its name and version.
template <typename Fn>
void ForEachScopeTag(std::string_view name, std::string_view version, Fn&& fn) {
  if (!name.empty()) span_tags_internal::Call(fn, "otel.scope.name", name);
  if (!version.empty()) span_tags_internal::Call(fn, "otel.scope.version", version);
}

template <typename Fn>
void ForEachScopeTag(const opentelemetry::proto::common::v1::InstrumentationScope& scope, Fn&& fn) {
  ForEachScopeTag(scope.name(), scope.version(), fn);
}

// The span's own derived tags, from its kind and status (OTLP numbers) and trace state.
template <typename Fn>
void ForEachDerivedSpanTag(int kind_number, int status_code, std::string_view status_message,
                           std::string_view trace_state, Fn&& fn) {
  using opentelemetry::proto::trace::v1::Status;
  const std::string_view kind = SpanKindName(kind_number);
  if (!kind.empty()) span_tags_internal::Call(fn, "span.kind", kind);
  switch (status_code) {
    case Status::STATUS_CODE_OK:
      span_tags_internal::Call(fn, "otel.status_code", "OK");
      break;
    case Status::STATUS_CODE_ERROR:
      span_tags_internal::Call(fn, "otel.status_code", "ERROR");
      span_tags_internal::Call(fn, "error", "true", DerivedTagType::kBool);
      if (!status_message.empty()) {
        span_tags_internal::Call(fn, "otel.status_description", status_message);
      }
      break;
    default:
      break;
  }
  if (!trace_state.empty()) span_tags_internal::Call(fn, "w3c.tracestate", trace_state);
}

template <typename Fn>
void ForEachDerivedSpanTag(const opentelemetry::proto::trace::v1::Span& span, Fn&& fn) {
  ForEachDerivedSpanTag(static_cast<int>(span.kind()), static_cast<int>(span.status().code()),
                        span.status().message(), span.trace_state(), fn);
}

}  // namespace tailtrace::storage
