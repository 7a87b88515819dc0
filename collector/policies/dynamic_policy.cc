// The `dynamic` policy (a tailtrace extension in the spirit of Honeycomb Refinery's dynamic and
// throughput samplers): traces are grouped by a key made of a few fields, each key gets its own
// sample rate, recomputed every adjustment_interval from how often the key was seen, so that
// frequent keys are thinned and rare keys are kept.
//
// Per shard, with the shard's clock only:
//   - Each evaluated trace is counted under its key during the current interval.
//   - At the end of an interval each key's moving average becomes 0.5 * average + 0.5 * count
//     (a new key starts at its count; an unseen key halves). A key whose average falls below 0.5,
//     or (with clear_frequency) that has not been seen for clear_frequency, is forgotten.
//   - The goal is G = sum(averages) / goal_sample_rate traces per interval, or
//     goal_throughput_per_sec * interval / num_shards. Keys are visited from the rarest up; each
//     gets a share of what is left of G proportional to 1 + log10(average), so rare keys get more
//     per trace than frequent ones. A key whose average fits in its share (or is at most 1) gets
//     rate 1 (always kept) and leaves the rest of its share to the keys after it; a larger key
//     gets rate average / share.
//   - A key not in the table (new, or during the first interval) has rate 1.
//   - A trace is kept when Mix64(TraceIdHash(<policy name>, trace ID)) <= (2^64 - 1) / rate, so
//     the decision is a pure function of the trace ID for a given rate.
//   - Beyond max_keys keys, new keys share one overflow key.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "internal.h"

namespace tailtrace::collector::policy_internal {
namespace {

using opentelemetry::proto::trace::v1::Status;

// The key of traces whose own key did not fit in max_keys.
constexpr char kOverflowKey[] = "\x1e(overflow)";
// Separates field values in a key.
constexpr char kFieldSeparator = '\x1f';
// Intervals without traffic applied at most (an average has decayed away long before).
constexpr int64_t kMaxDecaySteps = 64;

std::string RenderValue(const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return v.string_value();
    case AnyValue::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return absl::StrCat(v.int_value());
    case AnyValue::kDoubleValue:
      return absl::StrCat(v.double_value());
    case AnyValue::VALUE_NOT_SET:
      return "";
    default:
      return v.ShortDebugString();
  }
}

const char* StatusName(int code) {
  switch (code) {
    case Status::STATUS_CODE_OK:
      return "OK";
    case Status::STATUS_CODE_ERROR:
      return "ERROR";
    default:
      return "UNSET";
  }
}

// MurmurHash3's 64-bit finalizer: spreads FNV-1a's output, whose high bits barely change
// between trace IDs that differ only in their last bytes.
uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb93fe344e1a5ull;
  h ^= h >> 33;
  return h;
}

