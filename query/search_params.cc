#include "search_params.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "proto/json_document.h"
#include "proto/span_kind.h"

namespace tailtrace::query {
namespace {

constexpr int64_t kNsPerUs = 1'000;
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string Str(std::string_view s) { return std::string(s); }

// A Status message as std::string_view (Debian's absl::string_view is a distinct type).
std::string_view Msg(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

absl::Status Malformed(std::string_view param, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed parameter ", Str(param), ": ", Str(what)));
}

// Every value of `names` (aliases of one parameter), in request order, with the name used.
std::vector<std::pair<std::string_view, std::string_view>> Values(
    const http::Request& request, std::initializer_list<std::string_view> names) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const auto& [key, value] : request.query) {
    if (std::find(names.begin(), names.end(), key) != names.end()) out.emplace_back(key, value);
  }
  return out;
}

// The first non-empty value of any of `names`, with the name used.
std::optional<std::pair<std::string_view, std::string_view>> First(
    const http::Request& request, std::initializer_list<std::string_view> names) {
  for (const auto& [name, value] : Values(request, names)) {
    if (!value.empty()) return std::make_pair(name, value);
  }
  return std::nullopt;
}

absl::StatusOr<int64_t> ParseInt(std::string_view param, std::string_view text) {
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Malformed(param, absl::StrCat("\"", Str(text), "\" is not an integer"));
  }
  return v;
}

absl::StatusOr<int64_t> DurationParam(std::string_view param, std::string_view text) {
  absl::StatusOr<int64_t> d = ParseGoDuration(text);
  if (!d.ok()) return Malformed(param, Msg(d.status()));
  return d;
}

absl::StatusOr<int> LimitParam(std::string_view param, std::string_view text,
                               int max = kMaxSearchLimit) {
  absl::StatusOr<int64_t> n = ParseInt(param, text);
  if (!n.ok()) return n.status();
  if (*n <= 0 || *n > max) {
    return Malformed(param, absl::StrCat("must be between 1 and ", max, ", got ", *n));
  }
  return static_cast<int>(*n);
}

// Adds the pairs of a JSON object {"k":"v",...}; numbers and booleans count as their JSON text.
absl::Status AddJsonTags(std::string_view param, std::string_view text,
                         std::vector<std::pair<std::string, std::string>>* out) {
  json::Document doc;
  if (absl::Status st = doc.Parse(text); !st.ok()) return Malformed(param, Msg(st));
  const json::Value& root = doc.root();
  if (!root.IsObject()) return Malformed(param, "expected a JSON object of key-value pairs");
  for (const auto& m : root.GetObject()) {
    std::string key(doc.StringView(m.name));
    std::string value;
    if (doc.IsNumber(m.value)) {
      value.assign(doc.NumberText(m.value));
    } else if (m.value.IsString()) {
      value.assign(doc.StringView(m.value));
    } else if (m.value.IsBool()) {
      value = m.value.GetBool() ? "true" : "false";
    } else {
      return Malformed(param, absl::StrCat("the value of \"", key,
                                           "\" must be a string, a number or a boolean"));
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status AddColonTag(std::string_view param, std::string_view text,
                         std::vector<std::pair<std::string, std::string>>* out) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Malformed(param, absl::StrCat("expected key:value, got \"", Str(text), "\""));
  }
  out->emplace_back(std::string(text.substr(0, colon)), std::string(text.substr(colon + 1)));
  return absl::OkStatus();
}

absl::Status CheckDurations(const storage::TraceQuery& q, std::string_view min_name,
                            std::string_view max_name) {
  if (q.duration_min_ns && q.duration_max_ns && *q.duration_min_ns > *q.duration_max_ns) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", Str(min_name), " (", *q.duration_min_ns, " ns) is greater than ",
                     Str(max_name), " (", *q.duration_max_ns, " ns)"));
  }
  return absl::OkStatus();
}

int64_t SaturatingMul(int64_t a, int64_t b) {
  if (a > 0 && a > kMax / b) return kMax;
  if (a < 0 && a < std::numeric_limits<int64_t>::min() / b)
    return std::numeric_limits<int64_t>::min();
  return a * b;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  if (b > 0 && a < std::numeric_limits<int64_t>::min() + b)
    return std::numeric_limits<int64_t>::min();
  return a - b;
}

