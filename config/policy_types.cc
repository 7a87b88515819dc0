// Per-type settings of `sampling.policies` entries (latency, status_code, the attribute
// policies, probabilistic, the limiters, span_count, trace_state and dynamic), and the field
// readers shared with config/policies.cc.

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector/policy_config.h"
#include "collector/policy_regex.h"
#include "policies_internal.h"

namespace tailtrace::config::internal {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

bool Key(MapReader& b, int line, std::string* out) {
  ParseContext& ctx = b.context();
  std::optional<Field> f = Required(b, "key", line);
  if (!f) return false;
  std::optional<std::string> key = ReadNonEmptyString(ctx, *f);
  if (key) *out = *std::move(key);
  return key.has_value();
}

// Bool that leaves `*out` alone when absent; false after an error.
bool OptionalBool(MapReader& b, std::string_view key, bool* out) {
  ParseContext& ctx = b.context();
  std::optional<Field> f = b.Take(key);
  if (!f) return true;
  std::optional<bool> v = ReadBool(ctx, *f);
  if (v) *out = *v;
  return v.has_value();
}

}  // namespace

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

bool ParseLatencyPolicy(MapReader& b, int line, collector::LatencyPolicyConfig* out) {
  ParseContext& ctx = b.context();
  std::optional<Field> lower = b.Take("threshold_ms");
  std::optional<Field> upper = b.Take("upper_threshold_ms");
  if (!lower && !upper) {
    ctx.AddError(line, b.ChildPath("threshold_ms"),
                 "missing (set threshold_ms, upper_threshold_ms or both)");
    return false;
  }
  bool ok = true;
  if (lower) {
    std::optional<int64_t> v = ReadInt(ctx, *lower, 0, kInt64Max);
    if (v) out->threshold_ms = *v;
    ok = ok && v.has_value();
  }
  if (upper) {
    std::optional<int64_t> v = ReadInt(ctx, *upper, 0, kInt64Max);
    if (v) out->upper_threshold_ms = *v;
    ok = ok && v.has_value();
  }
  if (ok && out->upper_threshold_ms != 0 && out->upper_threshold_ms <= out->threshold_ms) {
    ReportValueError(ctx, *upper,
                     absl::StrCat("must be greater than threshold_ms (", out->threshold_ms,
                                  "), got ", out->upper_threshold_ms));
    return false;
  }
  return ok;
}

bool ParseStatusCodePolicy(MapReader& b, int line, collector::StatusCodePolicyConfig* out) {
  ParseContext& ctx = b.context();
  std::optional<Field> f = Required(b, "status_codes", line);
  if (!f) return false;
  std::optional<std::vector<Field>> elements = ReadList(ctx, *f, "status codes");
  if (!elements) return false;
  if (elements->empty()) {
    ReportValueError(ctx, *f, "must list at least one of OK, ERROR, UNSET");
    return false;
  }
  bool ok = true;
  for (const Field& e : *elements) {
    std::optional<std::string> code = ReadEnum(ctx, e, {"OK", "ERROR", "UNSET"});
    if (code) {
      out->status_codes.push_back(*std::move(code));
    } else {
      ok = false;
    }
  }
  return ok;
}

bool ParseStringAttributePolicy(MapReader& b, int line,
                                collector::StringAttributePolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = Key(b, line, &out->key);
  std::optional<StringList> values;
  if (std::optional<Field> f = Required(b, "values", line)) {
    values = ReadStringList(ctx, *f, /*allow_empty_strings=*/true);
  }
  if (values) {
    out->values = values->values;
  } else {
    ok = false;
  }
  ok = OptionalBool(b, "enabled_regex_matching", &out->enabled_regex_matching) && ok;
  if (std::optional<Field> f = b.Take("cache_max_size")) {
    std::optional<int64_t> v = ReadInt(ctx, *f, 0, kInt32Max);
    if (v) out->cache_max_size = *v;
    ok = ok && v.has_value();
  }
  ok = OptionalBool(b, "invert_match", &out->invert_match) && ok;
  if (values && out->enabled_regex_matching) {
    for (size_t i = 0; i < values->values.size(); ++i) {
      // Compiled as the sampler will compile it.
      absl::StatusOr<std::unique_ptr<const RE2>> re =
          collector::CompilePolicyRegex(values->values[i]);
      if (!re.ok()) {
        ReportValueError(ctx, values->fields[i], std::string(re.status().message()));
        ok = false;
      }
    }
  }
  return ok;
}

