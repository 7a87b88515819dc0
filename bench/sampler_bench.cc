// tailtrace-bench-sampler: the sampler alone. Feeds pre-built requests through one
// collector::ShardCore (Add, then DecideDue after every request, then destroying the decided
// traces as the store writer would) on a simulated clock, and reports spans per CPU-second of the
// one thread doing it. Scanning the requests (ScanExportRequest, as the receivers do) is done
// beforehand and not timed; its own rate is reported beside (scan_spans_per_cpu_second) as a
// yardstick: the shard copies every span's bytes once and parses them once when its trace is
// decided.
//
// Also measures what buffered spans cost in memory: the heap growth of a ShardCore (past its
// fixed-size state) while it buffers --memory-spans spans (nothing decided), divided by their
// wire bytes.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <vector>

#include "bench/bench_util.h"
#include "bench/workload.h"
#include "collector/policies.h"
#include "collector/policy_config.h"
#include "collector/sampler.h"
#include "collector/shard.h"
#include "proto/otlp_wire.h"

namespace tailtrace::bench {
namespace {

// The sampler named by --sampler: "keep-all" or "p10" (the probabilistic policy, 10%).
absl::StatusOr<std::unique_ptr<collector::Sampler>> MakeSampler(const std::string& name) {
  if (name == "keep-all") return std::unique_ptr<collector::Sampler>(new collector::KeepAllSampler);
  if (name == "p10") {
    collector::PolicyConfig p10;
    p10.name = "p10";
    p10.type = collector::PolicyType::kProbabilistic;
    p10.probabilistic.sampling_percentage = 10;
    absl::StatusOr<collector::SamplerFactory> factory =
        collector::MakePolicySamplerFactory({p10}, false, nullptr);
    if (!factory.ok()) return factory.status();
    return (*factory)(0, 1);
  }
  return absl::InvalidArgumentError("--sampler must be keep-all or p10, got " + name);
}

struct SamplerFlags {
  int64_t spans = 2'000'000;
  std::string sampler = "keep-all";
  double interval_s = 0.010;
  int64_t memory_spans = 200'000;
  int64_t pool_spans = 0;  // 0: min(spans, 262144)
  WorkloadOptions workload;
};

// Returns -1 to go on, else the exit code.
int ParseFlags(int argc, char** argv, SamplerFlags* f) {
  auto app = NewCommandLine("tailtrace-bench-sampler",
                            "The sampler alone: collector::ShardCore Add + DecideDue, spans per "
                            "CPU-second of\none core, and heap bytes per buffered wire byte.");
  AddInt(*app, "--spans", &f->spans, "spans fed through the shard");
  app->add_option("--sampler", f->sampler, "keep-all or p10 (probabilistic policy, 10%)")
      ->capture_default_str();
  AddSeconds(*app, "--request-interval", &f->interval_s, "simulated time between requests")
      ->default_str("10ms");
  AddInt(*app, "--memory-spans", &f->memory_spans,
         "spans buffered for the memory measurement; 0 skips it");
  AddInt(*app, "--pool-spans", &f->pool_spans,
         "spans pre-generated and cycled with fresh trace IDs")
      ->default_str("min(spans, 262144)");
  AddWorkloadFlags(*app, &f->workload);
  if (const int code = ParseCommandLine(*app, argc, argv); code >= 0) return code;
  if (f->pool_spans <= 0) f->pool_spans = std::min<int64_t>(f->spans, 262'144);
  return -1;
}

// The throughput run's figures.
struct Throughput {
  uint64_t requests = 0;
  uint64_t fed = 0;
  double cpu = 0;
  double wall = 0;
  double scan_cpu = 0;
  uint64_t peak_buffered_bytes = 0;
  size_t peak_buffered_traces = 0;
  int64_t now = 0;  // the simulated clock at the end
  collector::ShardStats stats;
  bool ok = true;
};

constexpr size_t kChunk = 64;

// Materializes and scans requests r .. r + n - 1 (not timed as the sampler's work); adds their
// spans to t->fed.
bool ScanChunk(const RequestPool& pool, uint64_t r, size_t n, std::vector<WireRequest>* scanned,
               std::vector<std::vector<uint32_t>>* all_spans, Throughput* t) {
  std::string buffer;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (r + k) % pool.requests.size();
    buffer.resize(pool.requests[i].size());
    pool.Materialize(i, (r + k) / pool.requests.size(), buffer.data());
    if (!ScanExportRequest(std::move(buffer), &(*scanned)[k]).ok()) return false;
    (*all_spans)[k].resize((*scanned)[k].spans.size());
    std::iota((*all_spans)[k].begin(), (*all_spans)[k].end(), 0u);
    t->fed += pool.span_counts[i];
  }
  return true;
}

// Feeds --spans spans through one ShardCore: Add, DecideDue after every request, decided traces
// freed; at the end DecideAll.
Throughput MeasureThroughput(const SamplerFlags& flags, const RequestPool& pool,
                             std::unique_ptr<collector::Sampler> sampler) {
  Throughput t;
  collector::ShardOptions options;  // the daemon's defaults for one shard
  collector::ShardCore core(options, std::move(sampler));
  const int64_t interval_ns = static_cast<int64_t>(flags.interval_s * 1e9);
  t.requests = pool.RequestsFor(static_cast<uint64_t>(flags.spans));
  std::vector<WireRequest> scanned(kChunk);
  std::vector<std::vector<uint32_t>> all_spans(kChunk);
  std::vector<collector::DecidedTrace> out;
  t.now = 1'000'000'000;
  for (uint64_t r = 0; r < t.requests && t.ok; r += kChunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, t.requests - r));
    const double p0 = ThreadCpuSeconds();
    t.ok = ScanChunk(pool, r, n, &scanned, &all_spans, &t);
    const double c0 = ThreadCpuSeconds();
    t.scan_cpu += c0 - p0;
    const double w0 = WallSeconds();
    for (size_t k = 0; k < n && t.ok; ++k) {
      core.Add(scanned[k], all_spans[k], t.now, &out);
      t.now += interval_ns;
      core.DecideDue(t.now, &out);
      out.clear();
    }
    t.cpu += ThreadCpuSeconds() - c0;
    t.wall += WallSeconds() - w0;
    t.peak_buffered_bytes = std::max(t.peak_buffered_bytes, core.buffered_bytes());
    t.peak_buffered_traces = std::max(t.peak_buffered_traces, core.buffered_traces());
  }
  const double c0 = ThreadCpuSeconds();
  core.DecideAll(t.now, &out);
  out.clear();
  t.cpu += ThreadCpuSeconds() - c0;
  t.stats = core.stats();
  return t;
}

