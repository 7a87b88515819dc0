// `sampling.policies`: the OpenTelemetry tail_sampling policy list (and tailtrace's additions) read
// into collector::PolicyConfig, with every problem reported at its line. docs/sampling.md and
// config/README.md describe the syntax.

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/policy_config.h"
#include "config/policies_internal.h"

namespace tailtrace::config::internal {
namespace {

using collector::PolicyConfig;
using collector::PolicyType;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
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

// The entry `key` of `map`, reporting "missing (required)" at `line0` when absent.
std::optional<Field> Required(MapReader& map, std::string_view key, int line0) {
  std::optional<Field> f = map.Take(key);
  if (!f) map.context().AddError(line0, map.ChildPath(key), "missing (required)");
  return f;
}

// The elements of a list value, as fields "<path>[i]". Reports anything but a list.
std::optional<std::vector<Field>> ReadList(ParseContext& ctx, const Field& field,
                                           std::string_view of_what) {
  if (!field.value.IsSequence()) {
    ctx.AddError(field.line(), field.path,
                 field.value.IsNull()
                     ? absl::StrCat("missing value (expected a list of ", AbslView(of_what), ")")
                     : absl::StrCat("expected a list of ", AbslView(of_what), ", got ",
                                    AbslView(KindName(field.value))));
    return std::nullopt;
  }
  std::vector<Field> elements;
  for (size_t i = 0; i < field.value.size(); ++i) {
    elements.push_back(Field{absl::StrCat(field.path, "[", i, "]"), field.key, field.value[i]});
  }
  return elements;
}

// A non-empty list of strings (each may be empty only when `allow_empty_strings`).
struct StringList {
  std::vector<std::string> values;
  std::vector<Field> fields;
};
std::optional<StringList> ReadStringList(ParseContext& ctx, const Field& field,
                                         bool allow_empty_strings) {
  std::optional<std::vector<Field>> elements = ReadList(ctx, field, "strings");
  if (!elements) return std::nullopt;
  if (elements->empty()) {
    ReportValueError(ctx, field, "must list at least one value");
    return std::nullopt;
  }
  StringList out;
  bool ok = true;
  for (Field& e : *elements) {
    std::optional<std::string> s =
        allow_empty_strings ? ReadScalar(ctx, e, "a string") : ReadNonEmptyString(ctx, e);
    if (!s) {
      ok = false;
      continue;
    }
    out.values.push_back(*std::move(s));
    out.fields.push_back(std::move(e));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<double> ReadNumber(ParseContext& ctx, const Field& field) {
  std::optional<std::string> text = ReadScalar(ctx, field, "a number");
  if (!text) return std::nullopt;
  double value = 0;
  if (!absl::SimpleAtod(*text, &value) || !std::isfinite(value)) {
    ReportValueError(ctx, field, absl::StrCat("expected a number, got \"", *text, "\""));
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> ReadIntField(MapReader& map, std::string_view key, int64_t min, int64_t max,
                                    bool required, int line0) {
  std::optional<Field> f = required ? Required(map, key, line0) : map.Take(key);
  if (!f) return std::nullopt;
  return ReadInt(map.context(), *f, min, max);
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
        ok = Latency(b, line, &out->latency);
        break;
      case PolicyType::kStatusCode:
        ok = StatusCode(b, line, &out->status_code);
        break;
      case PolicyType::kStringAttribute:
        ok = StringAttribute(b, line, &out->string_attribute);
        break;
      case PolicyType::kNumericAttribute:
        ok = NumericAttribute(b, line, &out->numeric_attribute);
        break;
      case PolicyType::kBooleanAttribute:
        ok = BooleanAttribute(b, line, &out->boolean_attribute);
        break;
      case PolicyType::kProbabilistic:
        ok = Probabilistic(b, line, &out->probabilistic);
        break;
      case PolicyType::kRateLimiting:
        ok = RateLimiting(b, line, &out->rate_limiting);
        break;
      case PolicyType::kBytesLimiting:
        ok = BytesLimiting(b, line, &out->bytes_limiting);
        break;
      case PolicyType::kSpanCount:
        ok = SpanCount(b, line, &out->span_count);
        break;
      case PolicyType::kTraceState:
        ok = TraceState(b, line, &out->trace_state);
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
        ok = Dynamic(b, line, &out->dynamic);
        break;
      case PolicyType::kAlwaysSample:
      case PolicyType::kTraceFlags:
        break;
    }
    b.ReportUnknownKeys();
    return ok;
  }

  bool Latency(MapReader& b, int line, collector::LatencyPolicyConfig* out) {
    std::optional<Field> lower = b.Take("threshold_ms");
    std::optional<Field> upper = b.Take("upper_threshold_ms");
    if (!lower && !upper) {
      ctx_.AddError(line, b.ChildPath("threshold_ms"),
                    "missing (set threshold_ms, upper_threshold_ms or both)");
      return false;
    }
    bool ok = true;
    if (lower) {
      std::optional<int64_t> v = ReadInt(ctx_, *lower, 0, kInt64Max);
      if (v) out->threshold_ms = *v;
      ok = ok && v.has_value();
    }
    if (upper) {
      std::optional<int64_t> v = ReadInt(ctx_, *upper, 0, kInt64Max);
      if (v) out->upper_threshold_ms = *v;
      ok = ok && v.has_value();
    }
    if (ok && out->upper_threshold_ms != 0 && out->upper_threshold_ms <= out->threshold_ms) {
      ReportValueError(ctx_, *upper,
                       absl::StrCat("must be greater than threshold_ms (", out->threshold_ms,
                                    "), got ", out->upper_threshold_ms));
      return false;
    }
    return ok;
  }

  bool StatusCode(MapReader& b, int line, collector::StatusCodePolicyConfig* out) {
    std::optional<Field> f = Required(b, "status_codes", line);
    if (!f) return false;
    std::optional<std::vector<Field>> elements = ReadList(ctx_, *f, "status codes");
    if (!elements) return false;
    if (elements->empty()) {
      ReportValueError(ctx_, *f, "must list at least one of OK, ERROR, UNSET");
      return false;
    }
    bool ok = true;
    for (const Field& e : *elements) {
      std::optional<std::string> code = ReadEnum(ctx_, e, {"OK", "ERROR", "UNSET"});
      if (code) {
        out->status_codes.push_back(*std::move(code));
      } else {
        ok = false;
      }
    }
    return ok;
  }

  bool Key(MapReader& b, int line, std::string* out) {
    std::optional<Field> f = Required(b, "key", line);
    if (!f) return false;
    std::optional<std::string> key = ReadNonEmptyString(ctx_, *f);
    if (key) *out = *std::move(key);
    return key.has_value();
  }

  // Bool that leaves `*out` alone when absent; false after an error.
  bool OptionalBool(MapReader& b, std::string_view key, bool* out) {
    std::optional<Field> f = b.Take(key);
    if (!f) return true;
    std::optional<bool> v = ReadBool(ctx_, *f);
    if (v) *out = *v;
    return v.has_value();
  }

  bool StringAttribute(MapReader& b, int line, collector::StringAttributePolicyConfig* out) {
    bool ok = Key(b, line, &out->key);
    std::optional<StringList> values;
    if (std::optional<Field> f = Required(b, "values", line)) {
      values = ReadStringList(ctx_, *f, /*allow_empty_strings=*/true);
    }
    if (values) {
      out->values = values->values;
    } else {
      ok = false;
    }
    ok = OptionalBool(b, "enabled_regex_matching", &out->enabled_regex_matching) && ok;
    if (std::optional<Field> f = b.Take("cache_max_size")) {
      std::optional<int64_t> v = ReadInt(ctx_, *f, 0, kInt32Max);
      if (v) out->cache_max_size = *v;
      ok = ok && v.has_value();
    }
    ok = OptionalBool(b, "invert_match", &out->invert_match) && ok;
    if (values && out->enabled_regex_matching) {
      for (size_t i = 0; i < values->values.size(); ++i) {
        // std::regex reports a bad pattern by throwing; compiled as the sampler will.
        try {
          std::regex pattern(values->values[i], std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          ReportValueError(
              ctx_, values->fields[i],
              absl::StrCat("invalid regular expression \"", values->values[i], "\": ", e.what()));
          ok = false;
        }
      }
    }
    return ok;
  }

  bool NumericAttribute(MapReader& b, int line, collector::NumericAttributePolicyConfig* out) {
    bool ok = Key(b, line, &out->key);
    std::optional<Field> min = b.Take("min_value");
    std::optional<Field> max = b.Take("max_value");
    if (!min && !max) {
      ctx_.AddError(line, b.ChildPath("min_value"), "missing (set min_value, max_value or both)");
      return false;
    }
    if (min) {
      out->min_value = ReadInt(ctx_, *min, kInt64Min, kInt64Max);
      ok = ok && out->min_value.has_value();
    }
    if (max) {
      out->max_value = ReadInt(ctx_, *max, kInt64Min, kInt64Max);
      ok = ok && out->max_value.has_value();
    }
    ok = OptionalBool(b, "invert_match", &out->invert_match) && ok;
    if (ok && min && max && *out->min_value > *out->max_value) {
      ReportValueError(ctx_, *max,
                       absl::StrCat("must be at least min_value (", *out->min_value, "), got ",
                                    *out->max_value));
      return false;
    }
    return ok;
  }

  bool BooleanAttribute(MapReader& b, int line, collector::BooleanAttributePolicyConfig* out) {
    bool ok = Key(b, line, &out->key);
    if (std::optional<Field> f = Required(b, "value", line)) {
      std::optional<bool> v = ReadBool(ctx_, *f);
      if (v) out->value = *v;
      ok = ok && v.has_value();
    } else {
      ok = false;
    }
    return OptionalBool(b, "invert_match", &out->invert_match) && ok;
  }

  bool Probabilistic(MapReader& b, int line, collector::ProbabilisticPolicyConfig* out) {
    bool ok = true;
    if (std::optional<Field> f = b.Take("hash_salt")) {
      std::optional<std::string> salt = ReadScalar(ctx_, *f, "a string");
      if (salt) out->hash_salt = *std::move(salt);
      ok = salt.has_value();
    }
    std::optional<Field> f = Required(b, "sampling_percentage", line);
    if (!f) return false;
    std::optional<double> p = ReadNumber(ctx_, *f);
    if (!p) return false;
    if (*p < 0 || *p > 100) {
      ReportValueError(ctx_, *f, absl::StrCat("must be from 0 to 100, got ", *p));
      return false;
    }
    out->sampling_percentage = *p;
    return ok;
  }

  bool RateLimiting(MapReader& b, int line, collector::RateLimitingPolicyConfig* out) {
    std::optional<int64_t> v = ReadIntField(b, "spans_per_second", 1, kInt64Max, true, line);
    if (v) out->spans_per_second = *v;
    return v.has_value();
  }

  bool BytesLimiting(MapReader& b, int line, collector::BytesLimitingPolicyConfig* out) {
    bool ok = false;
    if (std::optional<Field> f = Required(b, "bytes_per_second", line)) {
      std::optional<uint64_t> v = ReadBytes(ctx_, *f, 1, kInt64Max);
      if (v) out->bytes_per_second = static_cast<int64_t>(*v);
      ok = v.has_value();
    }
    if (std::optional<Field> f = b.Take("burst_capacity")) {
      std::optional<uint64_t> v = ReadBytes(ctx_, *f, 1, kInt64Max);
      if (v) out->burst_capacity = static_cast<int64_t>(*v);
      ok = ok && v.has_value();
    }
    return ok;
  }

  bool SpanCount(MapReader& b, int line, collector::SpanCountPolicyConfig* out) {
    std::optional<Field> min = b.Take("min_spans");
    std::optional<Field> max = b.Take("max_spans");
    if (!min && !max) {
      ctx_.AddError(line, b.ChildPath("min_spans"), "missing (set min_spans, max_spans or both)");
      return false;
    }
    bool ok = true;
    if (min) {
      std::optional<int64_t> v = ReadInt(ctx_, *min, 0, kInt32Max);
      if (v) out->min_spans = *v;
      ok = ok && v.has_value();
    }
    if (max) {
      std::optional<int64_t> v = ReadInt(ctx_, *max, 0, kInt32Max);
      if (v) out->max_spans = *v;
      ok = ok && v.has_value();
    }
    if (ok && out->max_spans != 0 && out->max_spans < out->min_spans) {
      ReportValueError(
          ctx_, *max,
          absl::StrCat("must be at least min_spans (", out->min_spans, "), got ", out->max_spans));
      return false;
    }
    return ok;
  }

  bool TraceState(MapReader& b, int line, collector::TraceStatePolicyConfig* out) {
    bool ok = Key(b, line, &out->key);
    if (std::optional<Field> f = Required(b, "values", line)) {
      std::optional<StringList> values = ReadStringList(ctx_, *f, /*allow_empty_strings=*/false);
      if (values) out->values = std::move(values->values);
      ok = ok && values.has_value();
    } else {
      ok = false;
    }
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

  bool Dynamic(MapReader& b, int line, collector::DynamicPolicyConfig* out) {
    bool ok = false;
    if (std::optional<Field> f = Required(b, "key_fields", line)) {
      std::optional<StringList> fields = ReadStringList(ctx_, *f, /*allow_empty_strings=*/false);
      if (fields) out->key_fields = std::move(fields->values);
      ok = fields.has_value();
    }
    std::optional<Field> rate = b.Take("goal_sample_rate");
    std::optional<Field> throughput = b.Take("goal_throughput_per_sec");
    if (rate.has_value() == throughput.has_value()) {
      ctx_.AddError(rate ? throughput->key_line() : line,
                    b.ChildPath(rate ? "goal_throughput_per_sec" : "goal_sample_rate"),
                    rate ? "set only one of goal_sample_rate and goal_throughput_per_sec"
                         : "missing (set goal_sample_rate or goal_throughput_per_sec)");
      ok = false;
    } else if (rate) {
      std::optional<double> v = ReadNumber(ctx_, *rate);
      if (v && *v < 1) {
        ReportValueError(ctx_, *rate, absl::StrCat("must be at least 1, got ", *v));
        v.reset();
      }
      if (v) out->goal_sample_rate = *v;
      ok = ok && v.has_value();
    } else {
      std::optional<double> v = ReadNumber(ctx_, *throughput);
      if (v && *v <= 0) {
        ReportValueError(ctx_, *throughput, absl::StrCat("must be greater than 0, got ", *v));
        v.reset();
      }
      if (v) out->goal_throughput_per_sec = *v;
      ok = ok && v.has_value();
    }
    if (std::optional<Field> f = b.Take("adjustment_interval")) {
      std::optional<int64_t> v = ReadDuration(ctx_, *f, 1);
      if (v) out->adjustment_interval_ns = *v;
      ok = ok && v.has_value();
    }
    if (std::optional<Field> f = b.Take("clear_frequency")) {
      std::optional<int64_t> v = ReadDuration(ctx_, *f, 0);
      if (v) out->clear_frequency_ns = *v;
      ok = ok && v.has_value();
    }
    if (std::optional<Field> f = b.Take("max_keys")) {
      std::optional<int64_t> v = ReadInt(ctx_, *f, 1, kInt64Max);
      if (v) out->max_keys = *v;
      ok = ok && v.has_value();
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