// A window of RFC 3339 times named `min_names` and `max_names` (aliases, the first one is named
// in errors when none is given). Defaults: max = now, min = max - 2 days.
absl::Status Rfc3339Window(const http::Request& request,
                           std::initializer_list<std::string_view> min_names,
                           std::initializer_list<std::string_view> max_names, int64_t now_ns,
                           int64_t* min_ns, int64_t* max_ns) {
  *max_ns = now_ns;
  std::string_view max_name = *max_names.begin();
  if (auto v = First(request, max_names)) {
    max_name = v->first;
    absl::StatusOr<int64_t> t = ParseRfc3339(v->second);
    if (!t.ok()) return Malformed(v->first, Msg(t.status()));
    *max_ns = *t;
  }
  *min_ns = SaturatingSub(*max_ns, kDefaultSearchLookbackNs);
  std::string_view min_name = *min_names.begin();
  if (auto v = First(request, min_names)) {
    min_name = v->first;
    absl::StatusOr<int64_t> t = ParseRfc3339(v->second);
    if (!t.ok()) return Malformed(v->first, Msg(t.status()));
    *min_ns = *t;
  }
  if (*min_ns > *max_ns) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", Str(min_name), " is after parameter ", Str(max_name)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> ParseGoDuration(std::string_view text, bool allow_days_and_weeks) {
  const std::string original(text);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", original, "\" is not a duration (", Str(why), "; e.g. \"1.2s\", \"100ms\", \"1m\")"));
  };
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (!text.empty() && text[0] == '-') {
    if (text == "-0") return 0;
    return absl::InvalidArgumentError(
        absl::StrCat("\"", original, "\" is negative; durations must not be negative"));
  }
  if (text == "0") return 0;
  if (text.empty()) return bad("empty");
  // Exact integer arithmetic, like Go: each component is int part * unit + fraction * unit.
  __int128 total = 0;
  while (!text.empty()) {
    size_t i = 0;
    __int128 whole = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      whole = whole * 10 + (text[i] - '0');
      if (whole > kMax) return bad("too large");
      ++i;
    }
    const size_t int_digits = i;
    __int128 frac = 0;
    __int128 frac_scale = 1;
    size_t frac_digits = 0;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        // Digits beyond nanosecond precision of an hour (or a day) cannot change the result.
        if (frac_digits < 18) {
          frac = frac * 10 + (text[i] - '0');
          frac_scale *= 10;
        }
        ++frac_digits;
        ++i;
      }
    }
    if (int_digits == 0 && frac_digits == 0) return bad("expected a number");
    text.remove_prefix(i);
    size_t u = 0;
    while (u < text.size() && !(text[u] >= '0' && text[u] <= '9') && text[u] != '.') ++u;
    const std::string_view unit = text.substr(0, u);
    text.remove_prefix(u);
    int64_t scale = 0;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") {
      scale = 1'000;
    } else if (unit == "ms") {
      scale = 1'000'000;
    } else if (unit == "s") {
      scale = 1'000'000'000;
    } else if (unit == "m") {
      scale = 60'000'000'000;
    } else if (unit == "h") {
      scale = 3'600'000'000'000;
    } else if (allow_days_and_weeks && unit == "d") {
      scale = 86'400'000'000'000;
    } else if (allow_days_and_weeks && unit == "w") {
      scale = 7 * 86'400'000'000'000;
    } else if (unit.empty()) {
      return bad("missing unit: use ns, us, ms, s, m or h");
    } else {
      return bad(absl::StrCat("unknown unit \"", Str(unit), "\": use ns, us, ms, s, m or h"));
    }
    total += whole * scale + frac * scale / frac_scale;
    if (total > kMax) return bad("too large");
  }
  return static_cast<int64_t>(total);
}

absl::StatusOr<int64_t> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(text.data(), text.size()), &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", Str(text), "\" is not an RFC 3339 time (e.g. \"2024-05-01T10:00:00Z\"): ", err));
  }
  return absl::ToUnixNanos(t);
}