// The memory run's figures.
struct Memory {
  uint64_t fed = 0;
  uint64_t wire_bytes = 0;
  uint64_t heap_bytes = 0;
  double heap_per_wire = 0;
  double accounted_per_wire = 0;
};

// The heap growth of a ShardCore that buffers `spans` spans (nothing decided), from requests
// `base` on (so their trace IDs are new).
Memory MeasureMemory(const RequestPool& pool, int64_t spans, uint64_t base, int64_t now) {
  Memory m;
  collector::ShardOptions hold;
  hold.decision_wait_ns = INT64_MAX / 4;
  hold.decision_wait_after_root_received_ns = INT64_MAX / 4;
  hold.max_buffer_bytes = UINT64_MAX / 4;
  hold.max_traces = UINT64_MAX / 4;
  hold.maximum_trace_size_bytes = UINT64_MAX / 4;
  auto holder = std::make_unique<collector::ShardCore>(
      hold, std::unique_ptr<collector::Sampler>(new collector::KeepAllSampler));
  // After the shard's fixed-size state (its decision cache: about 4 MiB by default), which is not
  // the cost of buffered spans.
  const uint64_t heap0 = HeapInUseBytes();
  const uint64_t n = pool.RequestsFor(static_cast<uint64_t>(spans));
  {
    std::string buffer;
    WireRequest request;
    std::vector<uint32_t> request_spans;
    std::vector<collector::DecidedTrace> out;
    for (uint64_t r = 0; r < n; ++r) {
      const size_t i = (base + r) % pool.requests.size();
      buffer.resize(pool.requests[i].size());
      pool.Materialize(i, (base + r) / pool.requests.size(), buffer.data());
      m.wire_bytes += buffer.size();
      m.fed += pool.span_counts[i];
      if (!ScanExportRequest(std::move(buffer), &request).ok()) break;
      request_spans.resize(request.spans.size());
      std::iota(request_spans.begin(), request_spans.end(), 0u);
      holder->Add(request, request_spans, now, &out);
    }
  }
  m.heap_bytes = HeapInUseBytes() - heap0;
  m.heap_per_wire = static_cast<double>(m.heap_bytes) / static_cast<double>(m.wire_bytes);
  m.accounted_per_wire =
      static_cast<double>(holder->buffered_bytes()) / static_cast<double>(m.wire_bytes);
  return m;
}

