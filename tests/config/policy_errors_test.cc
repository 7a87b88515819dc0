// sampling.policies errors: each kind reported with its line and a key naming the policy.

#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/policies_test_util.h"

namespace tailtrace::config {
namespace {

using test_util::OnePolicy;
using test_util::ParseError;
using test_util::ParseOk;
using ::testing::HasSubstr;

// ------------------------------------------------------------------------------------------------
// Errors

TEST(ParsePoliciesErrorTest, WrongValueTypeNamesPolicyAndField) {
  EXPECT_EQ(ParseError(OnePolicy(R"(    - name: errors
      type: status_code
      status_code: {status_codes: [ERROR]}
    - name: fast
      type: always_sample
    - name: slow-traces
      type: latency
      latency:
        threshold_ms: 2s
)")),
            "tailtrace.yaml:11: sampling.policies[2] (slow-traces).latency.threshold_ms: "
            "expected an integer, got \"2s\"");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: s, type: latency, latency: {threshold_ms: [1]}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (s).latency.threshold_ms: expected an "
            "integer, got a list");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: b, type: boolean_attribute, boolean_attribute: "
                                 "{key: k, value: yes please}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (b).boolean_attribute.value: expected a "
            "boolean (true or false), got \"yes please\"");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: s, type: status_code, status_code: {status_codes: "
                                 "ERROR}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (s).status_code.status_codes: expected a "
            "list of status codes, got a scalar");
}

TEST(ParsePoliciesErrorTest, UnknownAndUnsupportedTypes) {
  EXPECT_EQ(ParseError(OnePolicy("    - name: x\n      type: sometimes\n")),
            "tailtrace.yaml:4: sampling.policies[0] (x).type: unknown policy type \"sometimes\" "
            "(known types: always_sample, latency, status_code, string_attribute, "
            "numeric_attribute, boolean_attribute, probabilistic, rate_limiting, bytes_limiting, "
            "span_count, trace_state, trace_flags, and, not, drop, composite, dynamic)");
  EXPECT_THAT(ParseError(OnePolicy(R"(    - name: ottl
      type: ottl_condition
      ottl_condition:
        error_mode: ignore
        span: ['attributes["k"] == "v"']
)")),
              HasSubstr("tailtrace.yaml:4: sampling.policies[0] (ottl).type: ottl_condition "
                        "policies are not supported by tailtrace"));
}

TEST(ParsePoliciesErrorTest, MissingNameTypeOrSettings) {
  EXPECT_EQ(ParseError(OnePolicy("    - type: always_sample\n")),
            "tailtrace.yaml:3: sampling.policies[0].name: missing (required)");
  EXPECT_THAT(ParseError(OnePolicy("    - name: a\n")),
              HasSubstr("tailtrace.yaml:3: sampling.policies[0] (a).type: missing (required; "
                        "one of always_sample, latency,"));
  EXPECT_EQ(ParseError(OnePolicy("    - name: slow\n      type: latency\n")),
            "tailtrace.yaml:3: sampling.policies[0] (slow).latency: missing (a latency policy "
            "needs its settings under latency)");
  EXPECT_EQ(ParseError(OnePolicy("    - name: s\n      type: string_attribute\n"
                                 "      string_attribute:\n        key: k\n")),
            "tailtrace.yaml:6: sampling.policies[0] (s).string_attribute.values: missing "
            "(required)");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: r, type: rate_limiting, rate_limiting: {}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (r).rate_limiting.spans_per_second: missing "
            "(required)");
  EXPECT_EQ(ParseError(OnePolicy("    - always_sample\n")),
            "tailtrace.yaml:3: sampling.policies[0]: expected a policy (a mapping with name and "
            "type), got a scalar");
}

TEST(ParsePoliciesErrorTest, OutOfRangeValues) {
  EXPECT_EQ(ParseError(OnePolicy("    - name: p\n      type: probabilistic\n      probabilistic:"
                                 "\n        sampling_percentage: 150\n")),
            "tailtrace.yaml:6: sampling.policies[0] (p).probabilistic.sampling_percentage: must "
            "be from 0 to 100, got 150");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: r, type: rate_limiting, rate_limiting: "
                                 "{spans_per_second: -5}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (r).rate_limiting.spans_per_second: must be "
            "at least 1, got -5");
  EXPECT_EQ(ParseError(OnePolicy("    - name: l\n      type: latency\n      latency:\n"
                                 "        threshold_ms: 500\n        upper_threshold_ms: 100\n")),
            "tailtrace.yaml:7: sampling.policies[0] (l).latency.upper_threshold_ms: must be "
            "greater than threshold_ms (500), got 100");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: n, type: numeric_attribute, numeric_attribute: "
                                 "{key: k, min_value: 9, max_value: 1}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (n).numeric_attribute.max_value: must be at "
            "least min_value (9), got 1");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: p, type: probabilistic, probabilistic: "
                                 "{sampling_percentage: lots}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (p).probabilistic.sampling_percentage: "
            "expected a number, got \"lots\"");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: c, type: span_count, span_count: {min_spans: "
                                 "5, max_spans: 2}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (c).span_count.max_spans: must be at least "
            "min_spans (5), got 2");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: s, type: status_code, status_code: "
                                 "{status_codes: [ERROR, FAIL]}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (s).status_code.status_codes[1]: expected "
            "one of OK, ERROR, UNSET, got \"FAIL\"");
}

