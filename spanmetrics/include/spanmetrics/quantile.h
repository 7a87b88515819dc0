#pragma once

// Quantiles from an explicit-bucket histogram, as Prometheus' histogram_quantile computes them
// (what Jaeger's Monitor tab shows when its metrics come from Prometheus): the bucket holding the
// q-th observation is found from the cumulative counts, and the value is interpolated linearly
// between that bucket's lower and upper bound, as if its observations were spread evenly.
//
// Error: the true quantile lies in the same bucket, so the answer is off by less than that
// bucket's width (with the default buckets: 2 ms up to 10 ms, 40 ms between 10 and 50 ms, 400 ms
// between 400 and 800 ms, 5 s above 10 s). The first bucket's lower bound is 0. A quantile in
// the overflow bucket (above the last bound) is the last bound: a lower bound of the truth.

#include <cstdint>
#include <span>

namespace tailtrace::spanmetrics {

// `bounds`: the buckets' upper bounds, ascending; `counts`: per bucket (not cumulative), one more
// than `bounds` (the last counts observations above every bound). `q` in [0, 1]. NaN when the
// histogram is empty, q is outside [0, 1] or the sizes do not match.
double HistogramQuantile(double q, std::span<const double> bounds,
                         std::span<const uint64_t> counts);

}  // namespace tailtrace::spanmetrics
