// The `metrics` keys of the config file: enabled, max_series, histogram.explicit.buckets.

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
}

TEST(MetricsConfigTest, ReadsEveryKey) {
  const spanmetrics::SpanMetricsOptions m = Parse(R"(
metrics:
  enabled: false
  max_series: 500
  histogram:
    explicit:
      buckets: [100us, 1ms, 250ms, 2s]
)")
                                                .span_metrics;
  EXPECT_FALSE(m.enabled);
  EXPECT_EQ(m.max_series, 500u);
  EXPECT_THAT(m.buckets_ms, ElementsAre(0.1, 1, 250, 2000));
}

void ExpectError(std::string_view yaml, std::string_view where, std::string_view what) {
  const std::string error = Error(yaml);
  EXPECT_THAT(error, HasSubstr(std::string(where))) << yaml;
  EXPECT_THAT(error, HasSubstr(std::string(what))) << yaml;
}

TEST(MetricsConfigTest, BadValuesAreNamed) {
  ExpectError("metrics:\n  max_series: 0\n", "test.yaml:2: metrics.max_series", "");
  ExpectError("metrics:\n  enabled: maybe\n", "test.yaml:2: metrics.enabled", "");
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
