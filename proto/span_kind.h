#pragma once

#include <string_view>

namespace tailtrace {

// The lower-case name Jaeger and OpenTelemetry use for an OTLP SpanKind number: "internal",
// "server", "client", "producer", "consumer"; "" for unspecified or unknown values.
std::string_view SpanKindName(int otlp_span_kind);

}  // namespace tailtrace