bool ParseNumericAttributePolicy(MapReader& b, int line,
                                 collector::NumericAttributePolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = Key(b, line, &out->key);
  std::optional<Field> min = b.Take("min_value");
  std::optional<Field> max = b.Take("max_value");
  if (!min && !max) {
    ctx.AddError(line, b.ChildPath("min_value"), "missing (set min_value, max_value or both)");
    return false;
  }
  if (min) {
    out->min_value = ReadInt(ctx, *min, kInt64Min, kInt64Max);
    ok = ok && out->min_value.has_value();
  }
  if (max) {
    out->max_value = ReadInt(ctx, *max, kInt64Min, kInt64Max);
    ok = ok && out->max_value.has_value();
  }
  ok = OptionalBool(b, "invert_match", &out->invert_match) && ok;
  if (ok && min && max && *out->min_value > *out->max_value) {
    ReportValueError(
        ctx, *max,
        absl::StrCat("must be at least min_value (", *out->min_value, "), got ", *out->max_value));
    return false;
  }
  return ok;
}

bool ParseBooleanAttributePolicy(MapReader& b, int line,
                                 collector::BooleanAttributePolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = Key(b, line, &out->key);
  if (std::optional<Field> f = Required(b, "value", line)) {
    std::optional<bool> v = ReadBool(ctx, *f);
    if (v) out->value = *v;
    ok = ok && v.has_value();
  } else {
    ok = false;
  }
  return OptionalBool(b, "invert_match", &out->invert_match) && ok;
}

bool ParseProbabilisticPolicy(MapReader& b, int line, collector::ProbabilisticPolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = true;
  if (std::optional<Field> f = b.Take("hash_salt")) {
    std::optional<std::string> salt = ReadScalar(ctx, *f, "a string");
    if (salt) out->hash_salt = *std::move(salt);
    ok = salt.has_value();
  }
  std::optional<Field> f = Required(b, "sampling_percentage", line);
  if (!f) return false;
  std::optional<double> p = ReadNumber(ctx, *f);
  if (!p) return false;
  if (*p < 0 || *p > 100) {
    ReportValueError(ctx, *f, absl::StrCat("must be from 0 to 100, got ", *p));
    return false;
  }
  out->sampling_percentage = *p;
  return ok;
}

bool ParseRateLimitingPolicy(MapReader& b, int line, collector::RateLimitingPolicyConfig* out) {
  std::optional<int64_t> v = ReadIntField(b, "spans_per_second", 1, kInt64Max, true, line);
  if (v) out->spans_per_second = *v;
  return v.has_value();
}

bool ParseBytesLimitingPolicy(MapReader& b, int line, collector::BytesLimitingPolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = false;
  if (std::optional<Field> f = Required(b, "bytes_per_second", line)) {
    std::optional<uint64_t> v = ReadBytes(ctx, *f, 1, kInt64Max);
    if (v) out->bytes_per_second = static_cast<int64_t>(*v);
    ok = v.has_value();
  }
  if (std::optional<Field> f = b.Take("burst_capacity")) {
    std::optional<uint64_t> v = ReadBytes(ctx, *f, 1, kInt64Max);
    if (v) out->burst_capacity = static_cast<int64_t>(*v);
    ok = ok && v.has_value();
  }
  return ok;
}

