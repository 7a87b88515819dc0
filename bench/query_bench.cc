// tailtrace-bench-query: builds a large store with the benchmark workload through
// TraceStore::Write (as the sampler shards write kept traces), then measures
//   - trace by ID: TraceStore::GetTrace of random traces, and GET /api/traces/{id} through the
//     query API (in process, JSON rendering included, no network);
//   - three searches, limit 20: service + minDuration, service + attribute, time only; through
//     TraceStore::FindTraces when this build's store has it (summaries only) and through the
//     Jaeger HTTP API (in process; full traces rendered), each reported as skipped with the reason
//     when this build cannot answer it.
// With --reuse, a store built earlier with the same parameters is used again.
//
// The store is a RocksTraceStore at --path (--backend rocksdb, the default) or a
// ClickHouseTraceStore (--backend clickhouse) in --clickhouse-database of the server at
// --clickhouse-endpoint: the database is dropped first, and "compacting" is OPTIMIZE TABLE ...
// FINAL on each of its tables (bench/query_clickhouse.h). With --clickhouse-pid, the server's CPU
// time is reported for the build and per call.
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
#include "bench/query_clickhouse.h"
#include "bench/query_measure.h"
#include "bench/query_store_build.h"
#include "bench/workload.h"
#include "common/clock.h"
#include "query/query_service.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace::bench {
namespace {

// The command line, parsed.
struct QueryFlags {
  int64_t spans = 10'000'000;
  std::string backend = "rocksdb";
  std::string clickhouse_endpoint;
  std::string clickhouse_database = "bench";
  int64_t clickhouse_pid = 0;
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
      "Builds a large trace store (RocksDB, or ClickHouse) and measures trace-by-ID and searches "
      "(limit 20).");
  AddInt(*app, "--spans", &f->spans, "spans in the store");
  app->add_option("--backend", f->backend, "the store: rocksdb (at --path) or clickhouse")
      ->check(CLI::IsMember({"rocksdb", "clickhouse"}))
      ->capture_default_str();
  app->add_option("--path", f->path,
                  "store directory (removed first unless --reuse finds a match); required with "
                  "--backend rocksdb");
  app->add_option("--clickhouse-endpoint", f->clickhouse_endpoint,
                  "with --backend clickhouse: the server's HTTP interface, http://host:port");
  app->add_option("--clickhouse-database", f->clickhouse_database,
                  "with --backend clickhouse: the database of the store (dropped first)")
      ->capture_default_str();
  AddInt(*app, "--clickhouse-pid", &f->clickhouse_pid,
         "with --backend clickhouse: the server's process ID (on this machine), to report its CPU "
         "time during the build and per call; 0 = not reported");
  AddBool(*app, "--reuse", &f->reuse,
          "reuse the store at --path if it was built with the same parameters");
  AddInt(*app, "--writers", &f->writers,
         "writer threads while building, like the daemon's sampler shards")
      ->default_str("hardware threads");
  AddInt(*app, "--batch-traces", &f->batch_traces, "traces per TraceStore::Write call")
      ->default_str(
          "16384 spans' worth, a shard's largest write, or (RocksDB) fewer if they would start "
          "more than 2 s apart");
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
  AddBool(*app, "--compact", &f->compact,
          "compact the store fully before measuring (ClickHouse: OPTIMIZE TABLE ... FINAL on each "
          "table, once its background merges stopped)");
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
  std::string bad;
  if (f->backend == "rocksdb" && f->path.empty()) bad = "--path is required with --backend rocksdb";
  if (f->backend == "clickhouse" && f->clickhouse_endpoint.empty()) {
    bad = "--clickhouse-endpoint is required with --backend clickhouse";
  }
  if (f->backend == "clickhouse" && f->reuse) {
    bad = "--reuse is for --backend rocksdb (a ClickHouse store is always built anew)";
  }
  if (f->backend == "clickhouse" && !storage::IsClickHouseIdentifier(f->clickhouse_database)) {
    bad = "--clickhouse-database: letters, digits and _, not starting with a digit";
  }
  if (!bad.empty()) {
    std::cerr << "tailtrace-bench-query: " << bad << "\n";
    return 2;
  }
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
  std::unique_ptr<ClickHouseAdmin> clickhouse_admin;  // --backend clickhouse
  QueryBuildResult built;
  double compact_seconds = 0;
  double build_server_cpu_seconds = -1;  // the ClickHouse server's, with --clickhouse-pid
  double compact_server_cpu_seconds = -1;
  storage::RocksTraceStore* rocks = nullptr;            // store, when it is RocksDB's
  storage::ClickHouseTraceStore* clickhouse = nullptr;  // store, when it is ClickHouse's
  std::unique_ptr<storage::TraceStore> store;           // last: closed before its clock goes
};

bool IsClickHouse(const QueryFlags& flags) { return flags.backend == "clickhouse"; }

