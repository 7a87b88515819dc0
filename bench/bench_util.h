#pragma once

// Small helpers shared by the benchmark binaries: command lines (CLI11 with the tools' common
// conventions), CPU and wall clocks, percentiles and the JSON line writer. Benchmarks print
// exactly one JSON summary line on stdout (last line) so that bench/run.sh can pick figures out of
// it with sed.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"

namespace tailtrace::bench {

// A command line with the conventions every bench tool shares: --name value or --name=value;
// a flag given twice takes its last value (so that run.sh's LOADGEN_FLAGS can override the
// flags run.sh gives itself); --help prints every flag with its default.
std::unique_ptr<CLI::App> NewCommandLine(const std::string& program, const std::string& summary);

// Parses argv. Returns -1 when the tool should run; otherwise the exit code after printing the
// help (0) or a bad command line with the reason (2).
[[nodiscard]] int ParseCommandLine(CLI::App& app, int argc, char** argv);

// A whole number, also written as 2e6 (counts of spans).
CLI::Option* AddInt(CLI::App& app, const std::string& name, int64_t* value,
                    const std::string& help);
CLI::Option* AddInt(CLI::App& app, const std::string& name, int* value, const std::string& help);
CLI::Option* AddInt(CLI::App& app, const std::string& name, uint64_t* value,
                    const std::string& help);
// A duration in seconds: "10s", "500ms", "2m", "1h", "100us" or a bare number of seconds.
CLI::Option* AddSeconds(CLI::App& app, const std::string& name, double* seconds,
                        const std::string& help);
// true or false; the flag alone means true: --compact, --compact=false, --compact false.
CLI::Option* AddBool(CLI::App& app, const std::string& name, bool* value, const std::string& help);

// CPU seconds (user + system) of the whole process, all threads.
double ProcessCpuSeconds();
// CPU seconds of the calling thread.
double ThreadCpuSeconds();
// Monotonic wall clock in seconds.
double WallSeconds();
// Wall clock in Unix nanoseconds.
int64_t UnixNanos();

// Peak resident set size of this process (VmHWM) in bytes; 0 if unknown.
uint64_t PeakRssBytes();
// Bytes of heap in use (mallinfo2().uordblks + hblkhd).
uint64_t HeapInUseBytes();

// p in [0, 100]; nearest-rank on a copy sorted by the caller. Empty input gives 0.
double Percentile(const std::vector<double>& sorted, double p);

// One flat JSON object built field by field, e.g. {"bench":"floor","spans":100}, written by
// rapidjson's Writer (strings escaped, numbers in their shortest exact form; NaN and infinity as
// null). The one JSON writer of the bench tools.
class JsonLine {
 public:
  JsonLine();
  ~JsonLine();
  JsonLine(const JsonLine&) = delete;
  JsonLine& operator=(const JsonLine&) = delete;

  JsonLine& Add(std::string_view key, std::string_view value);
  JsonLine& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonLine& Add(std::string_view key, const std::string& value) {
    return Add(key, std::string_view(value));
  }
  JsonLine& Add(std::string_view key, double value);
  JsonLine& Add(std::string_view key, int64_t value);
  JsonLine& Add(std::string_view key, uint64_t value);
  JsonLine& Add(std::string_view key, int value) { return Add(key, static_cast<int64_t>(value)); }
  JsonLine& Add(std::string_view key, bool value);
  // The object so far, closed: {"key":value,...}.
  std::string str() const;

 private:
  class Writer;
  std::unique_ptr<Writer> writer_;
};

// A 64-bit checksum as the 16 hex digits the tools print.
std::string Hex64(uint64_t value);

}  // namespace tailtrace::bench
