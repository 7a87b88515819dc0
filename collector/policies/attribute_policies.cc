// Policies on attribute values of spans and resources (string_attribute, numeric_attribute,
// boolean_attribute) and on the W3C trace state (trace_state).
//
// As in OpenTelemetry, an attribute policy matches when any resource or any span of the trace has
// the key with a matching value. With invert_match it votes kInvertNotSampled when anything
// matches and kInvertSampled otherwise (also when no span has the key).

#include <algorithm>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "collector/policy_regex.h"
#include "internal.h"
#include "re2/re2.h"

namespace tailtrace::collector::policy_internal {
namespace {

// Values longer than this are matched but not remembered in a regex policy's result cache.
constexpr size_t kMaxCachedRegexInputBytes = 4096;
// Results remembered per regex policy (OpenTelemetry's default cache_max_size).
constexpr size_t kDefaultRegexCacheSize = 128;

PolicyResult Vote(bool matched, bool invert) {
  if (invert) {
    return {matched ? PolicyDecision::kInvertNotSampled : PolicyDecision::kInvertSampled, 1.0};
  }
  return {matched ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, 1.0};
}

// Whether a resource attribute (any string) or a span attribute (a non-empty string) with `key`
// satisfies `matches`, as OpenTelemetry's string_attribute reads them.
template <typename F>
bool AnyStringAttribute(const TraceBuffer& trace, std::string_view key, F&& matches) {
  for (const auto& rs : trace.spans.resource_spans()) {
    if (const AnyValue* v = FindAttribute(rs.resource().attributes(), key)) {
      if (v->value_case() == AnyValue::kStringValue && matches(v->string_value())) return true;
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const Span& span : ss.spans()) {
        const AnyValue* v = FindAttribute(span.attributes(), key);
        if (v != nullptr && v->value_case() == AnyValue::kStringValue &&
            !v->string_value().empty() && matches(v->string_value())) {
          return true;
        }
      }
    }
  }
  return false;
}

class ExactStringPolicy final : public NamedPolicy {
 public:
  ExactStringPolicy(std::string name, const StringAttributePolicyConfig& config)
      : NamedPolicy(std::move(name)), key_(config.key), invert_(config.invert_match) {
    for (const std::string& v : config.values) {
      if (!v.empty()) values_.insert(v);
    }
  }

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool matched = AnyStringAttribute(
        trace, key_, [&](const std::string& value) { return values_.contains(value); });
    return Vote(matched, invert_);
  }

 private:
  std::string key_;
  bool invert_;
  absl::flat_hash_set<std::string> values_;
};

// Values are searched for each pattern (not anchored: "val" matches "interval", as Go's
// regexp.MatchString does in OpenTelemetry; write ^...$ to match the whole value). RE2 matches in
// time linear in the value, so the whole value is always searched.
class RegexStringPolicy final : public NamedPolicy {
 public:
  RegexStringPolicy(std::string name, const StringAttributePolicyConfig& config,
                    std::vector<std::unique_ptr<const RE2>> patterns)
      : NamedPolicy(std::move(name)),
        key_(config.key),
        invert_(config.invert_match),
        patterns_(std::move(patterns)),
        cache_limit_(config.cache_max_size > 0 ? static_cast<size_t>(config.cache_max_size)
                                               : kDefaultRegexCacheSize) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool matched =
        AnyStringAttribute(trace, key_, [&](const std::string& value) { return Matches(value); });
    return Vote(matched, invert_);
  }

 private:
  bool Matches(const std::string& value) {
    const bool cacheable = value.size() <= kMaxCachedRegexInputBytes;
    if (cacheable) {
      if (auto it = cache_.find(value); it != cache_.end()) return it->second;
    }
    bool matched = false;
    for (const std::unique_ptr<const RE2>& pattern : patterns_) {
      if (RE2::PartialMatch(value, *pattern)) {
        matched = true;
        break;
      }
    }
    if (cacheable) {
      if (cache_.size() >= cache_limit_) cache_.clear();
      cache_.emplace(value, matched);
    }
    return matched;
  }

  std::string key_;
  bool invert_;
  std::vector<std::unique_ptr<const RE2>> patterns_;
  size_t cache_limit_;
  absl::flat_hash_map<std::string, bool> cache_;
};

// Integer attributes in [min, max]; double attributes are compared by value too.
class NumericAttributePolicy final : public NamedPolicy {
 public:
  NumericAttributePolicy(std::string name, const NumericAttributePolicyConfig& config)
      : NamedPolicy(std::move(name)),
        key_(config.key),
        min_(config.min_value.value_or(INT64_MIN)),
        max_(config.max_value.value_or(INT64_MAX)),
        invert_(config.invert_match) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool matched = AnyResourceOrSpanAttribute(trace, key_, [&](const AnyValue& v) {
      if (v.value_case() == AnyValue::kIntValue) {
        return v.int_value() >= min_ && v.int_value() <= max_;
      }
      if (v.value_case() == AnyValue::kDoubleValue) {
        return v.double_value() >= static_cast<double>(min_) &&
               v.double_value() <= static_cast<double>(max_);
      }
      return false;
    });
    return Vote(matched, invert_);
  }

 private:
  std::string key_;
  int64_t min_;
  int64_t max_;
  bool invert_;
};

