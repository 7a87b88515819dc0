// Tail-sampling combinators (collector/policies.h): and, not, drop and composite, their
// sub-policy validation and rate allocation. Time is passed in; nothing sleeps.

#include "collector/policies.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector/policy_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector/policy_test_util.h"

namespace tailtrace::collector {
namespace {

using opentelemetry::proto::trace::v1::Status;
using testing::BuildError;
using testing::Drop;
using testing::Errors;
using ::testing::HasSubstr;
using testing::kNotSampled;
using testing::kSampled;
using testing::kSec;
using testing::Make;
using testing::Named;
using testing::Probabilistic;
using testing::StringAttr;
using testing::TraceBuilder;
using testing::Vote;

// ------------------------------------------------------------------------------------------------
// Combinators

PolicyConfig And(const std::string& name, std::vector<PolicyConfig> subs) {
  PolicyConfig c = Named(name, PolicyType::kAnd);
  c.sub_policies = std::move(subs);
  return c;
}

PolicyConfig Not(const std::string& name, PolicyConfig sub) {
  PolicyConfig c = Named(name, PolicyType::kNot);
  c.sub_policies = {std::move(sub)};
  return c;
}

TEST(AndPolicyTest, AllSubPoliciesMustKeepAndRatesMultiply) {
  PolicyConfig c =
      And("checkout-10pct",
          {StringAttr("service.name", {"checkout"}, false, false, "svc"), Probabilistic(10)});
  std::unique_ptr<Policy> p = Make(c);
  int kept = 0;
  for (uint64_t n = 0; n < 1000; ++n) {
    const PolicyResult r = p->Evaluate(TraceBuilder(n).Root("checkout"), 0);
    if (r.decision == kSampled) {
      ++kept;
      EXPECT_DOUBLE_EQ(r.sample_rate, 10.0);
    }
    EXPECT_EQ(p->Evaluate(TraceBuilder(n).Root("cart"), 0).decision, kNotSampled);
  }
  EXPECT_GT(kept, 50);
  EXPECT_LT(kept, 150);
}

TEST(AndPolicyTest, InvertedVotesCountAsPlainOnes) {
  PolicyConfig c =
      And("not-health", {StringAttr("http.route", {"/health"}, false, /*invert=*/true, "route"),
                         Named("all", PolicyType::kAlwaysSample)});
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("http.route", "/api")), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().Str("http.route", "/health")), kNotSampled);
}

TEST(NotPolicyTest, InvertsItsSubPolicyAndItsRate) {
  PolicyConfig c = Not("no-errors", Errors("err"));
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root()), kSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(2).Root().StatusCode(Status::STATUS_CODE_ERROR)), kNotSampled);
  // not(25%) keeps 75%: rate 4/3.
  std::unique_ptr<Policy> p = Make(Not("most", Probabilistic(25)));
  int kept = 0;
  for (uint64_t n = 0; n < 4000; ++n) {
    const PolicyResult r = p->Evaluate(TraceBuilder(n).Root(), 0);
    EXPECT_NEAR(r.sample_rate, 4.0 / 3.0, 1e-9);
    kept += r.decision == kSampled;
  }
  EXPECT_NEAR(kept, 3000, 150);
}

TEST(NotPolicyTest, NeedsExactlyOneSubPolicy) {
  PolicyConfig c = Not("n", Errors());
  c.sub_policies.push_back(Errors("e2"));
  EXPECT_EQ(BuildError(c), "p.not.not_sub_policy: must be exactly one policy, got 2");
}

TEST(DropPolicyTest, DropsWhenAllSubPoliciesMatch) {
  PolicyConfig c =
      Drop("drop-health", {StringAttr("http.route", {"/health"}), Not("ok", Errors("err"))});
  EXPECT_EQ(Vote(c, TraceBuilder(1).Root().Str("http.route", "/health")), PolicyDecision::kDropped);
  EXPECT_EQ(Vote(c, TraceBuilder(2)
                        .Root()
                        .Str("http.route", "/health")
                        .StatusCode(Status::STATUS_CODE_ERROR)),
            kNotSampled);
  EXPECT_EQ(Vote(c, TraceBuilder(3).Root().Str("http.route", "/api")), kNotSampled);
}

TEST(CombinatorTest, DropAndCompositeOnlyAtTheTopLevel) {
  PolicyConfig c = And("a", {Drop("d", {Errors()})});
  EXPECT_EQ(BuildError(c),
            "p.and.and_sub_policy[0] (d).type: a drop policy can only be at the top level of "
            "sampling.policies, not inside another policy");
}