bool ParseSpanCountPolicy(MapReader& b, int line, collector::SpanCountPolicyConfig* out) {
  ParseContext& ctx = b.context();
  std::optional<Field> min = b.Take("min_spans");
  std::optional<Field> max = b.Take("max_spans");
  if (!min && !max) {
    ctx.AddError(line, b.ChildPath("min_spans"), "missing (set min_spans, max_spans or both)");
    return false;
  }
  bool ok = true;
  if (min) {
    std::optional<int64_t> v = ReadInt(ctx, *min, 0, kInt32Max);
    if (v) out->min_spans = *v;
    ok = ok && v.has_value();
  }
  if (max) {
    std::optional<int64_t> v = ReadInt(ctx, *max, 0, kInt32Max);
    if (v) out->max_spans = *v;
    ok = ok && v.has_value();
  }
  if (ok && out->max_spans != 0 && out->max_spans < out->min_spans) {
    ReportValueError(
        ctx, *max,
        absl::StrCat("must be at least min_spans (", out->min_spans, "), got ", out->max_spans));
    return false;
  }
  return ok;
}

bool ParseTraceStatePolicy(MapReader& b, int line, collector::TraceStatePolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = Key(b, line, &out->key);
  if (std::optional<Field> f = Required(b, "values", line)) {
    std::optional<StringList> values = ReadStringList(ctx, *f, /*allow_empty_strings=*/false);
    if (values) out->values = std::move(values->values);
    ok = ok && values.has_value();
  } else {
    ok = false;
  }
  return ok;
}

bool ParseDynamicPolicy(MapReader& b, int line, collector::DynamicPolicyConfig* out) {
  ParseContext& ctx = b.context();
  bool ok = false;
  if (std::optional<Field> f = Required(b, "key_fields", line)) {
    std::optional<StringList> fields = ReadStringList(ctx, *f, /*allow_empty_strings=*/false);
    if (fields) out->key_fields = std::move(fields->values);
    ok = fields.has_value();
  }
  std::optional<Field> rate = b.Take("goal_sample_rate");
  std::optional<Field> throughput = b.Take("goal_throughput_per_sec");
  if (rate.has_value() == throughput.has_value()) {
    ctx.AddError(rate ? throughput->key_line() : line,
                 b.ChildPath(rate ? "goal_throughput_per_sec" : "goal_sample_rate"),
                 rate ? "set only one of goal_sample_rate and goal_throughput_per_sec"
                      : "missing (set goal_sample_rate or goal_throughput_per_sec)");
    ok = false;
  } else if (rate) {
    std::optional<double> v = ReadNumber(ctx, *rate);
    if (v && *v < 1) {
      ReportValueError(ctx, *rate, absl::StrCat("must be at least 1, got ", *v));
      v.reset();
    }
    if (v) out->goal_sample_rate = *v;
    ok = ok && v.has_value();
  } else {
    std::optional<double> v = ReadNumber(ctx, *throughput);
    if (v && *v <= 0) {
      ReportValueError(ctx, *throughput, absl::StrCat("must be greater than 0, got ", *v));
      v.reset();
    }
    if (v) out->goal_throughput_per_sec = *v;
    ok = ok && v.has_value();
  }
  if (std::optional<Field> f = b.Take("adjustment_interval")) {
    std::optional<int64_t> v = ReadDuration(ctx, *f, 1);
    if (v) out->adjustment_interval_ns = *v;
    ok = ok && v.has_value();
  }
  if (std::optional<Field> f = b.Take("clear_frequency")) {
    std::optional<int64_t> v = ReadDuration(ctx, *f, 0);
    if (v) out->clear_frequency_ns = *v;
    ok = ok && v.has_value();
  }
  if (std::optional<Field> f = b.Take("max_keys")) {
    std::optional<int64_t> v = ReadInt(ctx, *f, 1, kInt64Max);
    if (v) out->max_keys = *v;
    ok = ok && v.has_value();
  }
  return ok;
}

}  // namespace tailtrace::config::internal
