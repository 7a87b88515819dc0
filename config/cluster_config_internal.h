#pragma once

// Private to config/: the `cluster` section (cluster mode's members and peer health).

#include "config/config.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads the `cluster` section of the top-level mapping `root` into config->cluster; without the
// section config->cluster stays disabled (a single node). Call after the receivers are read: the
// section is checked against the OTLP/gRPC receiver that peers send to.
void ParseCluster(MapReader& root, DaemonConfig* config);

}  // namespace tailtrace::config::internal
