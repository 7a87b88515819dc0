// Policies made of other policies: and, not, drop, composite.
//
// Inside these, an inverted vote of an attribute policy counts as the plain one
// (kInvertSampled as kSampled, kInvertNotSampled as kNotSampled), as in OpenTelemetry.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "internal.h"

namespace tailtrace::collector::policy_internal {
namespace {

using PolicyList = std::vector<std::unique_ptr<Policy>>;

bool AnyReadsSpans(const PolicyList& policies) {
  return std::any_of(policies.begin(), policies.end(),
                     [](const std::unique_ptr<Policy>& p) { return p->ReadsSpans(); });
}

// Kept when every sub-policy keeps (evaluated in order, stopping at the first that does not).
// The sample rate is the product of the sub-policies' rates ("service X" and "10%" -> 10).
class AndPolicy final : public NamedPolicy {
 public:
  AndPolicy(std::string name, PolicyList subs)
      : NamedPolicy(std::move(name)), subs_(std::move(subs)) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) override {
    double rate = 1.0;
    for (const std::unique_ptr<Policy>& sub : subs_) {
      const PolicyResult r = sub->Evaluate(trace, now_ns);
      rate *= r.sample_rate;
      if (!IsSampled(r.decision)) return {PolicyDecision::kNotSampled, rate};
    }
    return {PolicyDecision::kSampled, rate};
  }
  bool ReadsSpans() const override { return AnyReadsSpans(subs_); }

 private:
  PolicyList subs_;
};

// The opposite vote of its one sub-policy. A sub-policy keeping with rate r (probability 1/r)
// makes `not` keep with probability 1 - 1/r, so the rate is r / (r - 1) (1 for deterministic
// sub-policies).
class NotPolicy final : public NamedPolicy {
 public:
  NotPolicy(std::string name, std::unique_ptr<Policy> sub)
      : NamedPolicy(std::move(name)), sub_(std::move(sub)) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) override {
    const PolicyResult r = sub_->Evaluate(trace, now_ns);
    return {IsSampled(r.decision) ? PolicyDecision::kNotSampled : PolicyDecision::kSampled,
            ComplementRate(r.sample_rate)};
  }
  bool ReadsSpans() const override { return sub_->ReadsSpans(); }

 private:
  std::unique_ptr<Policy> sub_;
};

// kDropped when every sub-policy keeps (they are the conditions of the drop), kNotSampled as
// soon as one does not.
class DropPolicy final : public NamedPolicy {
 public:
  DropPolicy(std::string name, PolicyList subs)
      : NamedPolicy(std::move(name)), subs_(std::move(subs)) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) override {
    for (const std::unique_ptr<Policy>& sub : subs_) {
      if (!IsSampled(sub->Evaluate(trace, now_ns).decision)) return {};
    }
    return {PolicyDecision::kDropped, 1.0};
  }
  bool ReadsSpans() const override { return AnyReadsSpans(subs_); }

 private:
  PolicyList subs_;
};

// Sub-policies in policy order; the first that keeps the trace decides: kept if its span budget
// (rate_allocation) and the composite's total budget (max_total_spans_per_second) both have room,
// otherwise not kept (later sub-policies are not asked, as in OpenTelemetry). A sub-policy
// without a rate_allocation entry is limited by the total budget only. Budgets are token buckets
// of one second's worth, per shard. The sample rate is the sub-policy's times the offered/kept
// ratio of its budget.
class CompositePolicy final : public NamedPolicy {
 public:
  struct Sub {
    std::unique_ptr<Policy> policy;
    std::optional<TokenBucket> budget;
    KeepRatio ratio;
  };

