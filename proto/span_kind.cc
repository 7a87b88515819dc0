#include "proto/span_kind.h"

#include <algorithm>
#include <cctype>

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

std::optional<int> ParseSpanKind(std::string_view name) {
  using opentelemetry::proto::trace::v1::Span;
  auto equals = [name](std::string_view lower) {
    return name.size() == lower.size() &&
           std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  if (equals("unspecified")) return Span::SPAN_KIND_UNSPECIFIED;
  for (int kind = Span::SPAN_KIND_INTERNAL; kind <= Span::SPAN_KIND_CONSUMER; ++kind) {
    if (equals(SpanKindName(kind))) return kind;
  }
  return std::nullopt;
}

}  // namespace tailtrace
