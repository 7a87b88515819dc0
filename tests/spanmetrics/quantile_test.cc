#include "spanmetrics/quantile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace tailtrace::spanmetrics {
namespace {

const std::vector<double> kBounds = {2,   4,   6,    8,    10,   50,   100,   200,
                                     400, 800, 1000, 1400, 2000, 5000, 10000, 15000};

std::vector<uint64_t> Histogram(const std::vector<double>& values) {
  std::vector<uint64_t> counts(kBounds.size() + 1, 0);
  for (double v : values) {
    size_t i = 0;
    while (i < kBounds.size() && v > kBounds[i]) ++i;
    ++counts[i];
  }
  return counts;
}

TEST(HistogramQuantileTest, InterpolatesWithinTheBucket) {
  // 100 observations evenly in (10, 50]: the interpolation is exact for an even spread.
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(10 + 0.4 * i);
  const auto counts = Histogram(values);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, kBounds, counts), 30);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.95, kBounds, counts), 48);
  EXPECT_DOUBLE_EQ(HistogramQuantile(1, kBounds, counts), 50);
}

TEST(HistogramQuantileTest, TheFirstBucketStartsAtZero) {
  const auto counts = Histogram({1, 1, 1, 1});
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, kBounds, counts), 1);
}

// The documented error: less than the width of the bucket that holds the true quantile.
TEST(HistogramQuantileTest, TheErrorIsWithinTheBucketOfTheTrueQuantile) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(120.0), 1.2);
  std::vector<double> values(20'000);
  for (double& v : values) v = std::min(latency(rng), 14'000.0);
  const auto counts = Histogram(values);
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (double q : {0.5, 0.75, 0.95, 0.99}) {
    const double truth = sorted[static_cast<size_t>(q * (sorted.size() - 1))];
    size_t b = 0;
    while (b < kBounds.size() && truth > kBounds[b]) ++b;
    const double width = kBounds[b] - (b == 0 ? 0 : kBounds[b - 1]);
    EXPECT_NEAR(HistogramQuantile(q, kBounds, counts), truth, width) << "q=" << q;
  }
}

TEST(HistogramQuantileTest, OverflowAnswersTheLastBound) {
  const auto counts = Histogram({20'000, 30'000});
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, kBounds, counts), 15'000);
}

TEST(HistogramQuantileTest, NothingToSayIsNaN) {
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, kBounds, Histogram({}))));
  const auto counts = Histogram({5});
  EXPECT_TRUE(std::isnan(HistogramQuantile(1.5, kBounds, counts)));
  EXPECT_TRUE(std::isnan(HistogramQuantile(-0.1, kBounds, counts)));
  EXPECT_TRUE(std::isnan(HistogramQuantile(std::nan(""), kBounds, counts)));
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, kBounds, std::vector<uint64_t>{1, 2})));
}

}  // namespace
}  // namespace tailtrace::spanmetrics
