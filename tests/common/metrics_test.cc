#include "common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace tailtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, CounterWithLabels) {
  MetricsRegistry registry;
  Counter* http = registry.GetCounter("otelcol_receiver_accepted_spans", "Spans accepted.",
                                      {{"transport", "http"}});
  Counter* grpc = registry.GetCounter("otelcol_receiver_accepted_spans", "Spans accepted.",
                                      {{"transport", "grpc"}});
  http->Increment(3);
  http->Increment();
  grpc->Increment(7);
  // Same name and labels: same object.
  EXPECT_EQ(registry.GetCounter("otelcol_receiver_accepted_spans", "", {{"transport", "http"}}),
            http);
  EXPECT_EQ(http->Value(), 4u);

  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# HELP otelcol_receiver_accepted_spans Spans accepted.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE otelcol_receiver_accepted_spans counter\n"));
  EXPECT_THAT(text, HasSubstr("otelcol_receiver_accepted_spans{transport=\"http\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("otelcol_receiver_accepted_spans{transport=\"grpc\"} 7\n"));
}

TEST(MetricsRegistryTest, GaugeWithoutLabelsAndCallbackGauge) {
  MetricsRegistry registry;
  Gauge* g = registry.GetGauge("queue_bytes", "Bytes queued.");
  g->Set(10);
  g->Add(-3);
  registry.SetCallbackGauge("disk_bytes", "Bytes on disk.", {}, [] { return 1.5; });
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE queue_bytes gauge\nqueue_bytes 7\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE disk_bytes gauge\ndisk_bytes 1.5\n"));
  // Sorted by name.
  EXPECT_LT(text.find("disk_bytes"), text.find("queue_bytes"));
}

TEST(MetricsRegistryTest, CallbackCounterAndRemovedCallbacks) {
  MetricsRegistry registry;
  uint64_t total = 3;
  registry.SetCallbackCounter("lookups_total", "Lookups.", {}, [&total] { return total; });
  registry.SetCallbackGauge("up", "Up.", {{"peer", "a"}}, [] { return 1; });
  registry.SetCallbackGauge("up", "Up.", {{"peer", "b"}}, [] { return 0; });
  total = 5;
  std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE lookups_total counter\nlookups_total 5\n"));
  EXPECT_THAT(text, HasSubstr("up{peer=\"a\"} 1\nup{peer=\"b\"} 0\n"));

  registry.RemoveCallback("up", {{"peer", "a"}});
  registry.RemoveCallback("up", {{"peer", "never"}});
  registry.RemoveCallback("absent", {});
  text = registry.RenderPrometheus();
  EXPECT_THAT(text, Not(HasSubstr("peer=\"a\"")));
  EXPECT_THAT(text, HasSubstr("# TYPE up gauge\nup{peer=\"b\"} 0\n"));
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram* h = registry.GetHistogram("latency_seconds", "Latency.", {0.1, 1}, {{"code", "200"}});
  h->Observe(0.05);
  h->Observe(0.1);  // on the bound: counted in le="0.1"
  h->Observe(0.5);
  h->Observe(5);
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{code=\"200\",le=\"0.10000000000000001\"} 2\n"
                              "latency_seconds_bucket{code=\"200\",le=\"1\"} 3\n"
                              "latency_seconds_bucket{code=\"200\",le=\"+Inf\"} 4\n"
                              "latency_seconds_sum{code=\"200\"} 5.6500000000000004\n"
                              "latency_seconds_count{code=\"200\"} 4\n"));
}

TEST(MetricsRegistryTest, LabelValuesAreEscaped) {
  MetricsRegistry registry;
  registry.GetCounter("c_total", "C.", {{"path", "a\"b\\c\nd"}})->Increment();
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("c\nd")));
}

TEST(MetricsRegistryTest, LatencyBucketsAreIncreasing) {
  const std::vector<double> b = MetricsRegistry::LatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

}  // namespace
}  // namespace tailtrace
