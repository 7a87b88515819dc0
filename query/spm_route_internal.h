#pragma once

// Private to query/: the answer of GET /api/metrics/{calls,errors,latencies,minstep} (spm.h has
// the semantics).

#include <cstdint>
#include <string_view>

#include "common/http_server.h"
#include "query/trace_reader.h"

namespace tailtrace::query::internal {

// `name`: calls, errors, latencies or minstep. 501 when span metrics are off (or the store keeps
// no history), 400 naming a bad parameter, 422 for an answer too large. The answer has no
// envelope, so the parts of the read in `partial` that failed (cluster members down: the rates
// are then too low) are named in Warning headers.
http::Response SpmResponse(std::string_view name, const http::Request& request, TraceReader* reader,
                           PartialErrors* partial, int64_t now_ns, bool span_metrics_enabled);

}  // namespace tailtrace::query::internal