absl::StatusOr<TraceId> ParseTraceIdParam(std::string_view hex, std::string_view param_name) {
  const bool all_hex = std::all_of(hex.begin(), hex.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
  if (hex.empty() || hex.size() > 2 * kTraceIdBytes || !all_hex) {
    // At most 64 bytes of the input, escaped.
    const std::string_view shown = hex.substr(0, 64);
    return Malformed(
        param_name,
        absl::StrCat("\"", absl::CHexEscape(absl::string_view(shown.data(), shown.size())),
                     hex.size() > shown.size() ? "..." : "",
                     "\" is not a trace ID of 1 to 32 hex digits"));
  }
  absl::StatusOr<std::string> bytes = HexDecode(hex, kTraceIdBytes, /*allow_short=*/true);
  if (!bytes.ok()) return Malformed(param_name, Msg(bytes.status()));
  return TraceId::FromBytes(*bytes);
}

absl::StatusOr<JaegerSearch> ParseJaegerSearch(const http::Request& request, int64_t now_ns) {
  JaegerSearch search;
  storage::TraceQuery& q = search.query;
  for (const auto& [name, value] : Values(request, {"traceID"})) {
    absl::StatusOr<TraceId> id = ParseTraceIdParam(value, name);
    if (!id.ok()) return id.status();
    search.trace_ids.push_back(*id);
  }
  if (auto v = First(request, {"service"})) q.service = Str(v->second);
  if (auto v = First(request, {"operation"})) q.operation = Str(v->second);
  for (const auto& [name, value] : Values(request, {"tags"})) {
    if (value.empty()) continue;
    if (absl::Status s = AddJsonTags(name, value, &q.attributes); !s.ok()) return s;
  }
  for (const auto& [name, value] : Values(request, {"tag"})) {
    if (absl::Status s = AddColonTag(name, value, &q.attributes); !s.ok()) return s;
  }
  if (auto v = First(request, {"minDuration"})) {
    absl::StatusOr<int64_t> d = DurationParam(v->first, v->second);
    if (!d.ok()) return d.status();
    q.duration_min_ns = *d;
  }
  if (auto v = First(request, {"maxDuration"})) {
    absl::StatusOr<int64_t> d = DurationParam(v->first, v->second);
    if (!d.ok()) return d.status();
    q.duration_max_ns = *d;
  }
  if (absl::Status s = CheckDurations(q, "minDuration", "maxDuration"); !s.ok()) return s;

  int64_t end_ns = now_ns;
  if (auto v = First(request, {"end"})) {
    absl::StatusOr<int64_t> us = ParseInt(v->first, v->second);
    if (!us.ok()) return us.status();
    // The whole microsecond: a trace starting at end + 0.5 µs is still "at" end.
    end_ns = SaturatingMul(*us, kNsPerUs);
    if (end_ns < kMax - (kNsPerUs - 1)) end_ns += kNsPerUs - 1;
  }
  // As Jaeger: lookback sets the start only when start is absent (the UI sends both).
  const auto start_param = First(request, {"start"});
  int64_t lookback_ns = kDefaultSearchLookbackNs;
  if (auto v = First(request, {"lookback"}); v && !start_param && v->second != "custom") {
    absl::StatusOr<int64_t> d = ParseGoDuration(v->second, /*allow_days_and_weeks=*/true);
    if (!d.ok()) return Malformed(v->first, Msg(d.status()));
    lookback_ns = *d;
  }
  int64_t start_ns = SaturatingSub(end_ns, lookback_ns);
  if (const auto& v = start_param) {
    absl::StatusOr<int64_t> us = ParseInt(v->first, v->second);
    if (!us.ok()) return us.status();
    start_ns = SaturatingMul(*us, kNsPerUs);
  }
  if (start_ns > end_ns) {
    return absl::InvalidArgumentError(absl::StrCat("parameter start (", start_ns / kNsPerUs,
                                                   " µs) is after end (", end_ns / kNsPerUs,
                                                   " µs)"));
  }
  q.start_time_min_ns = start_ns;
  q.start_time_max_ns = end_ns;

  q.limit = kDefaultSearchLimit;
  // limit=0 is the default, as Jaeger has it.
  if (auto v = First(request, {"limit"}); v && v->second != "0") {
    absl::StatusOr<int> n = LimitParam(v->first, v->second);
    if (!n.ok()) return n.status();
    q.limit = *n;
  }
  if (search.trace_ids.empty() && !q.operation.empty() && q.service.empty()) {
    return absl::InvalidArgumentError("parameter operation requires parameter service");
  }
  return search;
}

absl::StatusOr<storage::TraceQuery> ParseV3Search(const http::Request& request, int64_t now_ns) {
  storage::TraceQuery q;
  if (auto v = First(request, {"query.service_name", "query.serviceName"})) {
    q.service = Str(v->second);
  }
  if (auto v = First(request, {"query.operation_name", "query.operationName"})) {
    q.operation = Str(v->second);
  }
  for (const auto& [name, value] : Values(request, {"query.attributes"})) {
    if (value.empty()) continue;
    absl::Status s = value.front() == '{' ? AddJsonTags(name, value, &q.attributes)
                                          : AddColonTag(name, value, &q.attributes);
    if (!s.ok()) return s;
  }
  std::string_view min_name = "query.duration_min";
  std::string_view max_name = "query.duration_max";
  if (auto v = First(request, {"query.duration_min", "query.durationMin"})) {
    min_name = v->first;
    absl::StatusOr<int64_t> d = DurationParam(v->first, v->second);
    if (!d.ok()) return d.status();
    q.duration_min_ns = *d;
  }
  if (auto v = First(request, {"query.duration_max", "query.durationMax"})) {
    max_name = v->first;
    absl::StatusOr<int64_t> d = DurationParam(v->first, v->second);
    if (!d.ok()) return d.status();
    q.duration_max_ns = *d;
  }
  if (absl::Status s = CheckDurations(q, min_name, max_name); !s.ok()) return s;

  int64_t min_ns = 0;
  int64_t max_ns = 0;
  if (absl::Status s =
          Rfc3339Window(request, {"query.start_time_min", "query.startTimeMin"},
                        {"query.start_time_max", "query.startTimeMax"}, now_ns, &min_ns, &max_ns);
      !s.ok()) {
    return s;
  }
  q.start_time_min_ns = min_ns;
  q.start_time_max_ns = max_ns;

  q.limit = kDefaultSearchLimit;
  if (auto v = First(request, {"query.num_traces", "query.search_depth", "query.searchDepth"})) {
    absl::StatusOr<int> n = LimitParam(v->first, v->second);
    if (!n.ok()) return n.status();
    q.limit = *n;
  }
  if (!q.operation.empty() && q.service.empty()) {
    return absl::InvalidArgumentError(
        "parameter query.operation_name requires parameter query.service_name");
  }
  return q;
}

absl::StatusOr<DependenciesQuery> ParseDependenciesQuery(const http::Request& request,
                                                         int64_t now_ns) {
  DependenciesQuery q;
  q.end_ns = now_ns;
  q.lookback_ns = kDefaultDependencyLookbackNs;
  if (auto v = First(request, {"endTs"})) {
    absl::StatusOr<int64_t> ms = ParseInt(v->first, v->second);
    if (!ms.ok()) return ms.status();
    q.end_ns = SaturatingMul(*ms, kNsPerMs);
  }
  if (auto v = First(request, {"lookback"})) {
    absl::StatusOr<int64_t> ms = ParseInt(v->first, v->second);
    if (!ms.ok()) return ms.status();
    if (*ms < 0) return Malformed(v->first, absl::StrCat("must not be negative, got ", *ms));
    q.lookback_ns = SaturatingMul(*ms, kNsPerMs);
  }
  if (auto v = First(request, {"service"})) q.service = Str(v->second);
  return q;
}

absl::StatusOr<OperationsQuery> ParseOperationsQuery(const http::Request& request,
                                                     std::string_view kind_param) {
  OperationsQuery query;
  const std::optional<std::string_view> service = request.Param("service");
  if (!service.has_value() || service->empty()) {
    return absl::InvalidArgumentError("missing required parameter service");
  }
  query.service = std::string(*service);
  const std::optional<std::string_view> kind = request.Param(kind_param);
  if (kind.has_value() && !kind->empty()) {
    const std::optional<int> parsed = ParseSpanKind(*kind);
    if (!parsed.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed parameter ", std::string(kind_param), ": unknown span kind \"",
          std::string(*kind),
          "\" (expected server, client, producer, consumer, internal or unspecified)"));
    }
    query.span_kind = *parsed;
  }
  return query;
}

absl::StatusOr<storage::TagSuggestionQuery> ParseTagSuggestionQuery(const http::Request& request,
                                                                    bool values, int64_t now_ns) {
  storage::TagSuggestionQuery query;
  if (auto v = First(request, {"service"})) query.service = Str(v->second);
  if (values) {
    const auto key = First(request, {"key"});
    if (!key.has_value()) return absl::InvalidArgumentError("missing required parameter key");
    query.key = Str(key->second);
  }
  if (absl::Status s = Rfc3339Window(request, {"start_time_min", "startTimeMin"},
                                     {"start_time_max", "startTimeMax"}, now_ns,
                                     &query.start_time_min_ns, &query.start_time_max_ns);
      !s.ok()) {
    return s;
  }
  query.limit = kDefaultTagSuggestionLimit;
  if (auto v = First(request, {"limit"})) {
    absl::StatusOr<int> n = LimitParam(v->first, v->second, kMaxTagSuggestionLimit);
    if (!n.ok()) return n.status();
    query.limit = *n;
  }
  return query;
}

}  // namespace tailtrace::query