// Where the store is, for messages.
std::string Where(const QueryFlags& flags) {
  return IsClickHouse(flags) ? absl::StrCat("ClickHouse ", flags.clickhouse_endpoint, " database ",
                                            flags.clickhouse_database)
                             : flags.path;
}

// The ClickHouse server's CPU seconds so far (--clickhouse-pid), or -1.
double ServerCpuSeconds(const QueryFlags& flags) {
  return IsClickHouse(flags) && flags.clickhouse_pid > 0 ? ProcessCpuSecondsOf(flags.clickhouse_pid)
                                                         : -1;
}

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
  if (IsClickHouse(flags)) {
    absl::StatusOr<ClickHouseAdmin> admin = ClickHouseAdmin::Connect(flags.clickhouse_endpoint);
    absl::StatusOr<std::string> dropped =
        admin.ok() ? admin->Query("DROP DATABASE IF EXISTS " + flags.clickhouse_database)
                   : absl::StatusOr<std::string>(admin.status());
    if (!dropped.ok()) {
      std::cerr << "tailtrace-bench-query: " << dropped.status().message() << "\n";
      return 1;
    }
    run->clickhouse_admin = std::make_unique<ClickHouseAdmin>(*std::move(admin));
  }
  if (!run->reused) {
    if (!IsClickHouse(flags)) {
      std::error_code ec;
      std::filesystem::remove_all(flags.path, ec);
    }
    run->start_ns = UnixNanos() - span_ns;
  }
  run->workload.start_unix_ns = run->start_ns;
  run->workload.trace_spacing_ns =
      std::max<int64_t>(1, span_ns / static_cast<int64_t>(run->traces));
  // ClickHouse: a shard's largest write by default. How much data time a write spans shapes only
  // the RocksDB store's index segments, and each ClickHouse Write waits for its INSERT (up to
  // flush_interval), so small writes would only slow the build down.
  const int default_batch =
      IsClickHouse(flags)
          ? std::max(1, kShardWriteSpans / std::max(1, run->workload.spans_per_trace))
          : DefaultBatchTraces(run->workload);
  run->batch = std::max(1, flags.batch_traces > 0 ? flags.batch_traces : default_batch);
  run->gen = std::make_unique<TraceGenerator>(run->workload);
  storage::StoreOptions options;
  options.path = flags.path;
  if (IsClickHouse(flags)) {
    options.backend = storage::StorageBackend::kClickHouse;
    options.clickhouse.endpoint = flags.clickhouse_endpoint;
    options.clickhouse.database = flags.clickhouse_database;
  }
  // Larger memtables than the daemon's (64 MiB) spare the build most of RocksDB's intermediate
  // compactions; the store is compacted fully before measuring, so what is measured is the same.
  options.write_buffer_bytes = static_cast<uint64_t>(flags.write_buffer_mb) << 20;
  // Writes happen at a trace's start + kDecisionDelayNs (on the data clock); a reused store is
  // read on the real clock.
  run->data_clock = std::make_unique<DataClock>(run->start_ns + kDecisionDelayNs);
  // A ClickHouse store runs on the real clock, as in the daemon: its write batching waits on the
  // store's clock (flush_interval), which the data clock would only move at the next write, and
  // nothing it keeps is laid out by write time but its daily partitions.
  run->store_clock = run->reused || flags.real_clock || IsClickHouse(flags) ? Clock::Real()
                                                                            : run->data_clock.get();
  if (IsClickHouse(flags)) {
    auto opened = storage::ClickHouseTraceStore::Open(options, run->store_clock);
    if (!opened.ok()) {
      std::cerr << "tailtrace-bench-query: " << opened.status().message() << "\n";
      return 1;
    }
    run->clickhouse = opened->get();
    run->store = std::move(*opened);
  } else {
    auto opened = storage::RocksTraceStore::Open(options, run->store_clock);
    if (!opened.ok()) {
      std::cerr << "tailtrace-bench-query: " << opened.status().message() << "\n";
      return 1;
    }
    run->rocks = opened->get();
    run->store = std::move(*opened);
  }
  return -1;
}

