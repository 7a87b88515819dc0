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

int Main(int argc, char** argv) {
  std::map<std::string, std::string> known = {
      {"spans", "spans fed through the shard (default 2000000)"},
      {"sampler", "keep-all or p10 (probabilistic policy, 10%) (default keep-all)"},
      {"request-interval", "simulated time between requests (default 10ms)"},
      {"memory-spans", "spans buffered for the memory measurement; 0 skips it (default 200000)"},
      {"pool-spans", "spans pre-generated and cycled with fresh trace IDs (default 262144)"},
  };
  AddWorkloadFlags(&known);
  Flags flags("tailtrace-bench-sampler",
              "The sampler alone: collector::ShardCore Add + DecideDue, spans per CPU-second of\n"
              "one core, and heap bytes per buffered wire byte.",
              known);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const int64_t spans = flags.Int("spans", 2'000'000);
  const std::string sampler_name = flags.String("sampler", "keep-all");
  const int64_t interval_ns = static_cast<int64_t>(flags.Seconds("request-interval", 0.010) * 1e9);
  const int64_t memory_spans = flags.Int("memory-spans", 200'000);
  const WorkloadOptions workload = WorkloadFromFlags(flags);
  const RequestPool pool = BuildRequestPool(
      workload, static_cast<uint64_t>(flags.Int("pool-spans", std::min<int64_t>(spans, 262'144))));

  absl::StatusOr<std::unique_ptr<collector::Sampler>> sampler = MakeSampler(sampler_name);
  if (!sampler.ok()) {
    std::cerr << "tailtrace-bench-sampler: " << sampler.status().message() << "\n";
    JsonLine json;
    json.Add("bench", "sampler")
        .Add("sampler", sampler_name)
        .Add("skipped", sampler.status().ToString());
    std::printf("%s\n", json.str().c_str());
    return 0;
  }

  // ---- Throughput ----
  collector::ShardOptions options;  // the daemon's defaults for one shard
  collector::ShardCore core(options, std::move(*sampler));
  const uint64_t total_requests = pool.RequestsFor(static_cast<uint64_t>(spans));
  constexpr size_t kChunk = 64;
  std::vector<WireRequest> scanned(kChunk);
  std::vector<std::vector<uint32_t>> all_spans(kChunk);
  std::vector<collector::DecidedTrace> out;
  std::string buffer;
  int64_t now = 1'000'000'000;
  double cpu = 0;
  double wall = 0;
  double scan_cpu = 0;
  uint64_t fed = 0;
  uint64_t decided_spans = 0;
  uint64_t peak_buffered_bytes = 0;
  size_t peak_buffered_traces = 0;
  for (uint64_t r = 0; r < total_requests; r += kChunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, total_requests - r));
    const double p0 = ThreadCpuSeconds();
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (r + k) % pool.requests.size();
      buffer.resize(pool.requests[i].size());
      pool.Materialize(i, (r + k) / pool.requests.size(), buffer.data());
      if (!ScanExportRequest(std::move(buffer), &scanned[k]).ok()) {
        std::cerr << "tailtrace-bench-sampler: generated request does not scan\n";
        return 1;
      }
      all_spans[k].resize(scanned[k].spans.size());
      std::iota(all_spans[k].begin(), all_spans[k].end(), 0u);
      fed += pool.span_counts[i];
    }
    const double c0 = ThreadCpuSeconds();
    scan_cpu += c0 - p0;
    const double w0 = WallSeconds();
    for (size_t k = 0; k < n; ++k) {
      core.Add(scanned[k], all_spans[k], now, &out);
      now += interval_ns;
      core.DecideDue(now, &out);
      for (const auto& t : out) decided_spans += t.span_count;
      out.clear();
    }
    cpu += ThreadCpuSeconds() - c0;
    wall += WallSeconds() - w0;
    peak_buffered_bytes = std::max(peak_buffered_bytes, core.buffered_bytes());
    peak_buffered_traces = std::max(peak_buffered_traces, core.buffered_traces());
  }
  {
    const double c0 = ThreadCpuSeconds();
    core.DecideAll(now, &out);
    for (const auto& t : out) decided_spans += t.span_count;
    out.clear();
    cpu += ThreadCpuSeconds() - c0;
  }
  const collector::ShardStats& stats = core.stats();
  const double rate = cpu > 0 ? static_cast<double>(fed) / cpu : 0;
  const double scan_rate = scan_cpu > 0 ? static_cast<double>(fed) / scan_cpu : 0;
  std::fprintf(stderr,
               "sampler %s: %llu spans in %.3f CPU-s = %.0f spans/CPU-s (%.0f per wall-s); kept "
               "%llu traces / %llu spans, dropped %llu traces; peak buffer %zu traces, %.1f MB\n",
               sampler_name.c_str(), static_cast<unsigned long long>(fed), cpu, rate,
               wall > 0 ? static_cast<double>(fed) / wall : 0,
               static_cast<unsigned long long>(stats.traces_kept),
               static_cast<unsigned long long>(stats.spans_kept),
               static_cast<unsigned long long>(stats.traces_dropped), peak_buffered_traces,
               static_cast<double>(peak_buffered_bytes) / 1e6);
  std::fprintf(stderr,
               "yardstick: scanning the requests as the receivers do (untimed above) ran at %.0f "
               "spans/CPU-s; the sampler costs %.2fx a scan\n",
               scan_rate, rate > 0 ? scan_rate / rate : 0);

  // ---- Memory per buffered span ----
  double heap_per_wire = 0;
  double accounted_per_wire = 0;
  uint64_t memory_wire_bytes = 0;
  uint64_t memory_heap_bytes = 0;
  uint64_t memory_fed = 0;
  if (memory_spans > 0) {
    collector::ShardOptions hold;
    hold.decision_wait_ns = INT64_MAX / 4;
    hold.decision_wait_after_root_received_ns = INT64_MAX / 4;
    hold.max_buffer_bytes = UINT64_MAX / 4;
    hold.max_traces = UINT64_MAX / 4;
    hold.maximum_trace_size_bytes = UINT64_MAX / 4;
    {
      auto holder = std::make_unique<collector::ShardCore>(
          hold, std::unique_ptr<collector::Sampler>(new collector::KeepAllSampler));
      // After the shard's fixed-size state (its decision cache: about 4 MiB by default), which
      // is not the cost of buffered spans.
      const uint64_t heap0 = HeapInUseBytes();
      const uint64_t n = pool.RequestsFor(static_cast<uint64_t>(memory_spans));
      // Offset into the pool's cycles so these trace IDs are new.
      const uint64_t base = (total_requests / pool.requests.size() + 1) * pool.requests.size();
      WireRequest request;
      std::vector<uint32_t> request_spans;
      for (uint64_t r = 0; r < n; ++r) {
        const size_t i = (base + r) % pool.requests.size();
        buffer.resize(pool.requests[i].size());
        pool.Materialize(i, (base + r) / pool.requests.size(), buffer.data());
        memory_wire_bytes += buffer.size();
        memory_fed += pool.span_counts[i];
        if (!ScanExportRequest(std::move(buffer), &request).ok()) return 1;
        request_spans.resize(request.spans.size());
        std::iota(request_spans.begin(), request_spans.end(), 0u);
        holder->Add(request, request_spans, now, &out);
      }
      request = WireRequest();
      buffer.clear();
      buffer.shrink_to_fit();
      memory_heap_bytes = HeapInUseBytes() - heap0;
      heap_per_wire =
          static_cast<double>(memory_heap_bytes) / static_cast<double>(memory_wire_bytes);
      accounted_per_wire =
          static_cast<double>(holder->buffered_bytes()) / static_cast<double>(memory_wire_bytes);
    }
    std::fprintf(stderr,
                 "sampler memory: %llu spans buffered, %.1f MB on the wire, %.1f MB of heap = "
                 "%.2fx wire (the shard accounts %.2fx)\n",
                 static_cast<unsigned long long>(memory_fed),
                 static_cast<double>(memory_wire_bytes) / 1e6,
                 static_cast<double>(memory_heap_bytes) / 1e6, heap_per_wire, accounted_per_wire);
  }

  JsonLine json;
  json.Add("bench", "sampler")
      .Add("sampler", sampler_name)
      .Add("workload", DescribeWorkload(workload))
      .Add("spans", fed)
      .Add("cpu_seconds", cpu)
      .Add("spans_per_cpu_second", rate)
      .Add("spans_per_wall_second", wall > 0 ? static_cast<double>(fed) / wall : 0.0)
      .Add("scan_spans_per_cpu_second", scan_rate)
      .Add("traces_kept", stats.traces_kept)
      .Add("traces_dropped", stats.traces_dropped)
      .Add("spans_kept", stats.spans_kept)
      .Add("spans_dropped", stats.spans_dropped)
      .Add("late_spans_kept", stats.late_spans_kept)
      .Add("late_spans_dropped", stats.late_spans_dropped)
      .Add("early_decisions_memory", stats.early_decisions_memory)
      .Add("early_decisions_trace_count", stats.early_decisions_trace_count)
      .Add("peak_buffered_traces", static_cast<uint64_t>(peak_buffered_traces))
      .Add("peak_buffered_bytes", peak_buffered_bytes)
      .Add("memory_spans", memory_fed)
      .Add("memory_wire_bytes", memory_wire_bytes)
      .Add("memory_heap_bytes", memory_heap_bytes)
      .Add("memory_heap_per_wire_byte", heap_per_wire)
      .Add("memory_accounted_per_wire_byte", accounted_per_wire)
      .Add("wire_bytes_per_span",
           static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  std::printf("%s\n", json.str().c_str());
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
