#pragma once

// Parsing of `sampling.policies` (the OpenTelemetry tail_sampling policy list, plus tailtrace's
// `not`, `trace_flags` and `dynamic` policies) into collector::PolicyConfig. Kept apart from the
// rest of the config because the policy syntax is large.

#include "config/config.h"
#include "config/yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads the `sampling.policies` field (already taken from the `sampling` mapping) into
// `config->policies`. An empty value or an empty list means no policies. Every problem is
// reported with its line and a key naming the policy by index and name, e.g.
// "sampling.policies[2] (slow-traces).latency.threshold_ms: expected an integer, got \"x\"".
// Checks what collector::ValidatePolicies checks (ranges, regexes, names, composite references),
// so that a config that parses also builds.
void ParseSamplingPolicies(ParseContext& ctx, const Field& field, DaemonConfig* config);

}  // namespace tailtrace::config::internal