class DynamicPolicy final : public NamedPolicy {
 public:
  DynamicPolicy(std::string name, const DynamicPolicyConfig& config, uint32_t num_shards)
      : NamedPolicy(std::move(name)),
        config_(config),
        num_shards_(std::max<uint32_t>(1, num_shards)) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) override {
    if (!started_) {
      started_ = true;
      interval_start_ns_ = now_ns;
    }
    if (now_ns - interval_start_ns_ >= config_.adjustment_interval_ns) Adjust(now_ns);

    std::string key = KeyOf(trace);
    if (!counts_.contains(key) && !keys_.contains(key)) {
      if (keys_.size() + new_keys_ >= static_cast<size_t>(config_.max_keys)) {
        key = kOverflowKey;
      }
      if (!counts_.contains(key) && !keys_.contains(key)) ++new_keys_;
    }
    ++counts_[key];
    double rate = 1.0;
    if (auto it = keys_.find(key); it != keys_.end()) rate = it->second.rate;
    const bool keep = KeepByHash(Mix64(TraceIdHash(name(), trace.trace_id)), rate);
    return {keep ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, rate};
  }

 private:
  struct KeyState {
    double average = 0;
    int64_t last_seen_ns = 0;
    double rate = 1.0;
  };

  std::string KeyOf(const TraceBuffer& trace) const {
    // The root span (the first span without a parent) and its resource, if any.
    const Span* root = nullptr;
    const Resource* root_resource = nullptr;
    AnySpan(trace, [&](const Resource& resource, const Span& span) {
      if (!span.parent_span_id().empty()) return false;
      root = &span;
      root_resource = &resource;
      return true;
    });
    std::string key;
    for (size_t i = 0; i < config_.key_fields.size(); ++i) {
      if (i > 0) key.push_back(kFieldSeparator);
      absl::StrAppend(&key, FieldValue(trace, config_.key_fields[i], root, root_resource));
    }
    return key;
  }

  static std::string FieldValue(const TraceBuffer& trace, const std::string& field,
                                const Span* root, const Resource* root_resource) {
    if (field == "status_code") {
      // ERROR when any span failed, otherwise the root span's status (or OK when any span is).
      int status = Status::STATUS_CODE_UNSET;
      const bool error = AnySpan(trace, [&](const Resource&, const Span& span) {
        if (span.status().code() == Status::STATUS_CODE_ERROR) return true;
        if (span.status().code() == Status::STATUS_CODE_OK) status = Status::STATUS_CODE_OK;
        return false;
      });
      if (error) return "ERROR";
      if (root != nullptr) return StatusName(root->status().code());
      return StatusName(status);
    }
    const Span* first = root;
    if (first == nullptr) {
      AnySpan(trace, [&](const Resource&, const Span& span) {
        first = &span;
        return true;
      });
    }
    if (field == "span.name") return first != nullptr ? first->name() : "";
    if (field == "span.kind") {
      return first != nullptr ? opentelemetry::proto::trace::v1::Span_SpanKind_Name(first->kind())
                              : "";
    }
    const std::string_view key = field;
    if (root != nullptr) {
      if (const AnyValue* v = FindAttribute(root->attributes(), key)) return RenderValue(*v);
      if (const AnyValue* v = FindAttribute(root_resource->attributes(), key)) {
        return RenderValue(*v);
      }
      return "";
    }
    std::string value;
    AnySpan(trace, [&](const Resource& resource, const Span& span) {
      const AnyValue* v = FindAttribute(span.attributes(), key);
      if (v == nullptr) v = FindAttribute(resource.attributes(), key);
      if (v == nullptr) return false;
      value = RenderValue(*v);
      return true;
    });
    return value;
  }

  void Adjust(int64_t now_ns) {
    const int64_t interval = config_.adjustment_interval_ns;
    const int64_t elapsed = (now_ns - interval_start_ns_) / interval;
    const int64_t counted_end_ns = interval_start_ns_ + interval;
    for (auto& [key, state] : keys_) {
      auto it = counts_.find(key);
      if (it == counts_.end()) {
        state.average *= 0.5;
      } else {
        state.average = 0.5 * state.average + 0.5 * static_cast<double>(it->second);
        state.last_seen_ns = counted_end_ns;
      }
    }
    for (const auto& [key, count] : counts_) {
      auto [it, inserted] = keys_.try_emplace(key);
      if (inserted) {
        it->second.average = static_cast<double>(count);
        it->second.last_seen_ns = counted_end_ns;
      }
    }
    for (int64_t i = 1; i < std::min(elapsed, kMaxDecaySteps); ++i) {
      for (auto& [key, state] : keys_) state.average *= 0.5;
    }
    absl::erase_if(keys_, [&](const auto& entry) {
      return entry.second.average < 0.5 ||
             (config_.clear_frequency_ns > 0 &&
              now_ns - entry.second.last_seen_ns >= config_.clear_frequency_ns);
    });
    counts_.clear();
    new_keys_ = 0;
    interval_start_ns_ += elapsed * interval;
    Recompute();
  }

  void Recompute() {
    std::vector<std::pair<double, KeyState*>> by_average;
    double sum = 0;
    double weight_left = 0;
    for (auto& [key, state] : keys_) {
      by_average.emplace_back(state.average, &state);
      sum += state.average;
      weight_left += Weight(state.average);
    }
    std::sort(by_average.begin(), by_average.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    double goal_left = config_.goal_sample_rate > 0
                           ? sum / config_.goal_sample_rate
                           : config_.goal_throughput_per_sec *
                                 (static_cast<double>(config_.adjustment_interval_ns) / 1e9) /
                                 num_shards_;
    for (auto& [average, state] : by_average) {
      const double weight = Weight(average);
      const double share = weight_left > 0 ? goal_left * weight / weight_left : 0;
      double used;
      if (average <= 1.0 || average <= share) {
        state->rate = 1.0;
        used = average;
      } else if (share > 0) {
        state->rate = average / share;
        used = share;
      } else {
        state->rate = average;
        used = 1.0;
      }
      goal_left = std::max(0.0, goal_left - used);
      weight_left -= weight;
    }
  }

  static double Weight(double average) { return 1.0 + std::log10(std::max(average, 1.0)); }

  DynamicPolicyConfig config_;
  uint32_t num_shards_;
  bool started_ = false;
  int64_t interval_start_ns_ = 0;
  // Traces per key in the current interval.
  absl::flat_hash_map<std::string, uint64_t> counts_;
  // Keys counted this interval that are not in keys_ yet.
  size_t new_keys_ = 0;
  // Known keys, their moving averages and current rates.
  absl::flat_hash_map<std::string, KeyState> keys_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Policy>> BuildDynamicPolicy(const PolicyConfig& config,
                                                           const BuildContext& ctx) {
  const DynamicPolicyConfig& c = config.dynamic;
  if (c.key_fields.empty()) {
    return FieldError(ctx, config.type, "key_fields", "must list at least one field");
  }
  for (size_t i = 0; i < c.key_fields.size(); ++i) {
    if (c.key_fields[i].empty()) {
      return FieldError(ctx, config.type, absl::StrCat("key_fields[", i, "]"), "must not be empty");
    }
  }
  const bool by_rate = c.goal_sample_rate != 0;
  const bool by_throughput = c.goal_throughput_per_sec != 0;
  if (by_rate == by_throughput) {
    return FieldError(ctx, config.type, "",
                      "set exactly one of goal_sample_rate and goal_throughput_per_sec");
  }
  if (by_rate && !(c.goal_sample_rate >= 1)) {
    return FieldError(ctx, config.type, "goal_sample_rate",
                      absl::StrCat("must be at least 1, got ", c.goal_sample_rate));
  }
  if (by_throughput && !(c.goal_throughput_per_sec > 0)) {
    return FieldError(ctx, config.type, "goal_throughput_per_sec",
                      absl::StrCat("must be greater than 0, got ", c.goal_throughput_per_sec));
  }
  if (c.adjustment_interval_ns <= 0) {
    return FieldError(ctx, config.type, "adjustment_interval", "must be greater than 0");
  }
  if (c.clear_frequency_ns < 0) {
    return FieldError(ctx, config.type, "clear_frequency", "must not be negative");
  }
  if (c.max_keys < 1) {
    return FieldError(ctx, config.type, "max_keys",
                      absl::StrCat("must be at least 1, got ", c.max_keys));
  }
  return std::make_unique<DynamicPolicy>(config.name, c, ctx.num_shards);
}

}  // namespace tailtrace::collector::policy_internal