TEST(CombinatorTest, SubPolicyErrorsNameTheirPath) {
  PolicyConfig bad = Probabilistic(200, "half");
  EXPECT_EQ(BuildError(And("a", {Errors(), Not("n", bad)})),
            "p.and.and_sub_policy[1] (n).not.not_sub_policy (half).probabilistic."
            "sampling_percentage: must be from 0 to 100, got 200");
  PolicyConfig unnamed = Errors("");
  EXPECT_EQ(BuildError(And("a", {unnamed})),
            "p.and.and_sub_policy[0].name: missing (every policy needs a name)");
  EXPECT_THAT(BuildError(And("a", {})), HasSubstr("p.and.and_sub_policy: must list"));
}

PolicyConfig Composite(int64_t max_total, std::vector<PolicyConfig> subs,
                       std::vector<RateAllocation> allocation,
                       std::vector<std::string> order = {}) {
  PolicyConfig c = Named("composite", PolicyType::kComposite);
  c.composite.max_total_spans_per_second = max_total;
  c.composite.rate_allocation = std::move(allocation);
  c.composite.policy_order = std::move(order);
  c.sub_policies = std::move(subs);
  return c;
}

TEST(CompositePolicyTest, RateAllocationCapsEachSubPolicyAndTheTotal) {
  // 10 spans/s: vip gets 50% (5/s); everything else is limited by the total only.
  PolicyConfig c = Composite(
      10,
      {StringAttr("tier", {"vip"}, false, false, "vip"), Named("rest", PolicyType::kAlwaysSample)},
      {{"vip", 50}});
  std::unique_ptr<Policy> p = Make(c);
  TraceBuilder vip(1);
  vip.Root().Str("tier", "vip");
  TraceBuilder plain(2);
  plain.Root();
  int vip_kept = 0;
  for (int i = 0; i < 8; ++i) vip_kept += p->Evaluate(vip, 0).decision == kSampled;
  EXPECT_EQ(vip_kept, 5) << "vip is capped at its 50%";
  int plain_kept = 0;
  for (int i = 0; i < 8; ++i) plain_kept += p->Evaluate(plain, 0).decision == kSampled;
  EXPECT_EQ(plain_kept, 5) << "the rest fills the remaining total";
  // Next second: both budgets are back.
  EXPECT_EQ(p->Evaluate(vip, kSec).decision, kSampled);
  EXPECT_EQ(p->Evaluate(plain, kSec).decision, kSampled);
}

TEST(CompositePolicyTest, PolicyOrderDecidesWhichSubPolicyAsks) {
  // "all" (1 span/s) first would deny the vip trace once its budget is spent; with vip first,
  // vip's own budget applies.
  const auto make = [](std::vector<std::string> order) {
    return Composite(
        100,
        {Named("all", PolicyType::kAlwaysSample), StringAttr("tier", {"vip"}, false, false, "vip")},
        {{"all", 1}, {"vip", 50}}, std::move(order));
  };
  TraceBuilder vip(1);
  vip.Root().Str("tier", "vip");
  std::unique_ptr<Policy> all_first = Make(make({}));
  std::unique_ptr<Policy> vip_first = Make(make({"vip", "all"}));
  int kept_all_first = 0;
  int kept_vip_first = 0;
  for (int i = 0; i < 10; ++i) {
    kept_all_first += all_first->Evaluate(vip, 0).decision == kSampled;
    kept_vip_first += vip_first->Evaluate(vip, 0).decision == kSampled;
  }
  EXPECT_EQ(kept_all_first, 1);
  EXPECT_EQ(kept_vip_first, 10);
}

TEST(CompositePolicyTest, SampleRateIncludesTheSubPolicyRate) {
  PolicyConfig c = Composite(1000, {Probabilistic(50, "half")}, {});
  std::unique_ptr<Policy> p = Make(c);
  for (uint64_t n = 0; n < 100; ++n) {
    const PolicyResult r = p->Evaluate(TraceBuilder(n).Root(), 0);
    if (r.decision == kSampled) {
      EXPECT_DOUBLE_EQ(r.sample_rate, 2.0);
    }
  }
}

TEST(CompositePolicyTest, ValidatesNamesAndPercents) {
  std::vector<PolicyConfig> subs = {Errors("a"), Named("b", PolicyType::kAlwaysSample)};
  EXPECT_EQ(BuildError(Composite(10, subs, {{"c", 10}})),
            "p.composite.rate_allocation[0].policy: \"c\" is not the name of a "
            "composite_sub_policy");
  EXPECT_EQ(BuildError(Composite(10, subs, {{"a", 60}, {"b", 50}})),
            "p.composite.rate_allocation: the percents add up to 110, more than 100");
  EXPECT_EQ(BuildError(Composite(10, subs, {}, {"b", "x"})),
            "p.composite.policy_order[1]: \"x\" is not the name of a composite_sub_policy");
  EXPECT_THAT(BuildError(Composite(10, {Errors("a"), Errors("a")}, {})),
              HasSubstr("duplicate sub-policy name \"a\""));
  EXPECT_EQ(BuildError(Composite(0, subs, {})),
            "p.composite.max_total_spans_per_second: must be at least 1, got 0");
}

}  // namespace
}  // namespace tailtrace::collector