void PrintThroughput(const SamplerFlags& flags, const Throughput& t) {
  const double rate = t.cpu > 0 ? static_cast<double>(t.fed) / t.cpu : 0;
  const double scan_rate = t.scan_cpu > 0 ? static_cast<double>(t.fed) / t.scan_cpu : 0;
  std::fprintf(stderr,
               "sampler %s: %llu spans in %.3f CPU-s = %.0f spans/CPU-s (%.0f per wall-s); kept "
               "%llu traces / %llu spans, dropped %llu traces; peak buffer %zu traces, %.1f MB\n",
               flags.sampler.c_str(), static_cast<unsigned long long>(t.fed), t.cpu, rate,
               t.wall > 0 ? static_cast<double>(t.fed) / t.wall : 0,
               static_cast<unsigned long long>(t.stats.traces_kept),
               static_cast<unsigned long long>(t.stats.spans_kept),
               static_cast<unsigned long long>(t.stats.traces_dropped), t.peak_buffered_traces,
               static_cast<double>(t.peak_buffered_bytes) / 1e6);
  std::fprintf(stderr,
               "yardstick: scanning the requests as the receivers do (untimed above) ran at %.0f "
               "spans/CPU-s; the sampler costs %.2fx a scan\n",
               scan_rate, rate > 0 ? scan_rate / rate : 0);
}

void PrintJson(const SamplerFlags& flags, const RequestPool& pool, const Throughput& t,
               const Memory& m) {
  const collector::ShardStats& stats = t.stats;
  JsonLine json;
  json.Add("bench", "sampler")
      .Add("sampler", flags.sampler)
      .Add("workload", DescribeWorkload(flags.workload))
      .Add("spans", t.fed)
      .Add("cpu_seconds", t.cpu)
      .Add("spans_per_cpu_second", t.cpu > 0 ? static_cast<double>(t.fed) / t.cpu : 0.0)
      .Add("spans_per_wall_second", t.wall > 0 ? static_cast<double>(t.fed) / t.wall : 0.0)
      .Add("scan_spans_per_cpu_second",
           t.scan_cpu > 0 ? static_cast<double>(t.fed) / t.scan_cpu : 0.0)
      .Add("traces_kept", stats.traces_kept)
      .Add("traces_dropped", stats.traces_dropped)
      .Add("spans_kept", stats.spans_kept)
      .Add("spans_dropped", stats.spans_dropped)
      .Add("late_spans_kept", stats.late_spans_kept)
      .Add("late_spans_dropped", stats.late_spans_dropped)
      .Add("early_decisions_memory", stats.early_decisions_memory)
      .Add("early_decisions_trace_count", stats.early_decisions_trace_count)
      .Add("peak_buffered_traces", static_cast<uint64_t>(t.peak_buffered_traces))
      .Add("peak_buffered_bytes", t.peak_buffered_bytes)
      .Add("memory_spans", m.fed)
      .Add("memory_wire_bytes", m.wire_bytes)
      .Add("memory_heap_bytes", m.heap_bytes)
      .Add("memory_heap_per_wire_byte", m.heap_per_wire)
      .Add("memory_accounted_per_wire_byte", m.accounted_per_wire)
      .Add("wire_bytes_per_span",
           static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  std::printf("%s\n", json.str().c_str());
}

int Main(int argc, char** argv) {
  SamplerFlags flags;
  if (const int code = ParseFlags(argc, argv, &flags); code >= 0) return code;
  const RequestPool pool =
      BuildRequestPool(flags.workload, static_cast<uint64_t>(flags.pool_spans));
  absl::StatusOr<std::unique_ptr<collector::Sampler>> sampler = MakeSampler(flags.sampler);
  if (!sampler.ok()) {
    std::cerr << "tailtrace-bench-sampler: " << sampler.status().message() << "\n";
    JsonLine json;
    json.Add("bench", "sampler")
        .Add("sampler", flags.sampler)
        .Add("skipped", sampler.status().ToString());
    std::printf("%s\n", json.str().c_str());
    return 0;
  }
  const Throughput t = MeasureThroughput(flags, pool, std::move(*sampler));
  if (!t.ok) {
    std::cerr << "tailtrace-bench-sampler: generated request does not scan\n";
    return 1;
  }
  PrintThroughput(flags, t);
  Memory m;
  if (flags.memory_spans > 0) {
    // Past the pool's cycles the throughput run used, so these trace IDs are new.
    const uint64_t base = (t.requests / pool.requests.size() + 1) * pool.requests.size();
    m = MeasureMemory(pool, flags.memory_spans, base, t.now);
    std::fprintf(stderr,
                 "sampler memory: %llu spans buffered, %.1f MB on the wire, %.1f MB of heap = "
                 "%.2fx wire (the shard accounts %.2fx)\n",
                 static_cast<unsigned long long>(m.fed), static_cast<double>(m.wire_bytes) / 1e6,
                 static_cast<double>(m.heap_bytes) / 1e6, m.heap_per_wire, m.accounted_per_wire);
  }
  PrintJson(flags, pool, t, m);
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
