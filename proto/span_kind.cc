#include "proto/span_kind.h"

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace {

std::string_view SpanKindName(int otlp_span_kind) {
  using opentelemetry::proto::trace::v1::Span;
  switch (otlp_span_kind) {
    case Span::SPAN_KIND_INTERNAL:
      return "internal";
    case Span::SPAN_KIND_SERVER:
      return "server";
    case Span::SPAN_KIND_CLIENT:
      return "client";
    case Span::SPAN_KIND_PRODUCER:
      return "producer";
    case Span::SPAN_KIND_CONSUMER:
      return "consumer";
    default:
      return "";
  }
}

}  // namespace tailtrace
