// Policies that keep a share of the traffic: probabilistic (by trace ID hash), rate_limiting
// (spans per second) and bytes_limiting (bytes per second), and the token bucket and keep-ratio
// helpers shared with composite and dynamic.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "internal.h"

namespace tailtrace::collector {

uint64_t TraceIdHash(std::string_view salt, const TraceId& trace_id) {
  // FNV-1a, 64 bits.
  constexpr uint64_t kOffsetBasis = 14695981039346656037ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h = kOffsetBasis;
  for (char c : salt) {
    h ^= static_cast<uint8_t>(c);
    h *= kPrime;
  }
  for (uint8_t b : trace_id.bytes) {
    h ^= b;
    h *= kPrime;
  }
  return h;
}

namespace policy_internal {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// (2^64 - 1) * ratio, truncated, as OpenTelemetry computes the probabilistic threshold.
uint64_t ThresholdForRatio(double ratio) {
  if (!(ratio > 0)) return 0;
  constexpr long double kMax = static_cast<long double>(std::numeric_limits<uint64_t>::max());
  const long double t = static_cast<long double>(ratio) * kMax;
  if (t >= kMax) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(t);
}

class ProbabilisticPolicy final : public NamedPolicy {
 public:
  ProbabilisticPolicy(std::string name, const ProbabilisticPolicyConfig& config)
      : NamedPolicy(std::move(name)),
        salt_(config.hash_salt.empty() ? std::string(kDefaultHashSalt) : config.hash_salt),
        threshold_(ThresholdForRatio(config.sampling_percentage / 100.0)),
        never_(config.sampling_percentage <= 0),
        rate_(config.sampling_percentage > 0 ? 100.0 / std::min(config.sampling_percentage, 100.0)
                                             : std::numeric_limits<double>::infinity()) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool keep = !never_ && TraceIdHash(salt_, trace.trace_id) <= threshold_;
    return {keep ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, rate_};
  }
  bool ReadsSpans() const override { return false; }

 private:
  std::string salt_;
  uint64_t threshold_;
  bool never_;
  double rate_;
};

// A token bucket of spans (or bytes) per second holding one second's worth (or the burst
// capacity); see TokenBucket.
class LimitingPolicy final : public NamedPolicy {
 public:
  enum class Unit { kSpans, kBytes };

  LimitingPolicy(std::string name, Unit unit, double rate_per_second, double capacity)
      : NamedPolicy(std::move(name)), unit_(unit), bucket_(rate_per_second, capacity) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) override {
    const double cost = unit_ == Unit::kSpans ? static_cast<double>(trace.span_count)
                                              : static_cast<double>(trace.bytes);
    const bool keep = bucket_.CanTake(cost, now_ns);
    if (keep) bucket_.Take(cost);
    const double rate = ratio_.Record(keep, now_ns);
    return {keep ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, rate};
  }
  bool ReadsSpans() const override { return false; }

 private:
  Unit unit_;
  TokenBucket bucket_;
  KeepRatio ratio_;
};

}  // namespace

bool KeepByHash(uint64_t hash, double sample_rate) {
  if (!(sample_rate >= 1.0)) return true;
  return hash <= ThresholdForRatio(1.0 / sample_rate);
}

double ComplementRate(double r) {
  if (!(r > 1.0) || std::isinf(r)) return 1.0;
  return r / (r - 1.0);
}

void TokenBucket::Refill(int64_t now_ns) {
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
    return;
  }
  if (now_ns <= last_ns_) return;
  tokens_ = std::min(capacity_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
  last_ns_ = now_ns;
}

bool TokenBucket::CanTake(double cost, int64_t now_ns) {
  Refill(now_ns);
  if (rate_per_ns_ <= 0) return false;
  return tokens_ >= cost || (cost > capacity_ && tokens_ >= capacity_);
}

double KeepRatio::Record(bool kept, int64_t now_ns) {
  const int64_t window = now_ns >= 0 ? now_ns / kNanosPerSecond : -1;
  if (window != window_) {
    previous_window_ = window_;
    previous_offered_ = offered_;
    previous_kept_ = kept_;
    window_ = window;
    offered_ = 0;
    kept_ = 0;
  }
  ++offered_;
  if (kept) ++kept_;
  if (previous_window_ == window_ - 1 && previous_kept_ > 0) {
    return std::max(1.0, static_cast<double>(previous_offered_) / previous_kept_);
  }
  return std::max(1.0, static_cast<double>(offered_) / std::max<uint64_t>(kept_, 1));
}

absl::StatusOr<std::unique_ptr<Policy>> BuildRatePolicy(const PolicyConfig& config,
                                                        const BuildContext& ctx) {
  const double shards = static_cast<double>(std::max<uint32_t>(ctx.num_shards, 1));
  switch (config.type) {
    case PolicyType::kProbabilistic: {
      const double p = config.probabilistic.sampling_percentage;
      if (!(p >= 0 && p <= 100)) {
        return FieldError(ctx, config.type, "sampling_percentage",
                          absl::StrCat("must be from 0 to 100, got ", p));
      }
      return std::make_unique<ProbabilisticPolicy>(config.name, config.probabilistic);
    }
    case PolicyType::kRateLimiting: {
      const int64_t sps = config.rate_limiting.spans_per_second;
      if (sps < 1) {
        return FieldError(ctx, config.type, "spans_per_second",
                          absl::StrCat("must be at least 1, got ", sps));
      }
      const double share = static_cast<double>(sps) / shards;
      return std::make_unique<LimitingPolicy>(config.name, LimitingPolicy::Unit::kSpans, share,
                                              share);
    }
    case PolicyType::kBytesLimiting: {
      const BytesLimitingPolicyConfig& c = config.bytes_limiting;
      if (c.bytes_per_second < 1) {
        return FieldError(ctx, config.type, "bytes_per_second",
                          absl::StrCat("must be at least 1, got ", c.bytes_per_second));
      }
      if (c.burst_capacity < 0) {
        return FieldError(ctx, config.type, "burst_capacity",
                          absl::StrCat("must be at least 0, got ", c.burst_capacity));
      }
      const double burst = c.burst_capacity > 0 ? static_cast<double>(c.burst_capacity)
                                                : 2.0 * static_cast<double>(c.bytes_per_second);
      return std::make_unique<LimitingPolicy>(config.name, LimitingPolicy::Unit::kBytes,
                                              static_cast<double>(c.bytes_per_second) / shards,
                                              burst / shards);
    }
    default:
      break;
  }
  return absl::InternalError(
      absl::StrCat(ctx.path, ": not a rate policy type: ", PolicyTypeName(config.type)));
}

}  // namespace policy_internal
}  // namespace tailtrace::collector
