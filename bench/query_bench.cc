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
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/query_measure.h"
#include "bench/query_store_build.h"
#include "bench/workload.h"
#include "common/clock.h"
#include "query/query_service.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace::bench {
namespace {

// The command line, parsed.
struct QueryFlags {
  int64_t spans = 10'000'000;
  std::string path;
  bool reuse = false;
  int writers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int batch_traces = 0;  // 0: DefaultBatchTraces
  double minutes = 20;
  int64_t write_buffer_mb = 512;
  bool real_clock = false;
  int lookups = 1000;
  int searches = 100;
  bool compact = true;
  bool detail = false;
  double build_budget_s = 0;
  WorkloadOptions workload;
};

// Returns -1 to go on, else the exit code.
int ParseFlags(int argc, char** argv, QueryFlags* f) {
  auto app = NewCommandLine(
      "tailtrace-bench-query",
      "Builds a large RocksTraceStore and measures trace-by-ID and searches (limit 20).");
  AddInt(*app, "--spans", &f->spans, "spans in the store");
  app->add_option("--path", f->path, "store directory (removed first unless --reuse finds a match)")
      ->required();
  AddBool(*app, "--reuse", &f->reuse,
          "reuse the store at --path if it was built with the same parameters");
  AddInt(*app, "--writers", &f->writers,
         "writer threads while building, like the daemon's sampler shards")
      ->default_str("hardware threads");
  AddInt(*app, "--batch-traces", &f->batch_traces, "traces per RocksTraceStore::Write call")
      ->default_str(
          "16384 spans' worth, a shard's largest write, or fewer if they would start more than "
          "2 s apart");
  app->add_option("--minutes", f->minutes,
                  "the traces' start times span this many minutes, ending now; spans / this = "
                  "the rate of the daemon the store imitates")
      ->capture_default_str();
  AddInt(*app, "--write-buffer-mb", &f->write_buffer_mb,
         "StoreOptions::write_buffer_bytes, in MiB (the daemon's default is 64)");
  AddBool(*app, "--real-clock", &f->real_clock,
          "build on the real clock instead of one following the data (segments then depend on "
          "the benchmark's write speed)");
  AddInt(*app, "--lookups", &f->lookups, "trace-by-ID lookups measured");
  AddInt(*app, "--searches", &f->searches, "runs of each search measured");
  AddBool(*app, "--compact", &f->compact, "compact the store fully before measuring");
  AddBool(*app, "--detail", &f->detail,
          "also measure, per looked-up trace, its Jaeger rendering alone and the protobuf "
          "decoding of its spans on the heap and on an Arena");
  AddSeconds(*app, "--build-budget", &f->build_budget_s,
             "stop writing after this long (e.g. 240s) and measure the smaller store; 0 = no "
             "limit");
  f->workload.spans_per_trace = 50;
  AddWorkloadFlags(*app, &f->workload);
  if (const int code = ParseCommandLine(*app, argc, argv); code >= 0) return code;
  f->writers = std::max(1, f->writers);
  return -1;
}

// The store being measured, and how it came to be.
struct QueryRun {
  WorkloadOptions workload;
  uint64_t traces = 0;  // planned
  uint64_t written_traces = 0;
  int64_t start_ns = 0;
  bool reused = false;
  int batch = 1;
  std::unique_ptr<DataClock> data_clock;
  Clock* store_clock = nullptr;
  std::unique_ptr<TraceGenerator> gen;
  std::unique_ptr<storage::RocksTraceStore> store;  // last: closed before its clock goes
  QueryBuildResult built;
  double compact_seconds = 0;
};

std::string MarkerPath(const QueryFlags& flags) {
  return flags.path + "/tailtrace-bench-query.params";
}

// The parameters a reused store must have been built with.
std::string MarkerParams(const QueryFlags& flags, const QueryRun& run) {
  return absl::StrCat(DescribeWorkload(run.workload), " traces=", run.traces,
                      " minutes=", flags.minutes, " real_clock=", flags.real_clock);
}

// Decides reuse (--reuse and a marker with the same parameters) and opens the store; on a fresh
// build, removes what was at --path first. Returns -1 to go on, else the exit code.
int OpenStore(const QueryFlags& flags, QueryRun* run) {
  run->workload = flags.workload;
  run->traces = std::max<uint64_t>(
      1, static_cast<uint64_t>(flags.spans) / static_cast<uint64_t>(run->workload.spans_per_trace));
  run->written_traces = run->traces;
  if (flags.reuse) {
    std::ifstream marker(MarkerPath(flags));
    std::string line;
    int64_t stored_start = 0;
    uint64_t stored_traces = 0;
    if (std::getline(marker, line) && line == MarkerParams(flags, *run) &&
        marker >> stored_start >> stored_traces && stored_traces > 0) {
      run->start_ns = stored_start;
      run->written_traces = stored_traces;
      run->reused = true;
    }
  }
  const int64_t span_ns = std::max<int64_t>(1, static_cast<int64_t>(flags.minutes * 60e9));
  if (!run->reused) {
    std::error_code ec;
    std::filesystem::remove_all(flags.path, ec);
    run->start_ns = UnixNanos() - span_ns;
  }
  run->workload.start_unix_ns = run->start_ns;
  run->workload.trace_spacing_ns =
      std::max<int64_t>(1, span_ns / static_cast<int64_t>(run->traces));
  run->batch =
      std::max(1, flags.batch_traces > 0 ? flags.batch_traces : DefaultBatchTraces(run->workload));
  run->gen = std::make_unique<TraceGenerator>(run->workload);
  storage::StoreOptions options;
  options.path = flags.path;
  // Larger memtables than the daemon's (64 MiB) spare the build most of RocksDB's intermediate
  // compactions; the store is compacted fully before measuring, so what is measured is the same.
  options.write_buffer_bytes = static_cast<uint64_t>(flags.write_buffer_mb) << 20;
  // Writes happen at a trace's start + kDecisionDelayNs (on the data clock); a reused store is
  // read on the real clock.
  run->data_clock = std::make_unique<DataClock>(run->start_ns + kDecisionDelayNs);
  run->store_clock = run->reused || flags.real_clock ? Clock::Real() : run->data_clock.get();
  auto opened = storage::RocksTraceStore::Open(options, run->store_clock);
  if (!opened.ok()) {
    std::cerr << "tailtrace-bench-query: " << opened.status().message() << "\n";
    return 1;
  }
  run->store = std::move(*opened);
  return -1;
}

// Writes the traces (bench/query_store_build.h), compacts, and leaves the marker for --reuse.
// Returns -1 to go on, else the exit code.
int BuildStore(const QueryFlags& flags, QueryRun* run) {
  std::fprintf(stderr,
               "query: building a store of up to %llu traces x %d spans at %s (starts over %g "
               "min, %d writers, %d traces per write, %s clock) ...\n",
               static_cast<unsigned long long>(run->traces), run->workload.spans_per_trace,
               flags.path.c_str(), flags.minutes, flags.writers, run->batch,
               run->store_clock == run->data_clock.get() ? "data" : "real");
  QueryBuildOptions build;
  build.traces = run->traces;
  build.writers = flags.writers;
  build.batch_traces = run->batch;
  build.budget_seconds = flags.build_budget_s;
  absl::StatusOr<QueryBuildResult> built =
      BuildQueryStore(*run->gen, run->store.get(), run->data_clock.get(), build);
  if (!built.ok()) {
    std::cerr << "tailtrace-bench-query: building the store: " << built.status() << "\n";
    return 1;
  }
  run->built = *built;
  run->written_traces = built->written_traces;
  if (flags.compact) {
    const double t0 = WallSeconds();
    if (absl::Status s = run->store->CompactForTest(); !s.ok()) {
      std::cerr << "tailtrace-bench-query: compaction: " << s.message() << "\n";
      return 1;
    }
    run->compact_seconds = WallSeconds() - t0;
  }
  std::ofstream marker(MarkerPath(flags));
  marker << MarkerParams(flags, *run) << "\n"
         << run->start_ns << " " << run->written_traces << "\n";
  const double spans = static_cast<double>(run->written_traces * run->workload.spans_per_trace);
  const QueryBuildResult& b = run->built;
  std::fprintf(stderr,
               "query: built %.0f spans in %.1f s wall (%.0f spans/s), %.1f CPU-s (%.0f "
               "spans/CPU-s; writers: %.1f CPU-s generating, %.1f CPU-s in Write = %.0f "
               "spans/CPU-s); compaction %.1f s\n",
               spans, b.wall_seconds, spans / std::max(b.wall_seconds, 1e-9), b.cpu_seconds,
               spans / std::max(b.cpu_seconds, 1e-9), b.generate_cpu_seconds, b.write_cpu_seconds,
               spans / std::max(b.write_cpu_seconds, 1e-9), run->compact_seconds);
  return -1;
}

// The build's figures and the store's size, for the JSON line.
void AddBuild(const QueryFlags& flags, const QueryRun& run, JsonLine* json) {
  const uint64_t disk_bytes = run.store->Stats().disk_bytes;
  const uint64_t spans = run.written_traces * static_cast<uint64_t>(run.workload.spans_per_trace);
  const QueryBuildResult& b = run.built;
  json->Add("traces", run.written_traces)
      .Add("spans", spans)
      .Add("planned_spans", run.traces * static_cast<uint64_t>(run.workload.spans_per_trace))
      .Add("build_budget_seconds", flags.build_budget_s)
      .Add("reused", run.reused)
      .Add("build_wall_seconds", b.wall_seconds)
      .Add("build_cpu_seconds", b.cpu_seconds)
      .Add("build_spans_per_cpu_second",
           b.cpu_seconds > 0 ? static_cast<double>(spans) / b.cpu_seconds : 0.0)
      .Add("build_spans_per_wall_second",
           b.wall_seconds > 0 ? static_cast<double>(spans) / b.wall_seconds : 0.0)
      .Add("build_generate_cpu_seconds", b.generate_cpu_seconds)
      .Add("build_write_cpu_seconds", b.write_cpu_seconds)
      .Add("build_writers", static_cast<uint64_t>(flags.writers))
      .Add("build_batch_traces", static_cast<uint64_t>(run.batch))
      .Add("start_span_minutes", flags.minutes)
      .Add("build_clock", flags.real_clock || run.reused ? "real" : "data")
      .Add("compact_seconds", run.compact_seconds)
      .Add("disk_bytes", disk_bytes)
      .Add("disk_bytes_per_span", static_cast<double>(disk_bytes) / static_cast<double>(spans));
  std::fprintf(stderr, "query: store %.1f MB on disk = %.1f bytes/span\n",
               static_cast<double>(disk_bytes) / 1e6,
               static_cast<double>(disk_bytes) / static_cast<double>(spans));
}

int Main(int argc, char** argv) {
  QueryFlags flags;
  if (const int code = ParseFlags(argc, argv, &flags); code >= 0) return code;
  QueryRun run;
  if (const int code = OpenStore(flags, &run); code >= 0) return code;
  if (!run.reused) {
    if (const int code = BuildStore(flags, &run); code >= 0) return code;
  }
  query::QueryService service(run.store.get(), Clock::Real());
  QueryData data;
  data.store = run.store.get();
  data.service = &service;
  data.gen = run.gen.get();
  data.written_traces = run.written_traces;
  data.start_ns = run.start_ns;
  // The traces' start times actually present.
  data.data_end_ns =
      run.start_ns + run.workload.trace_spacing_ns * static_cast<int64_t>(run.written_traces);
  std::mt19937_64 rng(run.workload.seed * 7919 + 17);
  const LookupSeries lookups = MeasureLookups(data, flags.lookups, flags.detail, &rng);
  const std::vector<Series> searches = MeasureSearches(data, flags.searches, &rng);

  std::vector<const Series*> all = {&lookups.get, &lookups.api_get};
  if (flags.detail) {
    all.insert(all.end(), {&lookups.render, &lookups.decode_heap, &lookups.decode_arena});
  }
  for (const Series& s : searches) all.push_back(&s);
  for (const Series* s : all) s->Print();
  JsonLine json;
  json.Add("bench", "query").Add("workload", DescribeWorkload(run.workload));
  AddBuild(flags, run, &json);
  for (const Series* s : all) s->AddTo(&json);
  std::printf("%s\n", json.str().c_str());
  if (absl::Status s = run.store->Close(); !s.ok()) {
    std::cerr << "tailtrace-bench-query: close: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
