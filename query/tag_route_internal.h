#pragma once

// Private to query/: the answers of GET /api/v3/tag-keys and /api/v3/tag-values, the tag
// suggestions of a UI's tag filter (storage/trace_store.h, "Tag suggestion semantics";
// docs/search.md has the API).

#include <cstdint>

#include "common/http_server.h"
#include "query/trace_reader.h"

namespace tailtrace::query::internal {

// {"tagKeys":[...]} (`values` false) or {"tagValues":[...]}, sorted, with "partialErrors" for the
// parts of the read in `partial` that failed. 400 naming a bad parameter (or a key that is never
// indexed), 503/500 when the read failed.
http::Response TagSuggestionsResponse(bool values, const http::Request& request,
                                      TraceReader* reader, PartialErrors* partial, int64_t now_ns);

}  // namespace tailtrace::query::internal
