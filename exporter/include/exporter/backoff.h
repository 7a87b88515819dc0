#pragma once

// The retry schedule of the OTLP exporter: exponential backoff with randomization, as otelcol's
// retry_on_failure (cenkalti/backoff) computes it. Pure functions, tested alone.

#include <algorithm>
#include <cstdint>

#include "exporter/options.h"

namespace tailtrace::exporter {

// The wait before retry number `retry` (0 = the first retry), before randomization:
// initial_interval * multiplier^retry, at most max_interval.
[[nodiscard]] inline int64_t BackoffIntervalNs(const RetryOptions& options, int retry) {
  double interval = static_cast<double>(options.initial_interval_ns);
  const double cap = static_cast<double>(options.max_interval_ns);
  for (int i = 0; i < retry && interval < cap; ++i) interval *= options.multiplier;
  return static_cast<int64_t>(std::min(interval, cap));
}

// BackoffIntervalNs randomized by `random01` in [0, 1): uniformly spread over
// [interval * (1 - f), interval * (1 + f)] for f = randomization_factor.
[[nodiscard]] inline int64_t BackoffDelayNs(const RetryOptions& options, int retry,
                                            double random01) {
  const double interval = static_cast<double>(BackoffIntervalNs(options, retry));
  const double delta = options.randomization_factor * interval;
  return static_cast<int64_t>(interval - delta + random01 * 2 * delta);
}

}  // namespace tailtrace::exporter
