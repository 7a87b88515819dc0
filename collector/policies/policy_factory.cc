// Building policies from their configs (dispatch by type, checks common to every policy), and the
// PolicySampler that evaluates a policy list the way OpenTelemetry's tail_sampling processor
// does (see collector/policies.h).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "collector/policies.h"
#include "internal.h"

namespace tailtrace::collector {
namespace policy_internal {

absl::Status FieldError(const BuildContext& ctx, PolicyType type, std::string_view field,
                        std::string_view what) {
  std::string message = absl::StrCat(ctx.path, ".", PolicyTypeName(type));
  if (!field.empty()) absl::StrAppend(&message, ".", absl::string_view(field.data(), field.size()));
  absl::StrAppend(&message, ": ", absl::string_view(what.data(), what.size()));
  return absl::InvalidArgumentError(message);
}

const AnyValue* FindAttribute(const google::protobuf::RepeatedPtrField<KeyValue>& attributes,
                              std::string_view key) {
  for (const KeyValue& kv : attributes) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<Policy>> Build(const PolicyConfig& config, const BuildContext& ctx) {
  if (ctx.depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(ctx.path, ": policies are nested more than ", kMaxDepth, " levels deep"));
  }
  if (config.name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ctx.path, ".name: missing (every policy needs a name)"));
  }
  if (ctx.depth > 0 &&
      (config.type == PolicyType::kDrop || config.type == PolicyType::kComposite)) {
    return absl::InvalidArgumentError(absl::StrCat(ctx.path, ".type: a ",
                                                   PolicyTypeName(config.type),
                                                   " policy can only be at the top level of "
                                                   "sampling.policies, not inside another policy"));
  }
  switch (config.type) {
    case PolicyType::kAlwaysSample:
    case PolicyType::kLatency:
    case PolicyType::kStatusCode:
    case PolicyType::kSpanCount:
    case PolicyType::kTraceFlags:
      return BuildTracePolicy(config, ctx);
    case PolicyType::kStringAttribute:
    case PolicyType::kNumericAttribute:
    case PolicyType::kBooleanAttribute:
    case PolicyType::kTraceState:
      return BuildAttributePolicy(config, ctx);
    case PolicyType::kProbabilistic:
    case PolicyType::kRateLimiting:
    case PolicyType::kBytesLimiting:
      return BuildRatePolicy(config, ctx);
    case PolicyType::kAnd:
    case PolicyType::kNot:
    case PolicyType::kDrop:
    case PolicyType::kComposite:
      return BuildCombinator(config, ctx);
    case PolicyType::kDynamic:
      return BuildDynamicPolicy(config, ctx);
  }
  return absl::InvalidArgumentError(absl::StrCat(ctx.path, ".type: unknown policy type"));
}

}  // namespace policy_internal

namespace {

using policy_internal::BuildContext;

std::string TopLevelPath(size_t index, const std::string& name) {
  std::string path = absl::StrCat("sampling.policies[", index, "]");
  if (!name.empty()) absl::StrAppend(&path, " (", name, ")");
  return path;
}

constexpr char kPolicyMetric[] = "otelcol_processor_tail_sampling_count_traces_sampled";
constexpr char kPolicyMetricHelp[] =
    "Traces each sampling policy voted to keep (sampled=\"true\") or not (sampled=\"false\").";

class PolicySampler final : public Sampler {
 public:
  struct Entry {
    std::unique_ptr<Policy> policy;
    Counter* sampled = nullptr;
    Counter* not_sampled = nullptr;
  };

  PolicySampler(std::vector<Entry> drops, std::vector<Entry> others, bool sample_on_first_match)
      : drops_(std::move(drops)),
        others_(std::move(others)),
        sample_on_first_match_(sample_on_first_match) {}

  bool NeedsSpans() const override {
    auto reads = [](const Entry& e) { return e.policy->ReadsSpans(); };
    return std::any_of(drops_.begin(), drops_.end(), reads) ||
           std::any_of(others_.begin(), others_.end(), reads);
  }

  SamplingDecision Decide(const TraceBuffer& trace, int64_t now_ns) override {
    for (Entry& e : drops_) {
      const PolicyResult r = Evaluate(e, trace, now_ns);
      if (r.decision == PolicyDecision::kDropped) return Dropped(e);
    }
    const Entry* vetoed_by = nullptr;
    bool any_not_sampled = false;
    const Entry* sampled = nullptr;
    double sampled_rate = 1.0;
    const Entry* invert_sampled = nullptr;
    double invert_sampled_rate = 1.0;
    for (Entry& e : others_) {
      const PolicyResult r = Evaluate(e, trace, now_ns);
      const double rate = std::isfinite(r.sample_rate) && r.sample_rate >= 1 ? r.sample_rate : 1;
      switch (r.decision) {
        case PolicyDecision::kSampled:
          if (sampled == nullptr || rate < sampled_rate) {
            sampled = &e;
            sampled_rate = rate;
          }
          break;
        case PolicyDecision::kInvertSampled:
          if (invert_sampled == nullptr || rate < invert_sampled_rate) {
            invert_sampled = &e;
            invert_sampled_rate = rate;
          }
          break;
        case PolicyDecision::kNotSampled:
          any_not_sampled = true;
          break;
        case PolicyDecision::kInvertNotSampled:
        case PolicyDecision::kDropped:
          if (vetoed_by == nullptr) vetoed_by = &e;
          break;
      }
      if (sample_on_first_match_ && r.decision == PolicyDecision::kSampled) break;
    }
    if (vetoed_by != nullptr) return Dropped(*vetoed_by);
    if (sampled != nullptr) return {true, sampled->policy->name(), sampled_rate};
    if (invert_sampled != nullptr && !any_not_sampled) {
      return {true, invert_sampled->policy->name(), invert_sampled_rate};
    }
    return {false, "", 1.0};
  }

