// sampling.policies: every policy type read into collector::PolicyConfig, and each kind of error
// reported with its line and a key naming the policy.

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "collector/policy_config.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/policies_test_util.h"

namespace tailtrace::config {
namespace {

using collector::PolicyConfig;
using collector::PolicyType;
using test_util::kNoEnv;
using test_util::OnePolicy;
using test_util::ParseError;
using test_util::ParseOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParsePoliciesTest, NoPoliciesByDefault) {
  const DaemonConfig c = ParseOk("sampling:\n  policies: []\n");
  EXPECT_TRUE(c.policies.empty());
  EXPECT_FALSE(c.sample_on_first_match);
  EXPECT_TRUE(ParseOk("sampling:\n  policies:\n").policies.empty());
  EXPECT_TRUE(ParseOk("").policies.empty());
}

TEST(ParsePoliciesTest, SampleOnFirstMatch) {
  EXPECT_TRUE(ParseOk("sampling:\n  sample_on_first_match: true\n").sample_on_first_match);
  EXPECT_EQ(ParseError("sampling:\n  sample_on_first_match: maybe\n"),
            "tailtrace.yaml:2: sampling.sample_on_first_match: expected a boolean (true or "
            "false), got \"maybe\"");
}

TEST(ParsePoliciesTest, EveryLeafPolicyType) {
  const DaemonConfig c = ParseOk(R"(
sampling:
  policies:
    - name: all
      type: always_sample
    - name: slow
      type: latency
      latency: {threshold_ms: 5000, upper_threshold_ms: 10000}
    - name: errors
      type: status_code
      status_code: {status_codes: [ERROR, UNSET]}
    - name: routes
      type: string_attribute
      string_attribute:
        key: http.route
        values: [/v1/name/.+, "^/health$"]
        enabled_regex_matching: true
        cache_max_size: 10
        invert_match: true
    - name: status
      type: numeric_attribute
      numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599, invert_match: false}
    - name: force
      type: boolean_attribute
      boolean_attribute: {key: app.force_sample, value: true}
    - name: ten
      type: probabilistic
      probabilistic: {hash_salt: my-salt, sampling_percentage: 10.5}
    - name: rate
      type: rate_limiting
      rate_limiting: {spans_per_second: 35}
    - name: bytes
      type: bytes_limiting
      bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 4MiB}
    - name: count
      type: span_count
      span_count: {min_spans: 2, max_spans: 20}
    - name: state
      type: trace_state
      trace_state: {key: key3, values: [value1, value2]}
    - name: flags
      type: trace_flags
    - name: dyn
      type: dynamic
      dynamic:
        key_fields: [service.name, http.route, status_code]
        goal_sample_rate: 20
        adjustment_interval: 30s
        clear_frequency: 10m
        max_keys: 500
)");
  ASSERT_EQ(c.policies.size(), 13u);
  const auto& p = c.policies;
  EXPECT_EQ(p[0].name, "all");
  EXPECT_EQ(p[0].type, PolicyType::kAlwaysSample);
  EXPECT_EQ(p[1].type, PolicyType::kLatency);
  EXPECT_EQ(p[1].latency.threshold_ms, 5000);
  EXPECT_EQ(p[1].latency.upper_threshold_ms, 10000);
  EXPECT_EQ(p[2].type, PolicyType::kStatusCode);
  EXPECT_THAT(p[2].status_code.status_codes, ElementsAre("ERROR", "UNSET"));
  EXPECT_EQ(p[3].type, PolicyType::kStringAttribute);
  EXPECT_EQ(p[3].string_attribute.key, "http.route");
  EXPECT_THAT(p[3].string_attribute.values, ElementsAre("/v1/name/.+", "^/health$"));
  EXPECT_TRUE(p[3].string_attribute.enabled_regex_matching);
  EXPECT_EQ(p[3].string_attribute.cache_max_size, 10);
  EXPECT_TRUE(p[3].string_attribute.invert_match);
  EXPECT_EQ(p[4].type, PolicyType::kNumericAttribute);
  EXPECT_EQ(p[4].numeric_attribute.key, "http.status_code");
  EXPECT_EQ(p[4].numeric_attribute.min_value, 500);
  EXPECT_EQ(p[4].numeric_attribute.max_value, 599);
  EXPECT_FALSE(p[4].numeric_attribute.invert_match);
  EXPECT_EQ(p[5].type, PolicyType::kBooleanAttribute);
  EXPECT_EQ(p[5].boolean_attribute.key, "app.force_sample");
  EXPECT_TRUE(p[5].boolean_attribute.value);
  EXPECT_EQ(p[6].type, PolicyType::kProbabilistic);
  EXPECT_EQ(p[6].probabilistic.hash_salt, "my-salt");
  EXPECT_DOUBLE_EQ(p[6].probabilistic.sampling_percentage, 10.5);
  EXPECT_EQ(p[7].type, PolicyType::kRateLimiting);
  EXPECT_EQ(p[7].rate_limiting.spans_per_second, 35);
  EXPECT_EQ(p[8].type, PolicyType::kBytesLimiting);
  EXPECT_EQ(p[8].bytes_limiting.bytes_per_second, 1024000);
  EXPECT_EQ(p[8].bytes_limiting.burst_capacity, 4 << 20);
  EXPECT_EQ(p[9].type, PolicyType::kSpanCount);
  EXPECT_EQ(p[9].span_count.min_spans, 2);
  EXPECT_EQ(p[9].span_count.max_spans, 20);
  EXPECT_EQ(p[10].type, PolicyType::kTraceState);
  EXPECT_EQ(p[10].trace_state.key, "key3");
  EXPECT_THAT(p[10].trace_state.values, ElementsAre("value1", "value2"));
  EXPECT_EQ(p[11].type, PolicyType::kTraceFlags);
  EXPECT_EQ(p[12].type, PolicyType::kDynamic);
  EXPECT_THAT(p[12].dynamic.key_fields, ElementsAre("service.name", "http.route", "status_code"));
  EXPECT_EQ(p[12].dynamic.goal_sample_rate, 20);
  EXPECT_EQ(p[12].dynamic.goal_throughput_per_sec, 0);
  EXPECT_EQ(p[12].dynamic.adjustment_interval_ns, 30'000'000'000);
  EXPECT_EQ(p[12].dynamic.clear_frequency_ns, 600'000'000'000);
  EXPECT_EQ(p[12].dynamic.max_keys, 500);
}

TEST(ParsePoliciesTest, DefaultsOfOptionalFields) {
  const DaemonConfig c = ParseOk(R"(
sampling:
  policies:
    - {name: a, type: latency, latency: {threshold_ms: 10}}
    - {name: b, type: string_attribute, string_attribute: {key: k, values: [v]}}
    - {name: c, type: numeric_attribute, numeric_attribute: {key: k, min_value: 1}}
    - {name: d, type: probabilistic, probabilistic: {sampling_percentage: 1}}
    - {name: e, type: bytes_limiting, bytes_limiting: {bytes_per_second: 100}}
    - {name: f, type: dynamic, dynamic: {key_fields: [k], goal_throughput_per_sec: 0.5}}
)");
  ASSERT_EQ(c.policies.size(), 6u);
  EXPECT_EQ(c.policies[0].latency.upper_threshold_ms, 0);
  EXPECT_FALSE(c.policies[1].string_attribute.enabled_regex_matching);
  EXPECT_FALSE(c.policies[1].string_attribute.invert_match);
  EXPECT_EQ(c.policies[2].numeric_attribute.min_value, 1);
  EXPECT_FALSE(c.policies[2].numeric_attribute.max_value.has_value());
  EXPECT_EQ(c.policies[3].probabilistic.hash_salt, "");
  EXPECT_EQ(c.policies[4].bytes_limiting.burst_capacity, 0);
  EXPECT_EQ(c.policies[5].dynamic.goal_sample_rate, 0);
  EXPECT_DOUBLE_EQ(c.policies[5].dynamic.goal_throughput_per_sec, 0.5);
  EXPECT_EQ(c.policies[5].dynamic.adjustment_interval_ns, 15'000'000'000);
  EXPECT_EQ(c.policies[5].dynamic.max_keys, 10'000);
}

TEST(ParsePoliciesTest, Combinators) {
  const DaemonConfig c = ParseOk(R"(
sampling:
  policies:
    - name: and-policy-1
      type: and
      and:
        and_sub_policy:
          - name: svc
            type: string_attribute
            string_attribute: {key: service.name, values: [checkout]}
          - name: not-health
            type: not
            not:
              not_sub_policy:
                name: health
                type: string_attribute
                string_attribute: {key: http.route, values: [/health]}
    - name: drop-bots
      type: drop
      drop:
        drop_sub_policy:
          - name: bot
            type: boolean_attribute
            boolean_attribute: {key: is_bot, value: true}
    - name: composite-policy-1
      type: composite
      composite:
        max_total_spans_per_second: 1000
        policy_order: [c2, c1]
        composite_sub_policy:
          - name: c1
            type: numeric_attribute
            numeric_attribute: {key: key1, min_value: 50}
          - name: c2
            type: and
            and:
              and_sub_policy:
                - {name: x, type: always_sample}
        rate_allocation:
          - {policy: c1, percent: 50}
          - {policy: c2, percent: 25}
)");
  ASSERT_EQ(c.policies.size(), 3u);
  const PolicyConfig& a = c.policies[0];
  EXPECT_EQ(a.type, PolicyType::kAnd);
  ASSERT_EQ(a.sub_policies.size(), 2u);
  EXPECT_EQ(a.sub_policies[0].name, "svc");
  EXPECT_EQ(a.sub_policies[1].type, PolicyType::kNot);
  ASSERT_EQ(a.sub_policies[1].sub_policies.size(), 1u);
  EXPECT_EQ(a.sub_policies[1].sub_policies[0].name, "health");
  EXPECT_THAT(a.sub_policies[1].sub_policies[0].string_attribute.values, ElementsAre("/health"));
  const PolicyConfig& d = c.policies[1];
  EXPECT_EQ(d.type, PolicyType::kDrop);
  ASSERT_EQ(d.sub_policies.size(), 1u);
  EXPECT_EQ(d.sub_policies[0].boolean_attribute.key, "is_bot");
  const PolicyConfig& comp = c.policies[2];
  EXPECT_EQ(comp.type, PolicyType::kComposite);
  EXPECT_EQ(comp.composite.max_total_spans_per_second, 1000);
  EXPECT_THAT(comp.composite.policy_order, ElementsAre("c2", "c1"));
  ASSERT_EQ(comp.sub_policies.size(), 2u);
  EXPECT_EQ(comp.sub_policies[1].type, PolicyType::kAnd);
  ASSERT_EQ(comp.composite.rate_allocation.size(), 2u);
  EXPECT_EQ(comp.composite.rate_allocation[0].policy, "c1");
  EXPECT_EQ(comp.composite.rate_allocation[0].percent, 50);
  EXPECT_EQ(comp.composite.rate_allocation[1].percent, 25);
}

// The policy list of the OpenTelemetry tail_sampling README (without its ottl_condition policy),
// pasted as it is: flow style, trailing commas, regex values.
TEST(ParsePoliciesTest, OpenTelemetryReadmeExampleParses) {
  const DaemonConfig c = ParseOk(R"(
sampling:
  decision_wait: 10s
  policies:
    [
        {
          name: test-policy-1,
          type: always_sample
        },
        {
          name: test-policy-2,
          type: latency,
          latency: {threshold_ms: 5000, upper_threshold_ms: 10000}
        },
        {
          name: test-policy-3,
          type: numeric_attribute,
          numeric_attribute: {key: key1, min_value: 50, max_value: 100}
        },
        {
          name: test-policy-4,
          type: probabilistic,
          probabilistic: {sampling_percentage: 10}
        },
        {
          name: test-policy-5,
          type: status_code,
          status_code: {status_codes: [ERROR, UNSET]}
        },
        {
          name: test-policy-6,
          type: string_attribute,
          string_attribute: {key: key2, values: [value1, value2]}
        },
        {
          name: test-policy-7,
          type: string_attribute,
          string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}
        },
        {
          name: test-policy-8,
          type: rate_limiting,
          rate_limiting: {spans_per_second: 35}
       },
       {
          name: test-policy-9,
          type: bytes_limiting,
          bytes_limiting: {bytes_per_second: 1024000, burst_capacity: 2048000}
       },
       {
          name: test-policy-10,
          type: span_count,
          span_count: {min_spans: 2, max_spans: 20}
       },
       {
           name: test-policy-11,
           type: trace_state,
           trace_state: { key: key3, values: [value1, value2] }
       },
       {
            name: test-policy-12,
            type: boolean_attribute,
            boolean_attribute: {key: key4, value: true}
       },
       {
          name: and-policy-1,
          type: and,
          and: {
            and_sub_policy:
            [
              {
                name: test-and-policy-1,
                type: numeric_attribute,
                numeric_attribute: { key: key1, min_value: 50, max_value: 100 }
              },
              {
                  name: test-and-policy-2,
                  type: string_attribute,
                  string_attribute: { key: key2, values: [ value1, value2 ] }
              },
            ]
          }
       },
       {
          name: drop-policy-1,
          type: drop,
          drop: {
            drop_sub_policy:
            [
              {
                  name: test-drop-policy-1,
                  type: string_attribute,
                  string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}
              }
            ]
          }
       },
       {
          name: composite-policy-1,
          type: composite,
          composite:
            {
              max_total_spans_per_second: 1000,
              policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
              composite_sub_policy:
                [
                  {
                    name: test-composite-policy-1,
                    type: numeric_attribute,
                    numeric_attribute: {key: key1, min_value: 50}
                  },
                  {
                    name: test-composite-policy-2,
                    type: string_attribute,
                    string_attribute: {key: key2, values: [value1, value2]}
                  },
                  {
                    name: test-composite-policy-3,
                    type: always_sample
                  }
                ],
              rate_allocation:
                [
                  {
                    policy: test-composite-policy-1,
                    percent: 50
                  },
                  {
                    policy: test-composite-policy-2,
                    percent: 25
                  }
                ]
            }
        },
      ]
)");
  ASSERT_EQ(c.policies.size(), 15u);
  EXPECT_EQ(c.policies[13].sub_policies[0].string_attribute.values[0], "\\/health");
  EXPECT_EQ(c.policies[14].sub_policies.size(), 3u);
}

// The example shipped in config/examples/ parses.
TEST(ExampleConfigTest, TailSamplingExampleParses) {
  const char* source_dir = std::getenv("TAILTRACE_SOURCE_DIR");
  const std::string root = source_dir != nullptr ? source_dir : TAILTRACE_SOURCE_DIR_FALLBACK;
  const std::string path = root + "/config/examples/tail-sampling.yaml";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  absl::StatusOr<DaemonConfig> c = LoadConfigFile(path, kNoEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->policies.size(), 3u);
  EXPECT_EQ(c->policies[0].name, "errors");
  EXPECT_EQ(c->policies[0].type, PolicyType::kStatusCode);
  EXPECT_THAT(c->policies[0].status_code.status_codes, ElementsAre("ERROR"));
  EXPECT_EQ(c->policies[1].name, "slow-traces");
  EXPECT_EQ(c->policies[1].latency.threshold_ms, 2000);
  EXPECT_EQ(c->policies[2].name, "ten-percent");
  EXPECT_DOUBLE_EQ(c->policies[2].probabilistic.sampling_percentage, 10);
}

}  // namespace
}  // namespace tailtrace::config