#pragma once

// Parsing of `sampling.policies` (the OpenTelemetry tail_sampling policy list). Kept apart from
// the rest of the config so that policy parsing can grow here on its own.

#include "config/config.h"
#include "config/yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads the `sampling.policies` field (already taken from the `sampling` mapping) into `config`.
// An empty value or an empty list is accepted; a non-empty list is an error for now, since no
// policy types exist yet.
void ParseSamplingPolicies(ParseContext& ctx, const Field& field, DaemonConfig* config);

}  // namespace tailtrace::config::internal
