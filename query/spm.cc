#include "spm.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "query/jaeger_json.h"
#include "spanmetrics/quantile.h"

namespace tailtrace::query {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kMaxDurationMs = 100ll * 365 * 24 * 3600 * 1000;  // 100 years
constexpr int64_t kMaxEndTsMs = std::numeric_limits<int64_t>::max() / kNsPerMs;
constexpr int kSpanKindServer = 2;
constexpr int kStatusCodeError = 2;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Str(std::string_view s) { return std::string(s); }

absl::Status Malformed(std::string_view param, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed parameter ", Str(param), ": ", Str(what)));
}

// The first value of `name`, as Go's url.Values.Get: "" when absent.
std::string_view FirstValue(const http::Request& request, std::string_view name) {
  return request.Param(name).value_or(std::string_view());
}

// `name` in milliseconds, in [min_ms, max_ms], as nanoseconds; `default_ns` when absent or "".
absl::StatusOr<int64_t> MillisParam(const http::Request& request, std::string_view name,
                                    int64_t default_ns, int64_t min_ms, int64_t max_ms) {
  const std::string_view text = FirstValue(request, name);
  if (text.empty()) return default_ns;
  int64_t ms = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Malformed(name, absl::StrCat("\"", Str(text), "\" is not an integer (milliseconds)"));
  }
  if (ms < min_ms || ms > max_ms) {
    return Malformed(
        name, absl::StrCat("must be between ", min_ms, " and ", max_ms, " milliseconds, got ", ms));
  }
  return ms * kNsPerMs;
}

// Go's strconv.ParseBool, "" being false.
absl::StatusOr<bool> BoolParam(const http::Request& request, std::string_view name) {
  const std::string_view text = FirstValue(request, name);
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"", "0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return Malformed(name, absl::StrCat("\"", Str(text), "\" is not a boolean (true or false)"));
}

absl::StatusOr<std::vector<std::string>> ServicesParam(const http::Request& request) {
  std::vector<std::string> services;
  for (std::string_view s : request.Params("service")) {
    if (s.empty() || std::find(services.begin(), services.end(), s) != services.end()) continue;
    services.emplace_back(s);
  }
  if (services.empty()) {
    return absl::InvalidArgumentError(
        "missing required parameter service (at least one service name)");
  }
  return services;
}

absl::StatusOr<std::vector<int>> SpanKindsParam(const http::Request& request) {
  const std::vector<std::string_view> names = request.Params("spanKind");
  if (names.empty()) return std::vector<int>{kSpanKindServer};
  std::vector<int> kinds;
  for (std::string_view name : names) {
    const std::optional<int> kind = ParseSpanKind(name);
    if (!kind.has_value()) {
      return Malformed("spanKind", absl::StrCat("unknown span kind \"", Str(name),
                                                "\" (expected unspecified, internal, server, "
                                                "client, producer or consumer)"));
    }
    if (std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) kinds.push_back(*kind);
  }
  return kinds;
}

absl::StatusOr<double> QuantileParam(const http::Request& request) {
  const std::string_view text = FirstValue(request, "quantile");
  if (text.empty()) {
    return absl::InvalidArgumentError("missing required parameter quantile (e.g. 0.95)");
  }
  double q = kNaN;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), q);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Malformed("quantile", absl::StrCat("\"", Str(text), "\" is not a number"));
  }
  if (!(q >= 0 && q <= 1)) {
    return Malformed("quantile", absl::StrCat("must be between 0 and 1, got ", Str(text)));
  }
  return q;
}

