// Policies on the shape of the whole trace: always_sample, latency, status_code, span_count,
// trace_flags.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "internal.h"

namespace tailtrace::collector::policy_internal {
namespace {

using opentelemetry::proto::trace::v1::Status;

class AlwaysSamplePolicy final : public NamedPolicy {
 public:
  using NamedPolicy::NamedPolicy;
  PolicyResult Evaluate(const TraceBuffer&, int64_t) override {
    return {PolicyDecision::kSampled, 1.0};
  }
  bool ReadsSpans() const override { return false; }
};

// Duration = latest end - earliest start over all spans, in whole milliseconds (truncated), as
// OpenTelemetry computes it. Without an upper bound: duration >= threshold_ms; with one:
// threshold_ms < duration <= upper_threshold_ms.
class LatencyPolicy final : public NamedPolicy {
 public:
  LatencyPolicy(std::string name, const LatencyPolicyConfig& config)
      : NamedPolicy(std::move(name)), config_(config) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    uint64_t min_start = std::numeric_limits<uint64_t>::max();
    uint64_t max_end = 0;
    bool any = false;
    AnySpan(trace, [&](const Resource&, const Span& span) {
      any = true;
      min_start = std::min<uint64_t>(min_start, span.start_time_unix_nano());
      max_end = std::max<uint64_t>(max_end, span.end_time_unix_nano());
      return false;
    });
    if (!any) return {};
    const uint64_t duration_ns = max_end > min_start ? max_end - min_start : 0;
    const int64_t duration_ms = static_cast<int64_t>(duration_ns / 1'000'000);
    const bool match =
        config_.upper_threshold_ms == 0
            ? duration_ms >= config_.threshold_ms
            : config_.threshold_ms < duration_ms && duration_ms <= config_.upper_threshold_ms;
    return {match ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, 1.0};
  }

 private:
  LatencyPolicyConfig config_;
};

class StatusCodePolicy final : public NamedPolicy {
 public:
  StatusCodePolicy(std::string name, std::vector<int> codes)
      : NamedPolicy(std::move(name)), codes_(std::move(codes)) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool match = AnySpan(trace, [&](const Resource&, const Span& span) {
      return std::find(codes_.begin(), codes_.end(), static_cast<int>(span.status().code())) !=
             codes_.end();
    });
    return {match ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, 1.0};
  }

 private:
  std::vector<int> codes_;
};

// min_spans <= span count <= max_spans (no upper bound when max_spans is 0).
class SpanCountPolicy final : public NamedPolicy {
 public:
  SpanCountPolicy(std::string name, const SpanCountPolicyConfig& config)
      : NamedPolicy(std::move(name)), config_(config) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const int64_t n = trace.span_count;
    const bool match = n >= config_.min_spans && (config_.max_spans == 0 || n <= config_.max_spans);
    return {match ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, 1.0};
  }
  bool ReadsSpans() const override { return false; }

 private:
  SpanCountPolicyConfig config_;
};

// Any span with the W3C "sampled" trace flag (bit 0 of Span.flags).
class TraceFlagsPolicy final : public NamedPolicy {
 public:
  using NamedPolicy::NamedPolicy;
  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool match =
        AnySpan(trace, [](const Resource&, const Span& span) { return (span.flags() & 1u) != 0; });
    return {match ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, 1.0};
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Policy>> BuildTracePolicy(const PolicyConfig& config,
                                                         const BuildContext& ctx) {
  switch (config.type) {
    case PolicyType::kAlwaysSample:
      return std::make_unique<AlwaysSamplePolicy>(config.name);
    case PolicyType::kTraceFlags:
      return std::make_unique<TraceFlagsPolicy>(config.name);
    case PolicyType::kLatency: {
      const LatencyPolicyConfig& c = config.latency;
      if (c.threshold_ms < 0) {
        return FieldError(ctx, config.type, "threshold_ms",
                          absl::StrCat("must be at least 0, got ", c.threshold_ms));
      }
      if (c.upper_threshold_ms < 0) {
        return FieldError(ctx, config.type, "upper_threshold_ms",
                          absl::StrCat("must be at least 0, got ", c.upper_threshold_ms));
      }
      if (c.upper_threshold_ms != 0 && c.upper_threshold_ms <= c.threshold_ms) {
        return FieldError(ctx, config.type, "upper_threshold_ms",
                          absl::StrCat("must be greater than threshold_ms (", c.threshold_ms,
                                       "), got ", c.upper_threshold_ms));
      }
      return std::make_unique<LatencyPolicy>(config.name, c);
    }
    case PolicyType::kStatusCode: {
      const std::vector<std::string>& names = config.status_code.status_codes;
      if (names.empty()) {
        return FieldError(ctx, config.type, "status_codes",
                          "must list at least one of OK, ERROR, UNSET");
      }
      std::vector<int> codes;
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == "OK") {
          codes.push_back(Status::STATUS_CODE_OK);
        } else if (names[i] == "ERROR") {
          codes.push_back(Status::STATUS_CODE_ERROR);
        } else if (names[i] == "UNSET") {
          codes.push_back(Status::STATUS_CODE_UNSET);
        } else {
          return FieldError(
              ctx, config.type, absl::StrCat("status_codes[", i, "]"),
              absl::StrCat("expected one of OK, ERROR, UNSET, got \"", names[i], "\""));
        }
      }
      return std::make_unique<StatusCodePolicy>(config.name, std::move(codes));
    }
    case PolicyType::kSpanCount: {
      const SpanCountPolicyConfig& c = config.span_count;
      if (c.min_spans < 0) {
        return FieldError(ctx, config.type, "min_spans",
                          absl::StrCat("must be at least 0, got ", c.min_spans));
      }
      if (c.max_spans < 0) {
        return FieldError(ctx, config.type, "max_spans",
                          absl::StrCat("must be at least 0, got ", c.max_spans));
      }
      if (c.max_spans != 0 && c.max_spans < c.min_spans) {
        return FieldError(
            ctx, config.type, "max_spans",
            absl::StrCat("must be at least min_spans (", c.min_spans, "), got ", c.max_spans));
      }
      return std::make_unique<SpanCountPolicy>(config.name, c);
    }
    default:
      break;
  }
  return absl::InternalError(
      absl::StrCat(ctx.path, ": not a trace policy type: ", PolicyTypeName(config.type)));
}

}  // namespace tailtrace::collector::policy_internal