  CompositePolicy(std::string name, std::vector<Sub> subs, double total_per_second)
      : NamedPolicy(std::move(name)),
        subs_(std::move(subs)),
        total_(total_per_second, total_per_second) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t now_ns) override {
    const double cost = static_cast<double>(trace.span_count);
    for (Sub& sub : subs_) {
      const PolicyResult r = sub.policy->Evaluate(trace, now_ns);
      if (!IsSampled(r.decision)) continue;
      // Both asked, so that both refill.
      const bool total_ok = total_.CanTake(cost, now_ns);
      const bool sub_ok = !sub.budget || sub.budget->CanTake(cost, now_ns);
      const bool keep = total_ok && sub_ok;
      if (keep) {
        total_.Take(cost);
        if (sub.budget) sub.budget->Take(cost);
      }
      const double rate = r.sample_rate * sub.ratio.Record(keep, now_ns);
      return {keep ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, rate};
    }
    return {};
  }
  bool ReadsSpans() const override {
    return std::any_of(subs_.begin(), subs_.end(),
                       [](const Sub& sub) { return sub.policy->ReadsSpans(); });
  }

 private:
  std::vector<Sub> subs_;
  TokenBucket total_;
};

std::string SubPath(const BuildContext& ctx, PolicyType type, std::string_view list, size_t i,
                    const std::string& name) {
  std::string path = absl::StrCat(ctx.path, ".", PolicyTypeName(type), ".",
                                  absl::string_view(list.data(), list.size()));
  if (i != SIZE_MAX) absl::StrAppend(&path, "[", i, "]");
  if (!name.empty()) absl::StrAppend(&path, " (", name, ")");
  return path;
}

absl::StatusOr<PolicyList> BuildSubs(const PolicyConfig& config, const BuildContext& ctx,
                                     std::string_view list) {
  if (config.sub_policies.empty()) {
    return FieldError(ctx, config.type, list, "must list at least one policy");
  }
  PolicyList subs;
  for (size_t i = 0; i < config.sub_policies.size(); ++i) {
    const PolicyConfig& sub = config.sub_policies[i];
    BuildContext sub_ctx = ctx;
    sub_ctx.path = SubPath(ctx, config.type, list, i, sub.name);
    sub_ctx.depth = ctx.depth + 1;
    absl::StatusOr<std::unique_ptr<Policy>> built = Build(sub, sub_ctx);
    if (!built.ok()) return built.status();
    subs.push_back(*std::move(built));
  }
  return subs;
}