// endTs, lookback, step and ratePer into `q`.
absl::Status ParseRange(const http::Request& request, int64_t now_ns, SpmQuery& q) {
  const int64_t now_ms_ns = now_ns / kNsPerMs * kNsPerMs;
  absl::StatusOr<int64_t> end = MillisParam(request, "endTs", now_ms_ns, 0, kMaxEndTsMs);
  if (!end.ok()) return end.status();
  absl::StatusOr<int64_t> lookback =
      MillisParam(request, "lookback", kSpmDefaultLookbackMs * kNsPerMs, 1, kMaxDurationMs);
  if (!lookback.ok()) return lookback.status();
  absl::StatusOr<int64_t> step =
      MillisParam(request, "step", kSpmDefaultStepMs * kNsPerMs, 1, kMaxDurationMs);
  if (!step.ok()) return step.status();
  absl::StatusOr<int64_t> rate_per =
      MillisParam(request, "ratePer", kSpmDefaultRatePerMs * kNsPerMs, 1, kMaxDurationMs);
  if (!rate_per.ok()) return rate_per.status();
  if (*lookback / *step > kSpmMaxSteps) {
    return Malformed("step", absl::StrCat("lookback / step gives more than ", kSpmMaxSteps,
                                          " points per series; raise step or shorten lookback"));
  }
  q.end_ns = *end;
  q.lookback_ns = *lookback;
  q.step_ns = *step;
  q.rate_per_ns = *rate_per;
  return absl::OkStatus();
}

}  // namespace

std::optional<SpmMetric> SpmMetricOfName(std::string_view name) {
  if (name == "calls") return SpmMetric::kCalls;
  if (name == "errors") return SpmMetric::kErrors;
  if (name == "latencies") return SpmMetric::kLatencies;
  return std::nullopt;
}

absl::StatusOr<SpmQuery> ParseSpmQuery(SpmMetric metric, const http::Request& request,
                                       int64_t now_ns) {
  SpmQuery q;
  q.metric = metric;
  // In Jaeger's order: the quantile first, then the parameters every metric shares.
  if (metric == SpmMetric::kLatencies) {
    absl::StatusOr<double> quantile = QuantileParam(request);
    if (!quantile.ok()) return quantile.status();
    q.quantile = *quantile;
  }
  absl::StatusOr<std::vector<std::string>> services = ServicesParam(request);
  if (!services.ok()) return services.status();
  q.services = *std::move(services);
  absl::StatusOr<bool> group = BoolParam(request, "groupByOperation");
  if (!group.ok()) return group.status();
  q.group_by_operation = *group;
  absl::StatusOr<std::vector<int>> kinds = SpanKindsParam(request);
  if (!kinds.ok()) return kinds.status();
  q.span_kinds = *std::move(kinds);
  if (absl::Status s = ParseRange(request, now_ns, q); !s.ok()) return s;
  return q;
}

std::vector<int64_t> SpmTimes(const SpmQuery& query) {
  const int64_t start = query.end_ns - query.lookback_ns;
  const int64_t count = query.lookback_ns / query.step_ns + 1;
  std::vector<int64_t> times;
  times.reserve(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) times.push_back(start + k * query.step_ns);
  return times;
}

namespace {

// The slot starts that count at some time of `times`: [first - ratePer, last).
std::pair<int64_t, int64_t> WindowsUnion(const SpmQuery& query, const std::vector<int64_t>& times) {
  return {times.front() - query.rate_per_ns, times.back()};
}

}  // namespace

storage::MetricPointQuery SpmReadRange(const SpmQuery& query) {
  const auto [begin, end] = WindowsUnion(query, SpmTimes(query));
  storage::MetricPointQuery read;
  read.services = query.services;
  read.start_ns = std::max<int64_t>(0, begin);
  read.end_ns = std::max<int64_t>(read.start_ns, end - 1);
  return read;
}

