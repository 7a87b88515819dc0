#include "bench/micro_bench.h"

#include <iostream>

namespace tailtrace::bench {
namespace {

// Google Benchmark's console table, on stderr, keeping every run's figures.
class CollectingReporter final : public benchmark::ConsoleReporter {
 public:
  CollectingReporter() : ConsoleReporter(OO_Tabular) {
    SetOutputStream(&std::cerr);
    SetErrorStream(&std::cerr);
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      Keep(run);
    }
  }

  std::vector<MicroResult> results;

 private:
  void Keep(const Run& run) {
    MicroResult r;
    r.name = run.run_name.function_name;
    r.cpu_seconds = run.cpu_accumulated_time;
    r.checksum = run.report_label;
    if (run.error_occurred) r.error = run.error_message.empty() ? "failed" : run.error_message;
    for (const auto& [name, counter] : run.counters) {
      if (name == "spans") {
        r.spans = static_cast<uint64_t>(counter.value);
      } else if (name == "spans_per_cpu_s") {
        r.spans_per_cpu_second = counter.value;
      } else {
        r.counters[name] = counter.value;
      }
    }
    for (MicroResult& old : results) {
      if (old.name == r.name) {
        old = std::move(r);  // a later repetition
        return;
      }
    }
    results.push_back(std::move(r));
  }
};

}  // namespace

int ParseMicroBenchmarkFlags(CLI::App& app, int argc, char** argv) {
  app.allow_extras();
  app.footer(
      "Google Benchmark's flags are accepted too, e.g. --benchmark_filter=REGEX (which "
      "benchmarks run),\n--benchmark_repetitions=N, --benchmark_out=FILE "
      "--benchmark_out_format=json. --spans sets the\niterations, so --benchmark_min_time does "
      "not apply.");
  if (const int code = ParseCommandLine(app, argc, argv); code >= 0) return code;
  std::vector<std::string> rest = app.remaining();
  std::vector<char*> args = {argv[0]};
  for (std::string& arg : rest) args.push_back(arg.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  return -1;
}

void ReportSpans(benchmark::State& state, uint64_t spans, uint64_t checksum) {
  state.counters["spans"] = benchmark::Counter(static_cast<double>(spans));
  state.counters["spans_per_cpu_s"] =
      benchmark::Counter(static_cast<double>(spans), benchmark::Counter::kIsRate);
  state.SetLabel(Hex64(checksum));
}

std::vector<MicroResult> RunMicroBenchmarks() {
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return std::move(reporter.results);
}

bool AddMicroResults(const std::vector<MicroResult>& results, JsonLine* json) {
  bool ok = true;
  for (const MicroResult& r : results) {
    json->Add(r.name + "_spans", r.spans)
        .Add(r.name + "_cpu_seconds", r.cpu_seconds)
        .Add(r.name + "_spans_per_cpu_second", r.spans_per_cpu_second)
        .Add(r.name + "_checksum", r.checksum);
    for (const auto& [name, value] : r.counters) json->Add(r.name + "_" + name, value);
    if (!r.error.empty()) {
      json->Add(r.name + "_error", r.error);
      ok = false;
    }
  }
  return ok;
}

}  // namespace tailtrace::bench
