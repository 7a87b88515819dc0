// tailtrace-bench-query: builds a large RocksTraceStore with the benchmark workload through
// RocksTraceStore::Write (as the sampler shards write kept traces), then measures
//   - trace by ID: TraceStore::GetTrace of random traces, and GET /api/traces/{id} through the
//     query API (in process, JSON rendering included, no network);
//   - three searches, limit 20: service + minDuration, service + attribute, time only; through
//     TraceStore::FindTraces when this build's store has it (summaries only) and through the
//     Jaeger HTTP API (in process; full traces rendered), each reported as skipped with the reason
//     when this build cannot answer it.
// With --reuse, a store built earlier with the same parameters is used again.
//
// The store is the one a daemon would have written (bench/query_store_build.h): written from
// --writers threads in batches of whole traces, roughly in start-time order, on a clock that
// follows the data. The traces start over --minutes (default 20) ending now: 10M spans in 20
// minutes is a daemon storing 8,333 spans (167 traces) per second, e.g. one keeping 10% of
// ~80,000 spans/s received. Each 10 s index slot then holds ~1,700 traces, and the index segments
// (sealed after 5 s of data time) ~830 traces each, as in that daemon's store.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/query_store_build.h"
#include "bench/workload.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "query/jaeger_json.h"
#include "query/query_service.h"
#include "rapidjson/document.h"
#include "storage/rocks/rocks_trace_store.h"
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

struct Series {
  explicit Series(std::string n) : name(std::move(n)) {}
  std::string name;
  std::vector<double> ms;
  // Thread CPU time of the same calls: separates work from waiting (I/O, preemption).
  std::vector<double> cpu_ms;
  double results_sum = 0;
  std::string skipped;  // non-empty: why there are no figures
  std::string how;      // the request used, for the report

  void AddTo(JsonLine* json) const {
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
    if (!how.empty()) json->Add(name + "_request", how);
  }
  void Print() const {
    if (!skipped.empty()) {
      std::fprintf(stderr, "query %-32s skipped: %s\n", name.c_str(), skipped.c_str());
      return;
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    std::vector<double> cpu = cpu_ms;
    std::sort(cpu.begin(), cpu.end());
    std::fprintf(stderr,
                 "query %-32s p50 %8.3f ms  p99 %8.3f ms  (CPU p99 %8.3f ms)  max %8.3f ms  (%zu "
                 "runs, %.1f results avg)\n",
                 name.c_str(), Percentile(sorted, 50), Percentile(sorted, 99), Percentile(cpu, 99),
                 sorted.empty() ? 0.0 : sorted.back(), sorted.size(),
                 sorted.empty() ? 0.0 : results_sum / sorted.size());
  }
};

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

int Main(int argc, char** argv) {
  std::map<std::string, std::string> known = {
      {"spans", "spans in the store (default 10000000)"},
      {"path", "store directory (required; removed first unless --reuse finds a match)"},
      {"reuse", "reuse the store at --path if it was built with the same parameters"},
      {"writers",
       "writer threads while building, like the daemon's sampler shards (default: hardware "
       "threads)"},
      {"batch-traces",
       "traces per RocksTraceStore::Write call (default: 16384 spans' worth, a shard's largest "
       "write, or fewer if they would start more than 2 s apart)"},
      {"minutes",
       "the traces' start times span this many minutes, ending now; spans / this = the rate of "
       "the daemon the store imitates (default 20)"},
      {"write-buffer-mb",
       "StoreOptions::write_buffer_bytes, in MiB (default 512; the daemon's default is 64)"},
      {"real-clock",
       "build on the real clock instead of one following the data (segments then depend on the "
       "benchmark's write speed) (default false)"},
      {"lookups", "trace-by-ID lookups measured (default 1000)"},
      {"searches", "runs of each search measured (default 100)"},
      {"compact", "compact the store fully before measuring (default true)"},
      {"detail",
       "also measure, per looked-up trace, its Jaeger rendering alone and the protobuf decoding "
       "of its spans on the heap and on an Arena (default false)"},
      {"build-budget",
       "stop writing after this long (e.g. 240s) and measure the smaller store; 0 = no limit "
       "(default 0)"},
  };
  AddWorkloadFlags(&known);
  Flags flags("tailtrace-bench-query",
              "Builds a large RocksTraceStore and measures trace-by-ID and searches (limit 20).",
              known);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const std::string path = flags.String("path", "");
  if (path.empty()) {
    std::cerr << "tailtrace-bench-query: --path is required\n";
    return 2;
  }
  WorkloadOptions workload = WorkloadFromFlags(flags);
  if (!flags.Has("spans-per-trace")) workload.spans_per_trace = 50;
  const int64_t spans = flags.Int("spans", 10'000'000);
  const uint64_t traces =
      std::max<uint64_t>(1, static_cast<uint64_t>(spans) / workload.spans_per_trace);
  const int writers = std::max(
      1, static_cast<int>(flags.Int("writers", std::max(1u, std::thread::hardware_concurrency()))));
  const double minutes = flags.Double("minutes", 20);
  const bool real_clock = flags.Bool("real-clock", false);
  const int lookups = static_cast<int>(flags.Int("lookups", 1000));
  const int searches = static_cast<int>(flags.Int("searches", 100));
  const bool detail = flags.Bool("detail", false);
  const double budget = flags.Seconds("build-budget", 0);

  // ---- Build (or reuse) ----
  const std::string marker_path = path + "/tailtrace-bench-query.params";
  const std::string params = absl::StrCat(DescribeWorkload(workload), " traces=", traces,
                                          " minutes=", minutes, " real_clock=", real_clock);
  int64_t start_ns = 0;
  uint64_t written_traces = traces;
  bool reused = false;
  if (flags.Bool("reuse", false)) {
    std::ifstream marker(marker_path);
    std::string line;
    int64_t stored_start = 0;
    uint64_t stored_traces = 0;
    if (std::getline(marker, line) && line == params && marker >> stored_start >> stored_traces &&
        stored_traces > 0) {
      start_ns = stored_start;
      written_traces = stored_traces;
      reused = true;
    }
  }
  const int64_t span_ns = std::max<int64_t>(1, static_cast<int64_t>(minutes * 60e9));
  if (!reused) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    start_ns = UnixNanos() - span_ns;
  }
  workload.start_unix_ns = start_ns;
  workload.trace_spacing_ns = std::max<int64_t>(1, span_ns / static_cast<int64_t>(traces));
  const int batch =
      std::max(1, static_cast<int>(flags.Int("batch-traces", DefaultBatchTraces(workload))));
  const TraceGenerator gen(workload);

