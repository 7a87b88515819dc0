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

// The scope's tags (the same for every span of the scope).
template <typename Fn>
void ForEachScopeTag(const opentelemetry::proto::common::v1::InstrumentationScope& scope, Fn&& fn) {
  if (!scope.name().empty()) span_tags_internal::Call(fn, "otel.scope.name", scope.name());
  if (!scope.version().empty()) span_tags_internal::Call(fn, "otel.scope.version", scope.version());
}

// The span's own derived tags: kind, status and trace state.
template <typename Fn>
void ForEachDerivedSpanTag(const opentelemetry::proto::trace::v1::Span& span, Fn&& fn) {
  using opentelemetry::proto::trace::v1::Status;
  const std::string_view kind = SpanKindName(static_cast<int>(span.kind()));
  if (!kind.empty()) span_tags_internal::Call(fn, "span.kind", kind);
  switch (span.status().code()) {
    case Status::STATUS_CODE_OK:
      span_tags_internal::Call(fn, "otel.status_code", "OK");
      break;
    case Status::STATUS_CODE_ERROR:
      span_tags_internal::Call(fn, "otel.status_code", "ERROR");
      span_tags_internal::Call(fn, "error", "true", DerivedTagType::kBool);
      if (!span.status().message().empty()) {
        span_tags_internal::Call(fn, "otel.status_description", span.status().message());
      }
      break;
    default:
      break;
  }
  if (!span.trace_state().empty()) {
    span_tags_internal::Call(fn, "w3c.tracestate", span.trace_state());
  }
}

}  // namespace tailtrace::storage
