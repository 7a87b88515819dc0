#include "bench/query_measure.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/http_server.h"
#include "query/jaeger_json.h"
#include "rapidjson/document.h"
#include "storage/trace_store.h"

// Declared so that the detection below compiles whether or not this build's storage library
// defines a search query type yet.
namespace tailtrace::storage {
struct TraceQuery;
}

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::trace::v1::TracesData;

// True when S has FindTraces(const Q&) and Q has the fields the searches below set.
template <typename Q, typename S>
constexpr bool kCanFind = requires(S& s, Q& q, const Q& cq) {
  s.FindTraces(cq);
  q.service = std::string();
  q.attributes.emplace_back(std::string(), std::string());
  q.start_time_min_ns = int64_t{0};
  q.start_time_max_ns = int64_t{0};
  q.duration_min_ns = int64_t{0};
  q.limit = 20;
};

struct SearchSpec {
  std::string service;  // "" = none
  std::optional<std::pair<std::string, std::string>> attribute;
  std::optional<int64_t> min_duration_ns;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int limit = 20;
};

// Result count, or the reason this build cannot search.
template <typename Q = storage::TraceQuery, typename S = storage::TraceStore>
absl::StatusOr<size_t> FindTraces(S* store, const SearchSpec& spec) {
  if constexpr (kCanFind<Q, S>) {
    Q q;
    q.service = spec.service;
    if (spec.attribute) q.attributes.emplace_back(spec.attribute->first, spec.attribute->second);
    q.start_time_min_ns = spec.start_ns;
    q.start_time_max_ns = spec.end_ns;
    if (spec.min_duration_ns) q.duration_min_ns = *spec.min_duration_ns;
    q.limit = spec.limit;
    auto result = store->FindTraces(q);
    if (!result.ok()) return result.status();
    return result->size();
  } else {
    return absl::UnimplementedError("this build's TraceStore has no FindTraces(TraceQuery)");
  }
}

