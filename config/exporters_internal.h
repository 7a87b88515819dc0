#pragma once

// Private to config/: the `exporters` section (exporters.otlp, otelcol's key names) and the
// checks it shares with `storage.enabled`.

#include "config/config.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads `exporters` (an absent or empty section: no exporter) into config->otlp_exporter.
void ParseExporters(MapReader map, DaemonConfig* config);

}  // namespace tailtrace::config::internal