class BooleanAttributePolicy final : public NamedPolicy {
 public:
  BooleanAttributePolicy(std::string name, const BooleanAttributePolicyConfig& config)
      : NamedPolicy(std::move(name)), config_(config) {}

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool matched = AnyResourceOrSpanAttribute(trace, config_.key, [&](const AnyValue& v) {
      return v.value_case() == AnyValue::kBoolValue && v.bool_value() == config_.value;
    });
    return Vote(matched, config_.invert_match);
  }

 private:
  BooleanAttributePolicyConfig config_;
};

// The value of `key` in a W3C tracestate header value ("k1=v1,k2=v2", optional spaces and tabs
// around members), or nullopt.
std::optional<std::string_view> TraceStateValue(std::string_view state, std::string_view key) {
  while (!state.empty()) {
    const size_t comma = state.find(',');
    std::string_view member = state.substr(0, comma);
    state = comma == std::string_view::npos ? std::string_view() : state.substr(comma + 1);
    while (!member.empty() && (member.front() == ' ' || member.front() == '\t')) {
      member.remove_prefix(1);
    }
    while (!member.empty() && (member.back() == ' ' || member.back() == '\t')) {
      member.remove_suffix(1);
    }
    const size_t eq = member.find('=');
    if (eq == std::string_view::npos) continue;
    if (member.substr(0, eq) == key) return member.substr(eq + 1);
  }
  return std::nullopt;
}

class TraceStatePolicy final : public NamedPolicy {
 public:
  TraceStatePolicy(std::string name, const TraceStatePolicyConfig& config)
      : NamedPolicy(std::move(name)), key_(config.key) {
    for (const std::string& v : config.values) {
      // A tracestate member ("key=value") is at most 256 characters.
      if (!v.empty() && key_.size() + v.size() < 256) values_.insert(v);
    }
  }

  PolicyResult Evaluate(const TraceBuffer& trace, int64_t) override {
    const bool matched = AnySpan(trace, [&](const Resource&, const Span& span) {
      std::optional<std::string_view> value = TraceStateValue(span.trace_state(), key_);
      return value.has_value() && values_.contains(absl::string_view(value->data(), value->size()));
    });
    return {matched ? PolicyDecision::kSampled : PolicyDecision::kNotSampled, 1.0};
  }

 private:
  std::string key_;
  absl::flat_hash_set<std::string> values_;
};

absl::Status CheckKey(const PolicyConfig& config, const BuildContext& ctx, const std::string& key) {
  if (key.empty()) return FieldError(ctx, config.type, "key", "must not be empty");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Policy>> BuildAttributePolicy(const PolicyConfig& config,
                                                             const BuildContext& ctx) {
  switch (config.type) {
    case PolicyType::kStringAttribute: {
      const StringAttributePolicyConfig& c = config.string_attribute;
      if (absl::Status s = CheckKey(config, ctx, c.key); !s.ok()) return s;
      if (c.values.empty()) {
        return FieldError(ctx, config.type, "values", "must list at least one value");
      }
      if (c.cache_max_size < 0) {
        return FieldError(ctx, config.type, "cache_max_size",
                          absl::StrCat("must be at least 0, got ", c.cache_max_size));
      }
      if (!c.enabled_regex_matching) return std::make_unique<ExactStringPolicy>(config.name, c);
      std::vector<std::unique_ptr<const RE2>> patterns;
      for (size_t i = 0; i < c.values.size(); ++i) {
        absl::StatusOr<std::unique_ptr<const RE2>> re = CompilePolicyRegex(c.values[i]);
        if (!re.ok()) {
          return FieldError(ctx, config.type, absl::StrCat("values[", i, "]"),
                            std::string(re.status().message()));
        }
        patterns.push_back(*std::move(re));
      }
      return std::make_unique<RegexStringPolicy>(config.name, c, std::move(patterns));
    }
    case PolicyType::kNumericAttribute: {
      const NumericAttributePolicyConfig& c = config.numeric_attribute;
      if (absl::Status s = CheckKey(config, ctx, c.key); !s.ok()) return s;
      if (!c.min_value && !c.max_value) {
        return FieldError(ctx, config.type, "", "set min_value, max_value or both");
      }
      if (c.min_value && c.max_value && *c.min_value > *c.max_value) {
        return FieldError(
            ctx, config.type, "max_value",
            absl::StrCat("must be at least min_value (", *c.min_value, "), got ", *c.max_value));
      }
      return std::make_unique<NumericAttributePolicy>(config.name, c);
    }
    case PolicyType::kBooleanAttribute: {
      if (absl::Status s = CheckKey(config, ctx, config.boolean_attribute.key); !s.ok()) return s;
      return std::make_unique<BooleanAttributePolicy>(config.name, config.boolean_attribute);
    }
    case PolicyType::kTraceState: {
      const TraceStatePolicyConfig& c = config.trace_state;
      if (absl::Status s = CheckKey(config, ctx, c.key); !s.ok()) return s;
      if (c.values.empty()) {
        return FieldError(ctx, config.type, "values", "must list at least one value");
      }
      return std::make_unique<TraceStatePolicy>(config.name, c);
    }
    default:
      break;
  }
  return absl::InternalError(
      absl::StrCat(ctx.path, ": not an attribute policy type: ", PolicyTypeName(config.type)));
}

}  // namespace tailtrace::collector::policy_internal