std::string Rfc3339(int64_t unix_ns) {
  const time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
  tm tm_utc{};
  gmtime_r(&secs, &tm_utc);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(unix_ns % 1'000'000'000));
  return std::string(buf) + frac;
}

http::Request MakeRequest(std::string path, std::vector<std::pair<std::string, std::string>> q) {
  http::Request r;
  r.method = "GET";
  r.path = path;
  r.target = path;
  for (size_t i = 0; i < q.size(); ++i) {
    absl::StrAppend(&r.target, i == 0 ? "?" : "&", q[i].first, "=", q[i].second);
  }
  r.query = std::move(q);
  return r;
}

// Jaeger search requests for `spec`; the first candidate the API answers 200 is used.
std::vector<http::Request> ApiCandidates(const SearchSpec& spec) {
  std::vector<std::pair<std::string, std::string>> jaeger;
  if (!spec.service.empty()) jaeger.emplace_back("service", spec.service);
  if (spec.attribute) {
    JsonLine tags;
    tags.Add(spec.attribute->first, spec.attribute->second);
    jaeger.emplace_back("tags", tags.str());
  }
  if (spec.min_duration_ns) {
    jaeger.emplace_back("minDuration", absl::StrCat(*spec.min_duration_ns / 1'000'000, "ms"));
  }
  jaeger.emplace_back("start", absl::StrCat(spec.start_ns / 1000));
  jaeger.emplace_back("end", absl::StrCat(spec.end_ns / 1000));
  jaeger.emplace_back("limit", absl::StrCat(spec.limit));
  std::vector<http::Request> out;
  out.push_back(MakeRequest("/api/traces", jaeger));
  if (spec.service.empty()) {
    out.push_back(MakeRequest("/api/v3/traces", {{"query.start_time_min", Rfc3339(spec.start_ns)},
                                                 {"query.start_time_max", Rfc3339(spec.end_ns)},
                                                 {"query.num_traces", absl::StrCat(spec.limit)}}));
  }
  return out;
}

// Traces in a Jaeger envelope ({"data":[...]}) or resourceSpans in a v3 result; -1 if neither.
int64_t CountResults(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return -1;
  if (doc.HasMember("data") && doc["data"].IsArray()) return doc["data"].Size();
  if (doc.HasMember("result") && doc["result"].IsObject() &&
      doc["result"].HasMember("resourceSpans") && doc["result"]["resourceSpans"].IsArray()) {
    return doc["result"]["resourceSpans"].Size();
  }
  return -1;
}

size_t CountSpans(const TracesData& data) {
  size_t n = 0;
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

// One sample of each --detail series for `trace` (already loaded, so its memory is warm).
void MeasureDetail(const storage::StoredTrace& trace, Series* render, Series* decode_heap,
                   Series* decode_arena) {
  auto sample = [](Series* s, auto&& fn) {
    const double c0 = ThreadCpuSeconds();
    const double t0 = WallSeconds();
    fn();
    s->ms.push_back((WallSeconds() - t0) * 1e3);
    s->cpu_ms.push_back((ThreadCpuSeconds() - c0) * 1e3);
    s->results_sum += 1;
  };
  sample(render, [&] {
    query::JsonBuffer out;
    query::AppendJaegerTrace(trace, out);
  });
  const std::string bytes = trace.data.SerializeAsString();
  sample(decode_heap, [&] {
    TracesData data;
    if (!data.ParseFromString(bytes)) std::abort();
  });
  sample(decode_arena, [&] {
    google::protobuf::Arena arena;
    auto* data = google::protobuf::Arena::CreateMessage<TracesData>(&arena);
    if (!data->ParseFromString(bytes)) std::abort();
  });
}

// A call's wall and thread CPU time, in ms, and the server's CPU time (when data has a server).
struct Timing {
  double ms = 0;
  double cpu_ms = 0;
  double server_cpu_ms = -1;  // -1: not measured
};

// Runs fn(), timing it into *t; returns what fn returns.
template <typename F>
auto Timed(const QueryData& data, Timing* t, F&& fn) {
  const double s0 = data.server_cpu_seconds ? data.server_cpu_seconds() : 0;
  const double c0 = ThreadCpuSeconds();
  const double t0 = WallSeconds();
  auto result = fn();
  t->ms = (WallSeconds() - t0) * 1e3;
  t->cpu_ms = (ThreadCpuSeconds() - c0) * 1e3;
  t->server_cpu_ms = data.server_cpu_seconds ? (data.server_cpu_seconds() - s0) * 1e3 : -1;
  return result;
}

void Record(const Timing& t, double results, Series* s) {
  s->ms.push_back(t.ms);
  s->cpu_ms.push_back(t.cpu_ms);
  s->results_sum += results;
  if (t.server_cpu_ms >= 0) {
    s->server_cpu_ms_sum += t.server_cpu_ms;
    s->server_measured = true;
  }
}

// Trace `k` through the store (and, with `detail`, its rendering and decoding) and then the API;
// false (s->get.skipped set) when the trace is missing or incomplete.
bool LookupOnce(const QueryData& data, uint64_t k, bool measured, bool detail, LookupSeries* s) {
  const TraceId id = TraceId::FromBytes(data.gen->TraceIdBytes(k));
  Timing t;
  auto trace = Timed(data, &t, [&] { return data.store->GetTrace(id); });
  if (!trace.ok() || !trace->has_value()) {
    s->get.skipped =
        absl::StrCat("trace ", id.Hex(), " (index ", k,
                     ") not found: ", trace.ok() ? "nullopt" : trace.status().ToString());
    return false;
  }
  const int want = data.gen->options().spans_per_trace;
  const size_t n = CountSpans((*trace)->data);
  if (n != static_cast<size_t>(want)) {
    s->get.skipped = absl::StrCat("trace ", id.Hex(), " has ", n, " spans, expected ", want);
    return false;
  }
  if (measured) Record(t, 1, &s->get);
  if (detail && measured) MeasureDetail(**trace, &s->render, &s->decode_heap, &s->decode_arena);
  const http::Request req = MakeRequest("/api/traces/" + id.Hex(), {});
  const http::Response res = Timed(data, &t, [&] { return data.service->Handle(req); });
  if (res.status != 200) {
    s->api_get.skipped =
        absl::StrCat(req.target, " answered ", res.status, ": ", res.body.substr(0, 200));
  } else if (measured && s->api_get.skipped.empty()) {
    Record(t, 1, &s->api_get);
  }
  return true;
}

// The search of `kind` (0: service + minDuration, 1: service + attribute, 2: time only) for run
// `i`.
SearchSpec SpecFor(const QueryData& data, int kind, int i, std::mt19937_64* rng,
                   std::vector<GeneratedSpan>* spans_of) {
  const WorkloadOptions& workload = data.gen->options();
  constexpr int64_t kWindowNs = 15ll * 60 * 1'000'000'000;
  SearchSpec spec;
  spec.start_ns = data.start_ns - 3600ll * 1'000'000'000;
  spec.end_ns = data.data_end_ns + 3600ll * 1'000'000'000;
  if (kind == 0) {
    spec.service = data.gen->service_name(static_cast<uint32_t>(i % workload.services));
    spec.min_duration_ns = 2'000'000'000;
  } else if (kind == 1) {
    std::uniform_int_distribution<uint64_t> pick(0, data.written_traces - 1);
    data.gen->Generate(pick(*rng), spans_of);
    const auto& root = spans_of->back();  // export order: the root ends last
    spec.service = data.gen->service_name(root.service);
    for (const auto& kv : root.span.attributes()) {
      if (kv.key() == "user.id" || !spec.attribute) {
        spec.attribute.emplace(kv.key(), kv.value().string_value());
        if (kv.key() == "user.id") break;
      }
    }
  } else {
    const int64_t room = std::max<int64_t>(1, data.data_end_ns - data.start_ns - kWindowNs);
    spec.start_ns = data.start_ns + static_cast<int64_t>((*rng)() % static_cast<uint64_t>(room));
    spec.end_ns = spec.start_ns + kWindowNs;
  }
  return spec;
}

void FindOnce(const QueryData& data, const SearchSpec& spec, bool measured, Series* find) {
  Timing t;
  absl::StatusOr<size_t> n = Timed(data, &t, [&] { return FindTraces(data.store, spec); });
  if (!n.ok()) {
    find->skipped = n.status().ToString();
  } else if (measured) {
    Record(t, static_cast<double>(*n), find);
  }
}

// One run of a search through the API. The first run chooses the first candidate request the
// API answers with 200 (*chosen); every run uses it.
void ApiSearchOnce(const QueryData& data, const SearchSpec& spec, bool measured, int* chosen,
                   Series* api) {
  std::vector<http::Request> candidates = ApiCandidates(spec);
  if (*chosen < 0) {
    std::string refusals;
    for (size_t c = 0; c < candidates.size() && *chosen < 0; ++c) {
      const http::Response res = data.service->Handle(candidates[c]);
      if (res.status == 200) {
        *chosen = static_cast<int>(c);
      } else {
        absl::StrAppend(&refusals, refusals.empty() ? "" : "; ", candidates[c].path, " ",
                        res.status, " ", res.body.substr(0, 160));
      }
    }
    if (*chosen < 0) {
      api->skipped = refusals;
      return;
    }
    api->how = candidates[*chosen].target;
  }
  Timing t;
  const http::Response res =
      Timed(data, &t, [&] { return data.service->Handle(candidates[*chosen]); });
  if (res.status != 200) {
    api->skipped = absl::StrCat(candidates[*chosen].target, " answered ", res.status, ": ",
                                res.body.substr(0, 200));
  } else if (measured) {
    Record(t, static_cast<double>(CountResults(res.body)), api);
  }
}

}  // namespace

void Series::AddTo(JsonLine* json) const {
  if (!skipped.empty()) {
    json->Add(name + "_skipped", skipped);
    return;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cpu = cpu_ms;
  std::sort(cpu.begin(), cpu.end());
  json->Add(name + "_p50_ms", Percentile(sorted, 50))
      .Add(name + "_p99_ms", Percentile(sorted, 99))
      .Add(name + "_cpu_p50_ms", Percentile(cpu, 50))
      .Add(name + "_cpu_p99_ms", Percentile(cpu, 99))
      .Add(name + "_max_ms", sorted.empty() ? 0.0 : sorted.back())
      .Add(name + "_n", static_cast<uint64_t>(sorted.size()))
      .Add(name + "_avg_results", sorted.empty() ? 0.0 : results_sum / sorted.size());
  if (server_measured && !sorted.empty()) {
    json->Add(name + "_server_cpu_ms_avg", server_cpu_ms_sum / sorted.size());
  }
  if (!how.empty()) json->Add(name + "_request", how);
}

void Series::Print() const {
  if (!skipped.empty()) {
    std::fprintf(stderr, "query %-32s skipped: %s\n", name.c_str(), skipped.c_str());
    return;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> cpu = cpu_ms;
  std::sort(cpu.begin(), cpu.end());
  std::string server;
  if (server_measured && !sorted.empty()) {
    server = absl::StrCat("  server CPU avg ", server_cpu_ms_sum / sorted.size(), " ms");
  }
  std::fprintf(stderr,
               "query %-32s p50 %8.3f ms  p99 %8.3f ms  (CPU p99 %8.3f ms)  max %8.3f ms  (%zu "
               "runs, %.1f results avg)%s\n",
               name.c_str(), Percentile(sorted, 50), Percentile(sorted, 99), Percentile(cpu, 99),
               sorted.empty() ? 0.0 : sorted.back(), sorted.size(),
               sorted.empty() ? 0.0 : results_sum / sorted.size(), server.c_str());
}

LookupSeries MeasureLookups(const QueryData& data, int lookups, bool detail, std::mt19937_64* rng) {
  LookupSeries s;
  s.api_get.how = "GET /api/traces/{traceID}";
  std::uniform_int_distribution<uint64_t> pick(0, data.written_traces - 1);
  for (int i = -20; i < lookups; ++i) {
    if (!LookupOnce(data, pick(*rng), i >= 0, detail, &s)) break;
  }
  return s;
}

std::vector<Series> MeasureSearches(const QueryData& data, int searches, std::mt19937_64* rng) {
  const char* kNames[] = {"service_min_duration", "service_attribute", "time_only"};
  std::vector<GeneratedSpan> spans_of;
  std::vector<Series> results;
  for (int kind = 0; kind < 3; ++kind) {
    Series find{absl::StrCat("find_", kNames[kind])};
    Series api{absl::StrCat("api_search_", kNames[kind])};
    int chosen = -1;
    for (int i = -5; i < searches; ++i) {
      const SearchSpec spec = SpecFor(data, kind, i < 0 ? i + 5 : i, rng, &spans_of);
      if (find.skipped.empty()) FindOnce(data, spec, i >= 0, &find);
      if (api.skipped.empty()) ApiSearchOnce(data, spec, i >= 0, &chosen, &api);
    }
    results.push_back(std::move(find));
    results.push_back(std::move(api));
  }
  return results;
}

}  // namespace tailtrace::bench
