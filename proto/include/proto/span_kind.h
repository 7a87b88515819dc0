#pragma once

#include <optional>
#include <string_view>

namespace tailtrace {

// The lower-case name Jaeger and OpenTelemetry use for an OTLP SpanKind number: "internal",
// "server", "client", "producer", "consumer"; "" for unspecified or unknown values.
std::string_view SpanKindName(int otlp_span_kind);

// The OTLP SpanKind number of such a name (case-insensitive); "unspecified" gives 0. nullopt for
// anything else (including "").
std::optional<int> ParseSpanKind(std::string_view name);

}  // namespace tailtrace
