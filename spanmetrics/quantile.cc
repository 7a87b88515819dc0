#include "spanmetrics/quantile.h"

#include <algorithm>
#include <limits>

namespace tailtrace::spanmetrics {

double HistogramQuantile(double q, std::span<const double> bounds,
                         std::span<const uint64_t> counts) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (!(q >= 0 && q <= 1) || counts.size() != bounds.size() + 1) return kNaN;
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return kNaN;
  // The rank of the wanted observation among `total`, as Prometheus: q * total.
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;  // observations in the buckets before `i`
  for (size_t i = 0; i < bounds.size(); ++i) {
    const uint64_t in_bucket = counts[i];
    if (in_bucket > 0 && static_cast<double>(below + in_bucket) >= rank) {
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      const double upper = bounds[i];
      const double into = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lower + (upper - lower) * std::max(0.0, into);
    }
    below += in_bucket;
  }
  return bounds.empty() ? kNaN : bounds.back();  // in the overflow bucket
}

}  // namespace tailtrace::spanmetrics