// Writes the traces (bench/query_store_build.h), compacts, and leaves the marker for --reuse.
// Returns -1 to go on, else the exit code.
int BuildStore(const QueryFlags& flags, QueryRun* run) {
  std::fprintf(stderr,
               "query: building a store of up to %llu traces x %d spans at %s (starts over %g "
               "min, %d writers, %d traces per write, %s clock) ...\n",
               static_cast<unsigned long long>(run->traces), run->workload.spans_per_trace,
               Where(flags).c_str(), flags.minutes, flags.writers, run->batch,
               run->store_clock == run->data_clock.get() ? "data" : "real");
  QueryBuildOptions build;
  build.traces = run->traces;
  build.writers = flags.writers;
  build.batch_traces = run->batch;
  build.budget_seconds = flags.build_budget_s;
  const double server0 = ServerCpuSeconds(flags);
  absl::StatusOr<QueryBuildResult> built =
      BuildQueryStore(*run->gen, run->store.get(), run->data_clock.get(), build);
  if (!built.ok()) {
    std::cerr << "tailtrace-bench-query: building the store: " << built.status() << "\n";
    return 1;
  }
  run->built = *built;
  run->written_traces = built->written_traces;
  const double server1 = ServerCpuSeconds(flags);
  if (server0 >= 0 && server1 >= 0) run->build_server_cpu_seconds = server1 - server0;
  if (flags.compact) {
    const double t0 = WallSeconds();
    absl::Status s = run->rocks != nullptr
                         ? run->rocks->CompactForTest()
                         : run->clickhouse_admin->MergeAll(flags.clickhouse_database);
    if (!s.ok()) {
      std::cerr << "tailtrace-bench-query: compaction: " << s.message() << "\n";
      return 1;
    }
    run->compact_seconds = WallSeconds() - t0;
    const double server2 = ServerCpuSeconds(flags);
    if (server1 >= 0 && server2 >= 0) run->compact_server_cpu_seconds = server2 - server1;
  }
  if (!IsClickHouse(flags)) {
    std::ofstream marker(MarkerPath(flags));
    marker << MarkerParams(flags, *run) << "\n"
           << run->start_ns << " " << run->written_traces << "\n";
  }
  const double spans = static_cast<double>(run->written_traces * run->workload.spans_per_trace);
  const QueryBuildResult& b = run->built;
  std::fprintf(stderr,
               "query: built %.0f spans in %.1f s wall (%.0f spans/s), %.1f CPU-s (%.0f "
               "spans/CPU-s; writers: %.1f CPU-s generating, %.1f CPU-s in Write = %.0f "
               "spans/CPU-s); compaction %.1f s\n",
               spans, b.wall_seconds, spans / std::max(b.wall_seconds, 1e-9), b.cpu_seconds,
               spans / std::max(b.cpu_seconds, 1e-9), b.generate_cpu_seconds, b.write_cpu_seconds,
               spans / std::max(b.write_cpu_seconds, 1e-9), run->compact_seconds);
  if (run->build_server_cpu_seconds >= 0) {
    std::fprintf(stderr,
                 "query: the ClickHouse server: %.1f CPU-s while building (%.0f spans per "
                 "CPU-s of the benchmark and the server), %.1f CPU-s merging\n",
                 run->build_server_cpu_seconds,
                 spans / std::max(b.cpu_seconds + run->build_server_cpu_seconds, 1e-9),
                 std::max(0.0, run->compact_server_cpu_seconds));
  }
  return -1;
}

// The build's figures and the store's size, for the JSON line. Returns false when the
// ClickHouse server cannot say the store's size.
bool AddBuild(const QueryFlags& flags, const QueryRun& run, JsonLine* json) {
  uint64_t disk_bytes = 0;
  json->Add("backend", flags.backend);
  if (run.clickhouse != nullptr) {
    absl::StatusOr<ClickHouseAdmin::Size> size =
        run.clickhouse_admin->DiskSize(flags.clickhouse_database);
    if (!size.ok()) {
      std::cerr << "tailtrace-bench-query: the store's size: " << size.status().message() << "\n";
      return false;
    }
    disk_bytes = size->bytes;
    json->Add("clickhouse_version", run.clickhouse->server_version())
        .Add("clickhouse_database", flags.clickhouse_database)
        .Add("clickhouse_parts", size->parts)
        .Add("clickhouse_disk_bytes_by_table", size->by_table);
    if (run.build_server_cpu_seconds >= 0) {
      json->Add("build_server_cpu_seconds", run.build_server_cpu_seconds);
    }
    if (run.compact_server_cpu_seconds >= 0) {
      json->Add("compact_server_cpu_seconds", run.compact_server_cpu_seconds);
    }
  } else {
    disk_bytes = run.store->Stats().disk_bytes;
  }
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
      .Add("build_clock", run.store_clock == Clock::Real() ? "real" : "data")
      .Add("compact_seconds", run.compact_seconds)
      .Add("disk_bytes", disk_bytes)
      .Add("disk_bytes_per_span", static_cast<double>(disk_bytes) / static_cast<double>(spans));
  std::fprintf(stderr, "query: store %.1f MB on disk = %.1f bytes/span\n",
               static_cast<double>(disk_bytes) / 1e6,
               static_cast<double>(disk_bytes) / static_cast<double>(spans));
  return true;
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
  if (ServerCpuSeconds(flags) >= 0) {
    data.server_cpu_seconds = [&flags] { return ServerCpuSeconds(flags); };
  }
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
  if (!AddBuild(flags, run, &json)) return 1;
  for (const Series* s : all) s->AddTo(&json);
  std::printf("%s\n", json.str().c_str());
  if (run.rocks != nullptr) {
    if (absl::Status s = run.rocks->Close(); !s.ok()) {
      std::cerr << "tailtrace-bench-query: close: " << s.message() << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