namespace {

using GroupKey = std::pair<std::string_view, std::string_view>;  // service, operation
using Group = std::vector<const storage::MetricPoint*>;

// The points of `query` that count, by series (the operation is "" without groupByOperation).
std::map<GroupKey, Group> GroupPoints(const SpmQuery& query,
                                      std::span<const storage::MetricPoint> points) {
  const auto [begin, end] = WindowsUnion(query, SpmTimes(query));
  auto has = [](const auto& list, const auto& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  std::map<GroupKey, Group> groups;
  for (const storage::MetricPoint& p : points) {
    if (p.time_ns < begin || p.time_ns >= end || !has(query.span_kinds, p.series.span_kind) ||
        !has(query.services, p.series.service)) {
      continue;
    }
    const std::string_view op =
        query.group_by_operation ? std::string_view(p.series.operation) : std::string_view();
    groups[{p.series.service, op}].push_back(&p);
  }
  return groups;
}

// Calls, errors and (for points with the reference bounds) bucket counts of one window.
class WindowSums {
 public:
  explicit WindowSums(const std::vector<double>& bounds)
      : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

  void Add(const storage::MetricPoint& p) { Apply(p, +1); }
  void Remove(const storage::MetricPoint& p) { Apply(p, -1); }

  double Value(const SpmQuery& query) const {
    switch (query.metric) {
      case SpmMetric::kCalls:
        return static_cast<double>(calls_) / (static_cast<double>(query.rate_per_ns) / 1e9);
      case SpmMetric::kErrors:
        return calls_ == 0 ? kNaN : static_cast<double>(errors_) / static_cast<double>(calls_);
      case SpmMetric::kLatencies:
        return spanmetrics::HistogramQuantile(query.quantile, bounds_, counts_);
    }
    return kNaN;
  }

 private:
  // Adds (sign +1) or takes back (-1) `p`; unsigned arithmetic is exact either way.
  void Apply(const storage::MetricPoint& p, int sign) {
    const uint64_t s = static_cast<uint64_t>(static_cast<int64_t>(sign));
    calls_ += s * p.calls;
    if (p.series.status_code == kStatusCodeError) errors_ += s * p.calls;
    if (p.bounds_ms != bounds_ || p.counts.size() != counts_.size()) return;
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += s * p.counts[i];
  }

  const std::vector<double>& bounds_;
  uint64_t calls_ = 0;
  uint64_t errors_ = 0;
  std::vector<uint64_t> counts_;
};

// The values of one series at `times` (ascending), its points sorted by time.
std::vector<double> Evaluate(const SpmQuery& query, const std::vector<int64_t>& times,
                             const Group& points) {
  WindowSums sums(points.back()->bounds_ms);  // the most recent point's bounds
  std::vector<double> values;
  values.reserve(times.size());
  size_t lo = 0;
  size_t hi = 0;
  for (int64_t t : times) {
    while (hi < points.size() && points[hi]->time_ns < t) sums.Add(*points[hi++]);
    while (lo < hi && points[lo]->time_ns < t - query.rate_per_ns) sums.Remove(*points[lo++]);
    // Before the series' first slot it did not exist: no value, as Prometheus has no sample
    // there (a 0 would pull down the averages the Jaeger UI's operations table shows).
    values.push_back(hi == 0 ? kNaN : sums.Value(query));
  }
  return values;
}

}  // namespace

absl::StatusOr<std::vector<SpmSeries>> ComputeSpm(const SpmQuery& query,
                                                  std::span<const storage::MetricPoint> points) {
  const std::vector<int64_t> times = SpmTimes(query);
  std::map<GroupKey, Group> groups = GroupPoints(query, points);
  const int64_t total = static_cast<int64_t>(groups.size() * times.size());
  if (total > kSpmMaxPoints) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the answer would have ", total, " points (", groups.size(), " series x ", times.size(),
        " times), more than ", kSpmMaxPoints, "; raise step, shorten lookback",
        query.group_by_operation ? " or leave out groupByOperation" : " or ask fewer services"));
  }
  std::vector<SpmSeries> out;
  out.reserve(groups.size());
  for (auto& [key, group] : groups) {
    std::stable_sort(group.begin(), group.end(),
                     [](const auto* a, const auto* b) { return a->time_ns < b->time_ns; });
    out.push_back({Str(key.first), Str(key.second), Evaluate(query, times, group)});
  }
  return out;
}

