#pragma once

// How an OTLP attribute value reads as text where Jaeger shows it: the query API renders array
// and map tags with these functions and the search index compares values rendered the same way,
// so a value the UI shows is a value a search finds.

#include <string>
#include <string_view>

#include "opentelemetry/proto/common/v1/common.pb.h"

namespace tailtrace {

// "NaN", "Infinity" or "-Infinity" for a non-finite double.
std::string_view NonFiniteName(double d);

// A double as a tag's text, as Jaeger's AsString renders it: printf "%.10g" (0.25, 3, 1e+21), or
// NonFiniteName. Writes into `*scratch` and returns a view of it, or of a constant.
std::string_view DoubleText(double d, std::string* scratch);

// The value as plain JSON, not the OTLP JSON mapping: ["a",1,true], {"k":"v"}; bytes in base64,
// non-finite doubles as the strings above, an unset value as null.
std::string PlainJson(const opentelemetry::proto::common::v1::AnyValue& value);

}  // namespace tailtrace
