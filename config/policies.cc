// `sampling.policies`: the OpenTelemetry tail_sampling policy list (and tailtrace's additions) read
// into collector::PolicyConfig, with every problem reported at its line. docs/sampling.md and
// config/README.md describe the syntax.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/policy_config.h"
#include "policies_internal.h"

namespace tailtrace::config::internal {
namespace {

using collector::PolicyConfig;
using collector::PolicyType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
// Deepest nesting of and/not accepted (as collector::ValidatePolicies).
constexpr int kMaxDepth = 8;

struct TypeName {
  std::string_view name;
  PolicyType type;
};

constexpr TypeName kTypes[] = {
    {"always_sample", PolicyType::kAlwaysSample},
    {"latency", PolicyType::kLatency},
    {"status_code", PolicyType::kStatusCode},
    {"string_attribute", PolicyType::kStringAttribute},
    {"numeric_attribute", PolicyType::kNumericAttribute},
    {"boolean_attribute", PolicyType::kBooleanAttribute},
    {"probabilistic", PolicyType::kProbabilistic},
    {"rate_limiting", PolicyType::kRateLimiting},
    {"bytes_limiting", PolicyType::kBytesLimiting},
    {"span_count", PolicyType::kSpanCount},
    {"trace_state", PolicyType::kTraceState},
    {"trace_flags", PolicyType::kTraceFlags},
    {"and", PolicyType::kAnd},
    {"not", PolicyType::kNot},
    {"drop", PolicyType::kDrop},
    {"composite", PolicyType::kComposite},
    {"dynamic", PolicyType::kDynamic},
};

// OpenTelemetry policy types that tailtrace does not implement.
constexpr std::string_view kOttlCondition = "ottl_condition";

std::string KnownTypes() {
  std::vector<std::string> names;
  for (const TypeName& t : kTypes) names.emplace_back(t.name);
  return absl::StrJoin(names, ", ");
}

// "<base> (<name>)" when the policy mapping has a scalar name, else "<base>".
std::string PolicyPath(const std::string& base, const YAML::Node& node) {
  if (node.IsMap()) {
    const YAML::Node& n = node;
    const YAML::Node name = n["name"];
    if (name.IsDefined() && name.IsScalar() && !name.Scalar().empty()) {
      return absl::StrCat(base, " (", name.Scalar(), ")");
    }
  }
  return base;
}

class PolicyParser {
 public:
  explicit PolicyParser(ParseContext& ctx) : ctx_(ctx) {}