std::string SpmFamilyName(const SpmQuery& query) {
  const std::string_view prefix = query.group_by_operation ? "service_operation" : "service";
  switch (query.metric) {
    case SpmMetric::kCalls:
      return absl::StrCat(Str(prefix), "_call_rate");
    case SpmMetric::kErrors:
      return absl::StrCat(Str(prefix), "_error_rate");
    case SpmMetric::kLatencies:
      break;
  }
  return absl::StrCat(Str(prefix), "_latencies");
}

std::string SpmFamilyHelp(const SpmQuery& query) {
  std::string help;
  switch (query.metric) {
    case SpmMetric::kCalls:
      help = "calls/sec, grouped by service";
      break;
    case SpmMetric::kErrors:
      help = "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service";
      break;
    case SpmMetric::kLatencies: {
      char q[32];
      std::snprintf(q, sizeof(q), "%.2f", query.quantile);
      help = absl::StrCat(q, "th quantile latency, grouped by service");
      break;
    }
  }
  if (query.group_by_operation) help += " & operation";
  return help;
}

std::string SpmTimestamp(int64_t unix_ns) {
  int64_t seconds = unix_ns / 1'000'000'000;
  int64_t nanos = unix_ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --seconds;
  }
  std::string out =
      absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
  char fraction[16] = "";
  if (nanos % 1'000'000 == 0 && nanos != 0) {
    std::snprintf(fraction, sizeof(fraction), ".%03d", static_cast<int>(nanos / 1'000'000));
  } else if (nanos % 1'000 == 0 && nanos != 0) {
    std::snprintf(fraction, sizeof(fraction), ".%06d", static_cast<int>(nanos / 1'000));
  } else if (nanos != 0) {
    std::snprintf(fraction, sizeof(fraction), ".%09d", static_cast<int>(nanos));
  }
  return absl::StrCat(out, fraction, "Z");
}

namespace {

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// A double as jsonpb writes one: a number, or "NaN", "Infinity", "-Infinity" as strings.
void WriteDouble(JsonWriter& w, double v) {
  if (std::isnan(v)) return WriteString(w, "NaN");
  if (std::isinf(v)) return WriteString(w, v > 0 ? "Infinity" : "-Infinity");
  w.Double(v);
}

void WriteLabel(JsonWriter& w, std::string_view name, std::string_view value) {
  w.StartObject();
  w.Key("name");
  WriteString(w, name);
  w.Key("value");
  WriteString(w, value);
  w.EndObject();
}

void WriteSeries(JsonWriter& w, const SpmQuery& query, const SpmSeries& series,
                 const std::vector<std::string>& stamps) {
  w.StartObject();
  w.Key("labels");
  w.StartArray();
  WriteLabel(w, "service_name", series.service);
  if (query.group_by_operation) WriteLabel(w, "operation", series.operation);
  w.EndArray();
  w.Key("metricPoints");
  w.StartArray();
  for (size_t i = 0; i < series.values.size() && i < stamps.size(); ++i) {
    w.StartObject();
    w.Key("gaugeValue");
    w.StartObject();
    w.Key("doubleValue");
    WriteDouble(w, series.values[i]);
    w.EndObject();
    w.Key("timestamp");
    WriteString(w, stamps[i]);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

std::string RenderSpm(const SpmQuery& query, const std::vector<SpmSeries>& series) {
  std::vector<std::string> stamps;
  for (int64_t t : SpmTimes(query)) stamps.push_back(SpmTimestamp(t));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("name");
  WriteString(w, SpmFamilyName(query));
  w.Key("type");
  WriteString(w, "GAUGE");
  w.Key("help");
  WriteString(w, SpmFamilyHelp(query));
  w.Key("metrics");
  w.StartArray();
  for (const SpmSeries& s : series) WriteSeries(w, query, s, stamps);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace tailtrace::query
