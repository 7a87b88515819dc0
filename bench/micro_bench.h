#pragma once

// The micro-benchmarks' harness (tailtrace-bench-scan, tailtrace-bench-terms): Google Benchmark
// times them, and the bench tools' conventions hold around it: the tool's own flags (CLI11) next to
// Google Benchmark's --benchmark_* flags, its table on stderr, one JSON line on stdout.
//
// A benchmark registers with a fixed iteration count (the tool's --spans decides how much work it
// does, so that its checksum covers the same spans in every build) and MeasureProcessCPUTime(),
// and ends with ReportSpans.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "benchmark/benchmark.h"

namespace tailtrace::bench {

// Parses the tool's flags in `app` and Google Benchmark's --benchmark_* flags (named in --help).
// Returns -1 when the tool should run; otherwise the exit code (0 after --help, 2 on an error).
[[nodiscard]] int ParseMicroBenchmarkFlags(CLI::App& app, int argc, char** argv);

// What a benchmark that read `spans` spans reports: the counters "spans" and "spans_per_cpu_s"
// (spans per CPU-second: a rate over the CPU time Google Benchmark measured, the process's with
// MeasureProcessCPUTime()), and `checksum` (16 hex digits) as its label.
void ReportSpans(benchmark::State& state, uint64_t spans, uint64_t checksum);

// One benchmark's figures, as reported.
struct MicroResult {
  std::string name;  // the registered name, without Google Benchmark's suffixes
  uint64_t spans = 0;
  double cpu_seconds = 0;
  double spans_per_cpu_second = 0;
  std::string checksum;
  std::map<std::string, double> counters;  // the others, by name
  std::string error;                       // SkipWithError's message; empty when it ran
};

// Runs the registered benchmarks that --benchmark_filter selects, printing Google Benchmark's
// table on stderr. Returns their figures in run order (the last repetition of each).
std::vector<MicroResult> RunMicroBenchmarks();

// Adds NAME_spans, NAME_cpu_seconds, NAME_spans_per_cpu_second, NAME_checksum and NAME_COUNTER
// for every other counter, per result. Returns false if one of them failed.
bool AddMicroResults(const std::vector<MicroResult>& results, JsonLine* json);

}  // namespace tailtrace::bench
