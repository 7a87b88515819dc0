#pragma once

// The Jaeger trace rendering as query/jaeger_json.cc wrote it through rapidjson's Writer before
// the JsonBuffer rewrite. Kept only as the reference the golden tests compare the product's bytes
// with; not linked into the product.

#include <string>

#include "storage/trace_store.h"

namespace tailtrace::query::reference {

// `trace` as a Jaeger trace object, rendered with rapidjson's Writer.
std::string RenderJaegerTrace(const storage::StoredTrace& trace);

}  // namespace tailtrace::query::reference
