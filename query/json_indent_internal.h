#pragma once

// Private to query/: the `prettyPrint=true` form of a JSON answer, as Jaeger's query service
// gives it (each member and element on its own line, four spaces per level).

#include <string>
#include <string_view>

namespace tailtrace::query::internal {

// `json` (compact, as the query service writes it) indented. Strings are copied as they are;
// empty objects and arrays stay "{}" and "[]". Text that is not JSON is re-spaced but not lost.
std::string IndentJson(std::string_view json);

}  // namespace tailtrace::query::internal
