// The `metrics` keys of the config file: enabled, max_series, resolution, retention,
// histogram.explicit.buckets.

#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/config/config_test_util.h"

namespace tailtrace::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using test_util::Error;
using test_util::Parse;

TEST(MetricsConfigTest, DefaultsAreTheSpanmetricsConnectors) {
  const spanmetrics::SpanMetricsOptions m = Parse("").span_metrics;
  EXPECT_TRUE(m.enabled);
  EXPECT_EQ(m.max_series, 10'000u);
  EXPECT_THAT(m.buckets_ms, ElementsAre(2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000,
                                        5000, 10000, 15000));
  EXPECT_EQ(m.resolution_ns, 60'000'000'000);
  EXPECT_EQ(Parse("").storage.metrics_retention_ns, 0) << "0: storage.retention applies";
  EXPECT_FALSE(Parse("").storage.dependencies_from_traces) << "the service graph counts calls";
  EXPECT_TRUE(Parse("metrics:\n  enabled: false\n").storage.dependencies_from_traces);
  EXPECT_TRUE(Parse("").query.span_metrics_enabled);
  EXPECT_FALSE(Parse("metrics:\n  enabled: false\n").query.span_metrics_enabled);
}

TEST(MetricsConfigTest, ReadsEveryKey) {
  const spanmetrics::SpanMetricsOptions m = Parse(R"(
metrics:
  enabled: false
  max_series: 500
  resolution: 10s
  retention: 720h
  histogram:
    explicit:
      buckets: [100us, 1ms, 250ms, 2s]
)")
                                                .span_metrics;
  EXPECT_FALSE(m.enabled);
  EXPECT_EQ(m.max_series, 500u);
  EXPECT_THAT(m.buckets_ms, ElementsAre(0.1, 1, 250, 2000));
  EXPECT_EQ(m.resolution_ns, 10'000'000'000);
  EXPECT_EQ(Parse("metrics:\n  retention: 720h\n").storage.metrics_retention_ns,
            720ll * 3600 * 1'000'000'000);
}

void ExpectError(std::string_view yaml, std::string_view where, std::string_view what) {
  const std::string error = Error(yaml);
  EXPECT_THAT(error, HasSubstr(std::string(where))) << yaml;
  EXPECT_THAT(error, HasSubstr(std::string(what))) << yaml;
}

TEST(MetricsConfigTest, BadValuesAreNamed) {
  ExpectError("metrics:\n  max_series: 0\n", "test.yaml:2: metrics.max_series", "");
  ExpectError("metrics:\n  enabled: maybe\n", "test.yaml:2: metrics.enabled", "");
  ExpectError("metrics:\n  resolution: 500ms\n", "test.yaml:2: metrics.resolution", "1s");
  ExpectError("metrics:\n  retention: 30s\n", "test.yaml:2: metrics.retention", "1m");
  ExpectError("metrics:\n  histogram: {explicit: {buckets: [10ms, 5ms]}}\n",
              "metrics.histogram.explicit.buckets[1]", "ascending");
  ExpectError("metrics:\n  histogram: {explicit: {buckets: []}}\n",
              "metrics.histogram.explicit.buckets", "needs 1 to 100 bucket bounds, got 0");
  ExpectError("metrics:\n  histogram: {explicit: {buckets: [soon]}}\n",
              "metrics.histogram.explicit.buckets[0]", "");
  ExpectError("metrics:\n  histogram: {exponential: {max_size: 160}}\n",
              "metrics.histogram.exponential", "unknown key");
  ExpectError("metrics:\n  dimensions: []\n", "metrics.dimensions", "unknown key");
}

}  // namespace
}  // namespace tailtrace::config
