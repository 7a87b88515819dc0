#pragma once

// The admin endpoints: /healthz (the process is alive), /readyz (ready to take traffic),
// /metrics (Prometheus text format).

#include <functional>
#include <string>

#include "common/http_server.h"
#include "common/metrics.h"

namespace tailtrace {

// `ready` returns "" when ready, otherwise why not (shown in the 503 body). Both `metrics` and
// `ready` must outlive the handler.
http::Handler MakeAdminHandler(MetricsRegistry* metrics, std::function<std::string()> ready);

}  // namespace tailtrace