 private:
  static PolicyResult Evaluate(Entry& e, const TraceBuffer& trace, int64_t now_ns) {
    const PolicyResult r = e.policy->Evaluate(trace, now_ns);
    Counter* counter = policy_internal::IsSampled(r.decision) ? e.sampled : e.not_sampled;
    if (counter != nullptr) counter->Increment();
    return r;
  }

  static SamplingDecision Dropped(const Entry& e) { return {false, e.policy->name(), 1.0}; }

  std::vector<Entry> drops_;
  std::vector<Entry> others_;
  bool sample_on_first_match_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Policy>> CreatePolicy(const PolicyConfig& config,
                                                     const std::string& path, uint32_t shard_index,
                                                     uint32_t num_shards) {
  return policy_internal::Build(config, BuildContext{path, shard_index, num_shards, 0});
}

absl::Status ValidatePolicies(const std::vector<PolicyConfig>& policies) {
  absl::flat_hash_map<std::string, size_t> names;
  for (size_t i = 0; i < policies.size(); ++i) {
    const std::string path = TopLevelPath(i, policies[i].name);
    absl::StatusOr<std::unique_ptr<Policy>> built = CreatePolicy(policies[i], path, 0, 1);
    if (!built.ok()) return built.status();
    auto [it, inserted] = names.emplace(policies[i].name, i);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".name: duplicate policy name (also sampling.policies[", it->second, "])"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Sampler>> MakePolicySampler(
    const std::vector<PolicyConfig>& policies, bool sample_on_first_match, uint32_t shard_index,
    uint32_t num_shards, MetricsRegistry* metrics) {
  if (policies.empty()) return std::make_unique<KeepAllSampler>();
  if (absl::Status s = ValidatePolicies(policies); !s.ok()) return s;
  std::vector<PolicySampler::Entry> drops;
  std::vector<PolicySampler::Entry> others;
  for (size_t i = 0; i < policies.size(); ++i) {
    absl::StatusOr<std::unique_ptr<Policy>> built =
        CreatePolicy(policies[i], TopLevelPath(i, policies[i].name), shard_index, num_shards);
    if (!built.ok()) return built.status();
    PolicySampler::Entry entry;
    entry.policy = *std::move(built);
    if (metrics != nullptr) {
      entry.sampled = metrics->GetCounter(kPolicyMetric, kPolicyMetricHelp,
                                          {{"policy", policies[i].name}, {"sampled", "true"}});
      entry.not_sampled = metrics->GetCounter(kPolicyMetric, kPolicyMetricHelp,
                                              {{"policy", policies[i].name}, {"sampled", "false"}});
    }
    (policies[i].type == PolicyType::kDrop ? drops : others).push_back(std::move(entry));
  }
  return std::make_unique<PolicySampler>(std::move(drops), std::move(others),
                                         sample_on_first_match);
}

absl::StatusOr<SamplerFactory> MakePolicySamplerFactory(const std::vector<PolicyConfig>& policies,
                                                        bool sample_on_first_match,
                                                        MetricsRegistry* metrics) {
  if (policies.empty()) {
    return SamplerFactory([](uint32_t, uint32_t) -> std::unique_ptr<Sampler> {
      return std::make_unique<KeepAllSampler>();
    });
  }
  if (absl::Status s = ValidatePolicies(policies); !s.ok()) return s;
  auto shared = std::make_shared<const std::vector<PolicyConfig>>(policies);
  return SamplerFactory([shared, sample_on_first_match, metrics](
                            uint32_t shard_index, uint32_t num_shards) -> std::unique_ptr<Sampler> {
    absl::StatusOr<std::unique_ptr<Sampler>> sampler =
        MakePolicySampler(*shared, sample_on_first_match, shard_index, num_shards, metrics);
    // Cannot fail: the list was validated above, and the shard count changes only rates.
    // Should it anyway, the shard keeps everything rather than lose traces.
    if (!sampler.ok()) return std::make_unique<KeepAllSampler>();
    return *std::move(sampler);
  });
}

}  // namespace tailtrace::collector