TEST(ParsePoliciesErrorTest, BadRegexNamesTheValue) {
  EXPECT_THAT(ParseError(OnePolicy(R"(    - name: routes
      type: string_attribute
      string_attribute:
        key: http.route
        values:
          - /ok
          - "([a-z"
        enabled_regex_matching: true
)")),
              HasSubstr("tailtrace.yaml:9: sampling.policies[0] (routes).string_attribute."
                        "values[1]: invalid regular expression \"([a-z\": "));
  // Without regex matching, the same value is fine.
  EXPECT_EQ(ParseOk(OnePolicy("    - {name: r, type: string_attribute, string_attribute: "
                              "{key: k, values: [\"([a-z\"]}}\n"))
                .policies.size(),
            1u);
}

TEST(ParsePoliciesErrorTest, UnknownKeysInsideAPolicy) {
  EXPECT_EQ(ParseError(OnePolicy("    - name: a\n      type: always_sample\n      tipe: x\n")),
            "tailtrace.yaml:5: sampling.policies[0] (a).tipe: unknown key (did you mean "
            "\"type\"?)");
  EXPECT_EQ(ParseError(OnePolicy("    - name: l\n      type: latency\n      latency:\n"
                                 "        threshold_ms: 5\n        treshold: 6\n")),
            "tailtrace.yaml:7: sampling.policies[0] (l).latency.treshold: unknown key (known "
            "keys: threshold_ms, upper_threshold_ms)");
  // Settings of another type (a mistake in OpenTelemetry's own README example).
  EXPECT_EQ(ParseError(OnePolicy(R"(    - name: do-not-sample
      type: boolean_attribute
      string_attribute: { key: app.do_not_sample, value: true }
)")),
            "tailtrace.yaml:3: sampling.policies[0] (do-not-sample).boolean_attribute: missing "
            "(a boolean_attribute policy needs its settings under boolean_attribute)\n"
            "tailtrace.yaml:5: sampling.policies[0] (do-not-sample).string_attribute: does not "
            "apply to a policy of type boolean_attribute (its settings go under "
            "boolean_attribute)");
}

TEST(ParsePoliciesErrorTest, NestingNamesAndReferences) {
  EXPECT_EQ(ParseError(OnePolicy(R"(    - name: a
      type: and
      and:
        and_sub_policy:
          - name: inner
            type: drop
            drop: {drop_sub_policy: [{name: x, type: always_sample}]}
)")),
            "tailtrace.yaml:8: sampling.policies[0] (a).and.and_sub_policy[0] (inner).type: a "
            "drop policy can only be at the top level of sampling.policies, not inside another "
            "policy");
  EXPECT_EQ(ParseError(OnePolicy(R"(    - name: n
      type: not
      not:
        not_sub_policy:
          - {name: x, type: always_sample}
)")),
            "tailtrace.yaml:7: sampling.policies[0] (n).not.not_sub_policy: expected one policy "
            "(a mapping with name and type), got a list");
  EXPECT_EQ(ParseError(OnePolicy(R"(    - name: a
      type: and
      and:
        and_sub_policy:
          - name: deep
            type: latency
            latency: {threshold_ms: x}
)")),
            "tailtrace.yaml:9: sampling.policies[0] (a).and.and_sub_policy[0] (deep).latency."
            "threshold_ms: expected an integer, got \"x\"");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: same, type: always_sample}\n"
                                 "    - {name: other, type: always_sample}\n"
                                 "    - {name: same, type: always_sample}\n")),
            "tailtrace.yaml:5: sampling.policies[2] (same).name: duplicate policy name (also "
            "sampling.policies[0] at line 3)");
  EXPECT_EQ(ParseError(OnePolicy(R"(    - name: c
      type: composite
      composite:
        max_total_spans_per_second: 100
        policy_order: [a, b]
        composite_sub_policy:
          - {name: a, type: always_sample}
        rate_allocation:
          - {policy: a, percent: 80}
          - {policy: z, percent: 30}
)")),
            "tailtrace.yaml:7: sampling.policies[0] (c).composite.policy_order[1]: \"b\" is not "
            "the name of a composite_sub_policy\n"
            "tailtrace.yaml:10: sampling.policies[0] (c).composite.rate_allocation: the percents "
            "add up to 110, more than 100\n"
            "tailtrace.yaml:12: sampling.policies[0] (c).composite.rate_allocation[1].policy: "
            "\"z\" is not the name of a composite_sub_policy");
}

TEST(ParsePoliciesErrorTest, DynamicGoals) {
  EXPECT_EQ(ParseError(OnePolicy("    - {name: d, type: dynamic, dynamic: {key_fields: [a]}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (d).dynamic.goal_sample_rate: missing (set "
            "goal_sample_rate or goal_throughput_per_sec)");
  EXPECT_EQ(ParseError(OnePolicy("    - name: d\n      type: dynamic\n      dynamic:\n"
                                 "        key_fields: [a]\n        goal_sample_rate: 10\n"
                                 "        goal_throughput_per_sec: 5\n")),
            "tailtrace.yaml:8: sampling.policies[0] (d).dynamic.goal_throughput_per_sec: set "
            "only one of goal_sample_rate and goal_throughput_per_sec");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: d, type: dynamic, dynamic: {key_fields: [a], "
                                 "goal_sample_rate: 0.5}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (d).dynamic.goal_sample_rate: must be at "
            "least 1, got 0.5");
  EXPECT_EQ(ParseError(OnePolicy("    - {name: d, type: dynamic, dynamic: {key_fields: [a], "
                                 "goal_sample_rate: 5, adjustment_interval: 15}}\n")),
            "tailtrace.yaml:3: sampling.policies[0] (d).dynamic.adjustment_interval: invalid "
            "duration \"15\": missing unit (use ns, us (or µs), ms, s, m or h, e.g. \"10s\")");
}

TEST(ParsePoliciesErrorTest, AllProblemsAreReportedTogether) {
  const std::string message = ParseError(OnePolicy(R"(    - name: a
      type: latency
      latency: {threshold_ms: x}
    - name: b
      type: probabilistic
      probabilistic: {sampling_percentage: 101}
)"));
  EXPECT_THAT(message, HasSubstr("tailtrace.yaml:5: sampling.policies[0] (a)"));
  EXPECT_THAT(message, HasSubstr("tailtrace.yaml:8: sampling.policies[1] (b)"));
}

}  // namespace
}  // namespace tailtrace::config
