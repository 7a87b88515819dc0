#pragma once

// Parsing of `sampling.policies` (the OpenTelemetry tail_sampling policy list, plus tailtrace's
// `not`, `trace_flags` and `dynamic` policies) into collector::PolicyConfig. Kept apart from the
// rest of the config because the policy syntax is large.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/policy_config.h"
#include "config/config.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config::internal {

// Reads the `sampling.policies` field (already taken from the `sampling` mapping) into
// `config->policies`. An empty value or an empty list means no policies. Every problem is
// reported with its line and a key naming the policy by index and name, e.g.
// "sampling.policies[2] (slow-traces).latency.threshold_ms: expected an integer, got \"x\"".
// Checks what collector::ValidatePolicies checks (ranges, regexes, names, composite references),
// so that a config that parses also builds.
void ParseSamplingPolicies(ParseContext& ctx, const Field& field, DaemonConfig* config);

// Field readers shared by the policy list (policies.cc) and the per-type settings
// (policy_types.cc).

// The entry `key` of `map`, reporting "missing (required)" at `line0` when absent.
std::optional<Field> Required(MapReader& map, std::string_view key, int line0);

// The elements of a list value, as fields "<path>[i]". Reports anything but a list.
std::optional<std::vector<Field>> ReadList(ParseContext& ctx, const Field& field,
                                           std::string_view of_what);

// A non-empty list of strings (each may be empty only when `allow_empty_strings`).
struct StringList {
  std::vector<std::string> values;
  std::vector<Field> fields;
};
std::optional<StringList> ReadStringList(ParseContext& ctx, const Field& field,
                                         bool allow_empty_strings);

// A finite number.
std::optional<double> ReadNumber(ParseContext& ctx, const Field& field);

// The integer `key` of `map` in [min, max]; reports it missing at `line0` when `required`.
std::optional<int64_t> ReadIntField(MapReader& map, std::string_view key, int64_t min, int64_t max,
                                    bool required, int line0);

// The settings block of one policy type (`b`, starting at `line`) read into `out`. Each returns
// false after reporting an error; unknown keys are left in `b` for the caller to report.
bool ParseLatencyPolicy(MapReader& b, int line, collector::LatencyPolicyConfig* out);
bool ParseStatusCodePolicy(MapReader& b, int line, collector::StatusCodePolicyConfig* out);
bool ParseStringAttributePolicy(MapReader& b, int line,
                                collector::StringAttributePolicyConfig* out);
bool ParseNumericAttributePolicy(MapReader& b, int line,
                                 collector::NumericAttributePolicyConfig* out);
bool ParseBooleanAttributePolicy(MapReader& b, int line,
                                 collector::BooleanAttributePolicyConfig* out);
bool ParseProbabilisticPolicy(MapReader& b, int line, collector::ProbabilisticPolicyConfig* out);
bool ParseRateLimitingPolicy(MapReader& b, int line, collector::RateLimitingPolicyConfig* out);
bool ParseBytesLimitingPolicy(MapReader& b, int line, collector::BytesLimitingPolicyConfig* out);
bool ParseSpanCountPolicy(MapReader& b, int line, collector::SpanCountPolicyConfig* out);
bool ParseTraceStatePolicy(MapReader& b, int line, collector::TraceStatePolicyConfig* out);
bool ParseDynamicPolicy(MapReader& b, int line, collector::DynamicPolicyConfig* out);

}  // namespace tailtrace::config::internal