  // Parses the policy `node` (an element of a policy list, or not_sub_policy) whose unlabeled key
  // is `base`. Returns false after reporting an error. `name_line` gets the line of its name.
  bool Parse(const std::string& base, const YAML::Node& node, int line0, int depth,
             PolicyConfig* out, int* name_line = nullptr) {
    const std::string path = PolicyPath(base, node);
    if (!node.IsMap()) {
      ctx_.AddError(line0, path,
                    absl::StrCat("expected a policy (a mapping with name and type), got ",
                                 AbslView(KindName(node))));
      return false;
    }
    if (depth > kMaxDepth) {
      ctx_.AddError(line0, path,
                    absl::StrCat("policies are nested more than ", kMaxDepth, " levels deep"));
      return false;
    }
    MapReader map(ctx_, path, node, line0);
    bool ok = true;
    if (std::optional<Field> f = Required(map, "name", line0)) {
      if (name_line != nullptr) *name_line = f->line();
      if (std::optional<std::string> name = ReadNonEmptyString(ctx_, *f)) {
        out->name = *std::move(name);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }

    std::optional<std::string_view> type_name;
    if (std::optional<Field> f = map.Take("type")) {
      type_name = ReadType(*f, depth, &out->type);
    } else {
      ctx_.AddError(line0, map.ChildPath("type"),
                    absl::StrCat("missing (required; one of ", KnownTypes(), ")"));
    }
    if (!type_name) ok = false;

    // The settings blocks of the other types do not belong here.
    std::vector<std::string_view> blocks;
    for (const TypeName& t : kTypes) blocks.push_back(t.name);
    blocks.push_back(kOttlCondition);
    std::optional<Field> own;
    for (std::string_view block : blocks) {
      std::optional<Field> f = map.Take(block);
      if (!f) continue;
      if (type_name && block == *type_name) {
        own = std::move(f);
      } else if (type_name) {
        ctx_.AddError(f->key_line(), f->path,
                      absl::StrCat("does not apply to a policy of type ", AbslView(*type_name),
                                   " (its settings go under ", AbslView(*type_name), ")"));
        ok = false;
      }
    }
    map.ReportUnknownKeys();
    if (!type_name) return false;
    return ParseSettings(path, own, line0, depth, out) && ok;
  }

 private:
  // The `type` value; reports unknown types, ottl_condition and top-level-only types nested.
  std::optional<std::string_view> ReadType(const Field& f, int depth, PolicyType* type) {
    std::optional<std::string> text = ReadScalar(ctx_, f, "a policy type");
    if (!text) return std::nullopt;
    if (*text == kOttlCondition) {
      ReportValueError(ctx_, f,
                       "ottl_condition policies are not supported by tailtrace (OTTL is not "
                       "implemented); express the condition with string_attribute, "
                       "numeric_attribute, boolean_attribute, status_code or latency, combined "
                       "with and, not or drop");
      return std::nullopt;
    }
    for (const TypeName& t : kTypes) {
      if (*text != t.name) continue;
      if (depth > 0 && (t.type == PolicyType::kDrop || t.type == PolicyType::kComposite)) {
        ReportValueError(ctx_, f,
                         absl::StrCat("a ", AbslView(t.name),
                                      " policy can only be at the top level of "
                                      "sampling.policies, not inside another policy"));
        return std::nullopt;
      }
      *type = t.type;
      return t.name;
    }
    ReportValueError(
        ctx_, f,
        absl::StrCat("unknown policy type \"", *text, "\" (known types: ", KnownTypes(), ")"));
    return std::nullopt;
  }

  bool ParseSettings(const std::string& path, const std::optional<Field>& block, int line0,
                     int depth, PolicyConfig* out) {
    const char* type_name = collector::PolicyTypeName(out->type);
    if (out->type == PolicyType::kAlwaysSample || out->type == PolicyType::kTraceFlags) {
      // No settings; an empty block is accepted.
      if (block) {
        MapReader b(ctx_, block->path, block->value, block->line());
        b.ReportUnknownKeys();
      }
      return true;
    }
    if (!block) {
      ctx_.AddError(line0, absl::StrCat(path, ".", type_name),
                    absl::StrCat("missing (a ", type_name, " policy needs its settings under ",
                                 type_name, ")"));
      return false;
    }
    MapReader b(ctx_, block->path, block->value, block->line());
    const int line = block->line();
    bool ok = false;
    switch (out->type) {
      case PolicyType::kLatency:
        ok = ParseLatencyPolicy(b, line, &out->latency);
        break;
      case PolicyType::kStatusCode:
        ok = ParseStatusCodePolicy(b, line, &out->status_code);
        break;
      case PolicyType::kStringAttribute:
        ok = ParseStringAttributePolicy(b, line, &out->string_attribute);
        break;
      case PolicyType::kNumericAttribute:
        ok = ParseNumericAttributePolicy(b, line, &out->numeric_attribute);
        break;
      case PolicyType::kBooleanAttribute:
        ok = ParseBooleanAttributePolicy(b, line, &out->boolean_attribute);
        break;
      case PolicyType::kProbabilistic:
        ok = ParseProbabilisticPolicy(b, line, &out->probabilistic);
        break;
      case PolicyType::kRateLimiting:
        ok = ParseRateLimitingPolicy(b, line, &out->rate_limiting);
        break;
      case PolicyType::kBytesLimiting:
        ok = ParseBytesLimitingPolicy(b, line, &out->bytes_limiting);
        break;
      case PolicyType::kSpanCount:
        ok = ParseSpanCountPolicy(b, line, &out->span_count);
        break;
      case PolicyType::kTraceState:
        ok = ParseTraceStatePolicy(b, line, &out->trace_state);
        break;
      case PolicyType::kAnd:
        ok = SubPolicyList(b, "and_sub_policy", line, depth, &out->sub_policies);
        break;
      case PolicyType::kDrop:
        ok = SubPolicyList(b, "drop_sub_policy", line, depth, &out->sub_policies);
        break;
      case PolicyType::kNot:
        ok = NotSubPolicy(b, line, depth, &out->sub_policies);
        break;
      case PolicyType::kComposite:
        ok = Composite(b, line, depth, out);
        break;
      case PolicyType::kDynamic:
        ok = ParseDynamicPolicy(b, line, &out->dynamic);
        break;
      case PolicyType::kAlwaysSample:
      case PolicyType::kTraceFlags:
        break;
    }
    b.ReportUnknownKeys();
    return ok;
  }

  // A non-empty list of policies under `key`; `names` gets (name, line) of each when given.
  bool SubPolicyList(MapReader& b, std::string_view key, int line, int depth,
                     std::vector<PolicyConfig>* out,
                     std::vector<std::pair<std::string, int>>* names = nullptr) {
    std::optional<Field> f = Required(b, key, line);
    if (!f) return false;
    std::optional<std::vector<Field>> elements = ReadList(ctx_, *f, "policies");
    if (!elements) return false;
    if (elements->empty()) {
      ReportValueError(ctx_, *f, "must list at least one policy");
      return false;
    }
    bool ok = true;
    for (const Field& e : *elements) {
      PolicyConfig sub;
      int name_line = e.line();
      if (Parse(e.path, e.value, e.line(), depth + 1, &sub, &name_line)) {
        if (names != nullptr) names->emplace_back(sub.name, name_line);
        out->push_back(std::move(sub));
      } else {
        ok = false;
      }
    }
    return ok;
  }

  bool NotSubPolicy(MapReader& b, int line, int depth, std::vector<PolicyConfig>* out) {
    std::optional<Field> f = Required(b, "not_sub_policy", line);
    if (!f) return false;
    if (f->value.IsSequence()) {
      ReportValueError(ctx_, *f, "expected one policy (a mapping with name and type), got a list");
      return false;
    }
    PolicyConfig sub;
    if (!Parse(f->path, f->value, f->line(), depth + 1, &sub)) return false;
    out->push_back(std::move(sub));
    return true;
  }

  bool Composite(MapReader& b, int line, int depth, PolicyConfig* out) {
    collector::CompositePolicyConfig& c = out->composite;
    bool ok = true;
    if (std::optional<int64_t> v =
            ReadIntField(b, "max_total_spans_per_second", 1, kInt64Max, true, line)) {
      c.max_total_spans_per_second = *v;
    } else {
      ok = false;
    }
    std::vector<std::pair<std::string, int>> names;
    const bool subs_ok =
        SubPolicyList(b, "composite_sub_policy", line, depth, &out->sub_policies, &names);
    ok = ok && subs_ok;
    std::map<std::string, int> lines;  // sub-policy name -> line
    for (const auto& [name, name_line] : names) {
      auto [it, inserted] = lines.emplace(name, name_line);
      if (!inserted) {
        ctx_.AddError(name_line, b.ChildPath("composite_sub_policy"),
                      absl::StrCat("duplicate sub-policy name \"", name, "\" (first at line ",
                                   it->second + 1, ")"));
        ok = false;
      }
    }
    const auto known = [&](const std::string& name) { return !subs_ok || lines.count(name) > 0; };

    if (std::optional<Field> f = b.Take("policy_order")) {
      std::optional<StringList> order = ReadStringList(ctx_, *f, /*allow_empty_strings=*/false);
      if (order) {
        std::map<std::string, size_t> seen;
        for (size_t i = 0; i < order->values.size(); ++i) {
          const std::string& name = order->values[i];
          if (!known(name)) {
            ReportValueError(
                ctx_, order->fields[i],
                absl::StrCat("\"", name, "\" is not the name of a ", "composite_sub_policy"));
            ok = false;
          } else if (!seen.emplace(name, i).second) {
            ReportValueError(ctx_, order->fields[i],
                             absl::StrCat("\"", name, "\" is listed twice"));
            ok = false;
          }
        }
        c.policy_order = std::move(order->values);
      } else {
        ok = false;
      }
    }

    if (std::optional<Field> f = b.Take("rate_allocation")) {
      std::optional<std::vector<Field>> elements = ReadList(ctx_, *f, "rate allocations");
      if (!elements) return false;
      int64_t percent_sum = 0;
      std::map<std::string, int> allocated;
      for (const Field& e : *elements) {
        MapReader a(ctx_, e.path, e.value, e.line());
        collector::RateAllocation allocation;
        bool entry_ok = false;
        if (std::optional<Field> p = Required(a, "policy", e.line())) {
          if (std::optional<std::string> name = ReadNonEmptyString(ctx_, *p)) {
            allocation.policy = *std::move(name);
            entry_ok = true;
            if (!known(allocation.policy)) {
              ReportValueError(ctx_, *p,
                               absl::StrCat("\"", allocation.policy,
                                            "\" is not the name of a composite_sub_policy"));
              entry_ok = false;
            } else if (!allocated.emplace(allocation.policy, p->line()).second) {
              ReportValueError(
                  ctx_, *p, absl::StrCat("\"", allocation.policy, "\" has two rate allocations"));
              entry_ok = false;
            }
          }
        }
        if (std::optional<int64_t> v = ReadIntField(a, "percent", 0, 100, true, e.line())) {
          allocation.percent = *v;
          percent_sum += *v;
        } else {
          entry_ok = false;
        }
        a.ReportUnknownKeys();
        ok = ok && entry_ok;
        c.rate_allocation.push_back(std::move(allocation));
      }
      if (percent_sum > 100) {
        ctx_.AddError(f->key_line(), f->path,
                      absl::StrCat("the percents add up to ", percent_sum, ", more than 100"));
        ok = false;
      }
    }
    return ok;
  }

  ParseContext& ctx_;
};

}  // namespace

void ParseSamplingPolicies(ParseContext& ctx, const Field& field, DaemonConfig* config) {
  if (field.value.IsNull()) return;
  if (!field.value.IsSequence()) {
    ctx.AddError(field.line(), field.path,
                 absl::StrCat("expected a list of policies, got ",
                              field.value.IsMap() ? "a mapping" : "a scalar"));
    return;
  }
  PolicyParser parser(ctx);
  std::map<std::string, std::pair<size_t, int>> names;  // name -> (index, line)
  for (size_t i = 0; i < field.value.size(); ++i) {
    const YAML::Node node = field.value[i];
    const std::string base = absl::StrCat(field.path, "[", i, "]");
    collector::PolicyConfig policy;
    int name_line = LineOf(node);
    if (!parser.Parse(base, node, LineOf(node), 0, &policy, &name_line)) continue;
    auto [it, inserted] = names.emplace(policy.name, std::make_pair(i, name_line));
    if (!inserted) {
      ctx.AddError(name_line, absl::StrCat(base, " (", policy.name, ").name"),
                   absl::StrCat("duplicate policy name (also ", field.path, "[", it->second.first,
                                "] at line ", it->second.second + 1, ")"));
      continue;
    }
    config->policies.push_back(std::move(policy));
  }
}

}  // namespace tailtrace::config::internal