  storage::StoreOptions options;
  options.path = path;
  // Larger memtables than the daemon's (64 MiB) spare the build most of RocksDB's intermediate
  // compactions; the store is compacted fully before measuring, so what is measured is the same.
  options.write_buffer_bytes = static_cast<uint64_t>(flags.Int("write-buffer-mb", 512)) << 20;
  // Writes happen at a trace's start + kDecisionDelayNs (on the data clock); a reused store is
  // read on the real clock.
  DataClock data_clock(start_ns + kDecisionDelayNs);
  Clock* store_clock = reused || real_clock ? Clock::Real() : &data_clock;
  auto opened = storage::RocksTraceStore::Open(options, store_clock);
  if (!opened.ok()) {
    std::cerr << "tailtrace-bench-query: " << opened.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<storage::RocksTraceStore> store = std::move(*opened);

  double build_wall = 0;
  double build_cpu = 0;
  double compact_seconds = 0;
  double build_generate_cpu = 0;  // writer threads generating traces
  double build_write_cpu = 0;     // writer threads in RocksTraceStore::Write
  if (!reused) {
    std::fprintf(stderr,
                 "query: building a store of up to %llu traces x %d spans at %s (starts over %g "
                 "min, %d writers, %d traces per write, %s clock) ...\n",
                 static_cast<unsigned long long>(traces), workload.spans_per_trace, path.c_str(),
                 minutes, writers, batch, store_clock == &data_clock ? "data" : "real");
    QueryBuildOptions build;
    build.traces = traces;
    build.writers = writers;
    build.batch_traces = batch;
    build.budget_seconds = budget;
    absl::StatusOr<QueryBuildResult> built = BuildQueryStore(gen, store.get(), &data_clock, build);
    if (!built.ok()) {
      std::cerr << "tailtrace-bench-query: building the store: " << built.status() << "\n";
      return 1;
    }
    written_traces = built->written_traces;
    build_wall = built->wall_seconds;
    build_cpu = built->cpu_seconds;
    build_generate_cpu = built->generate_cpu_seconds;
    build_write_cpu = built->write_cpu_seconds;
    if (flags.Bool("compact", true)) {
      const double t0 = WallSeconds();
      if (absl::Status s = store->CompactForTest(); !s.ok()) {
        std::cerr << "tailtrace-bench-query: compaction: " << s.message() << "\n";
        return 1;
      }
      compact_seconds = WallSeconds() - t0;
    }
    std::ofstream marker(marker_path);
    marker << params << "\n" << start_ns << " " << written_traces << "\n";
    const double built_spans = static_cast<double>(written_traces * workload.spans_per_trace);
    std::fprintf(stderr,
                 "query: built %.0f spans in %.1f s wall (%.0f spans/s), %.1f CPU-s (%.0f "
                 "spans/CPU-s; writers: %.1f CPU-s generating, %.1f CPU-s in Write = %.0f "
                 "spans/CPU-s); compaction %.1f s\n",
                 built_spans, build_wall, built_spans / std::max(build_wall, 1e-9), build_cpu,
                 built_spans / std::max(build_cpu, 1e-9), build_generate_cpu, build_write_cpu,
                 built_spans / std::max(build_write_cpu, 1e-9), compact_seconds);
  }
  const uint64_t disk_bytes = store->Stats().disk_bytes;
  const uint64_t stored_spans = written_traces * static_cast<uint64_t>(workload.spans_per_trace);
  // The traces' start times actually present.
  const int64_t data_end_ns =
      start_ns + workload.trace_spacing_ns * static_cast<int64_t>(written_traces);

  // ---- Trace by ID ----
  std::mt19937_64 rng(workload.seed * 7919 + 17);
  std::uniform_int_distribution<uint64_t> pick(0, written_traces - 1);
  query::QueryService service(store.get(), Clock::Real());
  Series get{"get_trace"};
  Series api_get{"api_get_trace"};
  api_get.how = "GET /api/traces/{traceID}";
  // --detail: where the CPU of a trace-by-ID goes (render alone; decode on heap vs Arena, the
  // decode including freeing the decoded objects).
  Series render{"detail_render_jaeger"};
  Series decode_heap{"detail_decode_heap"};
  Series decode_arena{"detail_decode_arena"};
  for (int i = -20; i < lookups; ++i) {
    const uint64_t k = pick(rng);
    const TraceId id = TraceId::FromBytes(gen.TraceIdBytes(k));
    const double c0 = ThreadCpuSeconds();
    const double t0 = WallSeconds();
    auto trace = store->GetTrace(id);
    const double ms = (WallSeconds() - t0) * 1e3;
    const double cms = (ThreadCpuSeconds() - c0) * 1e3;
    if (!trace.ok() || !trace->has_value()) {
      get.skipped =
          absl::StrCat("trace ", id.Hex(), " (index ", k,
                       ") not found: ", trace.ok() ? "nullopt" : trace.status().ToString());
      break;
    }
    const size_t n = CountSpans((*trace)->data);
    if (n != static_cast<size_t>(workload.spans_per_trace)) {
      get.skipped = absl::StrCat("trace ", id.Hex(), " has ", n, " spans, expected ",
                                 workload.spans_per_trace);
      break;
    }
    if (i >= 0) {
      get.ms.push_back(ms);
      get.cpu_ms.push_back(cms);
      get.results_sum += 1;
    }
    if (detail && i >= 0) {
      MeasureDetail(**trace, &render, &decode_heap, &decode_arena);
    }
    const http::Request req = MakeRequest("/api/traces/" + id.Hex(), {});
    const double ac0 = ThreadCpuSeconds();
    const double a0 = WallSeconds();
    const http::Response res = service.Handle(req);
    const double ams = (WallSeconds() - a0) * 1e3;
    const double acms = (ThreadCpuSeconds() - ac0) * 1e3;
    if (res.status != 200) {
      api_get.skipped =
          absl::StrCat(req.target, " answered ", res.status, ": ", res.body.substr(0, 200));
    } else if (i >= 0 && api_get.skipped.empty()) {
      api_get.ms.push_back(ams);
      api_get.cpu_ms.push_back(acms);
      api_get.results_sum += 1;
    }
  }

  // ---- Searches ----
  const int64_t window = 15ll * 60 * 1'000'000'000;
  std::vector<GeneratedSpan> spans_of;
  auto spec_for = [&](int kind, int i) {
    SearchSpec spec;
    spec.start_ns = start_ns - 3600ll * 1'000'000'000;
    spec.end_ns = data_end_ns + 3600ll * 1'000'000'000;
    if (kind == 0) {
      spec.service = gen.service_name(static_cast<uint32_t>(i % workload.services));
      spec.min_duration_ns = 2'000'000'000;
    } else if (kind == 1) {
      gen.Generate(pick(rng), &spans_of);
      const auto& root = spans_of.back();  // export order: the root ends last
      spec.service = gen.service_name(root.service);
      for (const auto& kv : root.span.attributes()) {
        if (kv.key() == "user.id" || !spec.attribute) {
          spec.attribute.emplace(kv.key(), kv.value().string_value());
          if (kv.key() == "user.id") break;
        }
      }
    } else {
      const int64_t room = std::max<int64_t>(1, data_end_ns - start_ns - window);
      spec.start_ns = start_ns + static_cast<int64_t>(rng() % static_cast<uint64_t>(room));
      spec.end_ns = spec.start_ns + window;
    }
    return spec;
  };
  const char* kNames[] = {"service_min_duration", "service_attribute", "time_only"};
  std::vector<Series> results;
  for (int kind = 0; kind < 3; ++kind) {
    Series find{absl::StrCat("find_", kNames[kind])};
    Series api{absl::StrCat("api_search_", kNames[kind])};
    int chosen = -1;
    for (int i = -5; i < searches; ++i) {
      const SearchSpec spec = spec_for(kind, i < 0 ? i + 5 : i);
      if (find.skipped.empty()) {
        const double c0 = ThreadCpuSeconds();
        const double t0 = WallSeconds();
        absl::StatusOr<size_t> n = FindTraces(store.get(), spec);
        const double ms = (WallSeconds() - t0) * 1e3;
        const double cms = (ThreadCpuSeconds() - c0) * 1e3;
        if (!n.ok()) {
          find.skipped = n.status().ToString();
        } else if (i >= 0) {
          find.ms.push_back(ms);
          find.cpu_ms.push_back(cms);
          find.results_sum += static_cast<double>(*n);
        }
      }
      if (api.skipped.empty()) {
        std::vector<http::Request> candidates = ApiCandidates(spec);
        std::string refusals;
        if (chosen < 0) {
          for (size_t c = 0; c < candidates.size() && chosen < 0; ++c) {
            const http::Response res = service.Handle(candidates[c]);
            if (res.status == 200) {
              chosen = static_cast<int>(c);
            } else {
              absl::StrAppend(&refusals, refusals.empty() ? "" : "; ", candidates[c].path, " ",
                              res.status, " ", res.body.substr(0, 160));
            }
          }
          if (chosen < 0) {
            api.skipped = refusals;
            continue;
          }
          api.how = candidates[chosen].target;
        }
        const double c0 = ThreadCpuSeconds();
        const double t0 = WallSeconds();
        const http::Response res = service.Handle(candidates[chosen]);
        const double ms = (WallSeconds() - t0) * 1e3;
        const double cms = (ThreadCpuSeconds() - c0) * 1e3;
        if (res.status != 200) {
          api.skipped = absl::StrCat(candidates[chosen].target, " answered ", res.status, ": ",
                                     res.body.substr(0, 200));
        } else if (i >= 0) {
          api.ms.push_back(ms);
          api.cpu_ms.push_back(cms);
          api.results_sum += static_cast<double>(CountResults(res.body));
        }
      }
    }
    results.push_back(std::move(find));
    results.push_back(std::move(api));
  }

  get.Print();
  api_get.Print();
  if (detail) {
    render.Print();
    decode_heap.Print();
    decode_arena.Print();
  }
  for (const Series& s : results) s.Print();
  std::fprintf(stderr, "query: store %.1f MB on disk = %.1f bytes/span\n",
               static_cast<double>(disk_bytes) / 1e6,
               static_cast<double>(disk_bytes) / static_cast<double>(stored_spans));

  JsonLine json;
  json.Add("bench", "query")
      .Add("workload", DescribeWorkload(workload))
      .Add("traces", written_traces)
      .Add("spans", stored_spans)
      .Add("planned_spans", traces * static_cast<uint64_t>(workload.spans_per_trace))
      .Add("build_budget_seconds", budget)
      .Add("reused", reused)
      .Add("build_wall_seconds", build_wall)
      .Add("build_cpu_seconds", build_cpu)
      .Add("build_spans_per_cpu_second",
           build_cpu > 0 ? static_cast<double>(stored_spans) / build_cpu : 0.0)
      .Add("build_spans_per_wall_second",
           build_wall > 0 ? static_cast<double>(stored_spans) / build_wall : 0.0)
      .Add("build_generate_cpu_seconds", build_generate_cpu)
      .Add("build_write_cpu_seconds", build_write_cpu)
      .Add("build_writers", static_cast<uint64_t>(writers))
      .Add("build_batch_traces", static_cast<uint64_t>(batch))
      .Add("start_span_minutes", minutes)
      .Add("build_clock", real_clock || reused ? "real" : "data")
      .Add("compact_seconds", compact_seconds)
      .Add("disk_bytes", disk_bytes)
      .Add("disk_bytes_per_span",
           static_cast<double>(disk_bytes) / static_cast<double>(stored_spans));
  get.AddTo(&json);
  api_get.AddTo(&json);
  if (detail) {
    render.AddTo(&json);
    decode_heap.AddTo(&json);
    decode_arena.AddTo(&json);
  }
  for (const Series& s : results) s.AddTo(&json);
  std::printf("%s\n", json.str().c_str());
  if (absl::Status s = store->Close(); !s.ok()) {
    std::cerr << "tailtrace-bench-query: close: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