absl::StatusOr<std::unique_ptr<Policy>> BuildComposite(const PolicyConfig& config,
                                                       const BuildContext& ctx) {
  const CompositePolicyConfig& c = config.composite;
  if (c.max_total_spans_per_second < 1) {
    return FieldError(ctx, config.type, "max_total_spans_per_second",
                      absl::StrCat("must be at least 1, got ", c.max_total_spans_per_second));
  }
  absl::StatusOr<PolicyList> built = BuildSubs(config, ctx, "composite_sub_policy");
  if (!built.ok()) return built.status();
  PolicyList& policies = *built;

  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < config.sub_policies.size(); ++i) {
    auto [it, inserted] = index.emplace(config.sub_policies[i].name, i);
    if (!inserted) {
      return FieldError(ctx, config.type, absl::StrCat("composite_sub_policy[", i, "].name"),
                        absl::StrCat("duplicate sub-policy name \"", config.sub_policies[i].name,
                                     "\" (also composite_sub_policy[", it->second, "])"));
    }
  }

  std::vector<size_t> order;
  std::vector<bool> placed(policies.size(), false);
  for (size_t i = 0; i < c.policy_order.size(); ++i) {
    auto it = index.find(c.policy_order[i]);
    if (it == index.end()) {
      return FieldError(
          ctx, config.type, absl::StrCat("policy_order[", i, "]"),
          absl::StrCat("\"", c.policy_order[i], "\" is not the name of a composite_sub_policy"));
    }
    if (placed[it->second]) {
      return FieldError(ctx, config.type, absl::StrCat("policy_order[", i, "]"),
                        absl::StrCat("\"", c.policy_order[i], "\" is listed twice"));
    }
    placed[it->second] = true;
    order.push_back(it->second);
  }
  for (size_t i = 0; i < policies.size(); ++i) {
    if (!placed[i]) order.push_back(i);
  }

  const double shards = static_cast<double>(std::max<uint32_t>(ctx.num_shards, 1));
  const double total = static_cast<double>(c.max_total_spans_per_second);
  std::vector<std::optional<double>> allocated(policies.size());
  int64_t percent_sum = 0;
  for (size_t i = 0; i < c.rate_allocation.size(); ++i) {
    const RateAllocation& a = c.rate_allocation[i];
    auto it = index.find(a.policy);
    if (it == index.end()) {
      return FieldError(
          ctx, config.type, absl::StrCat("rate_allocation[", i, "].policy"),
          absl::StrCat("\"", a.policy, "\" is not the name of a composite_sub_policy"));
    }
    if (allocated[it->second]) {
      return FieldError(ctx, config.type, absl::StrCat("rate_allocation[", i, "].policy"),
                        absl::StrCat("\"", a.policy, "\" has two rate allocations"));
    }
    if (a.percent < 0 || a.percent > 100) {
      return FieldError(ctx, config.type, absl::StrCat("rate_allocation[", i, "].percent"),
                        absl::StrCat("must be from 0 to 100, got ", a.percent));
    }
    percent_sum += a.percent;
    // 0 is OpenTelemetry's "equal share".
    allocated[it->second] = a.percent > 0 ? total * static_cast<double>(a.percent) / 100.0
                                          : total / static_cast<double>(policies.size());
  }
  if (percent_sum > 100) {
    return FieldError(ctx, config.type, "rate_allocation",
                      absl::StrCat("the percents add up to ", percent_sum, ", more than 100"));
  }

  std::vector<CompositePolicy::Sub> subs;
  for (size_t i : order) {
    CompositePolicy::Sub sub;
    sub.policy = std::move(policies[i]);
    if (allocated[i]) sub.budget.emplace(*allocated[i] / shards, *allocated[i] / shards);
    subs.push_back(std::move(sub));
  }
  return std::make_unique<CompositePolicy>(config.name, std::move(subs), total / shards);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Policy>> BuildCombinator(const PolicyConfig& config,
                                                        const BuildContext& ctx) {
  switch (config.type) {
    case PolicyType::kAnd: {
      absl::StatusOr<PolicyList> subs = BuildSubs(config, ctx, "and_sub_policy");
      if (!subs.ok()) return subs.status();
      return std::make_unique<AndPolicy>(config.name, *std::move(subs));
    }
    case PolicyType::kDrop: {
      absl::StatusOr<PolicyList> subs = BuildSubs(config, ctx, "drop_sub_policy");
      if (!subs.ok()) return subs.status();
      return std::make_unique<DropPolicy>(config.name, *std::move(subs));
    }
    case PolicyType::kNot: {
      if (config.sub_policies.size() != 1) {
        return FieldError(
            ctx, config.type, "not_sub_policy",
            absl::StrCat("must be exactly one policy, got ", config.sub_policies.size()));
      }
      BuildContext sub_ctx = ctx;
      sub_ctx.path =
          SubPath(ctx, config.type, "not_sub_policy", SIZE_MAX, config.sub_policies[0].name);
      sub_ctx.depth = ctx.depth + 1;
      absl::StatusOr<std::unique_ptr<Policy>> sub = Build(config.sub_policies[0], sub_ctx);
      if (!sub.ok()) return sub.status();
      return std::make_unique<NotPolicy>(config.name, *std::move(sub));
    }
    case PolicyType::kComposite:
      return BuildComposite(config, ctx);
    default:
      break;
  }
  return absl::InternalError(
      absl::StrCat(ctx.path, ": not a combinator type: ", PolicyTypeName(config.type)));
}

}  // namespace tailtrace::collector::policy_internal
