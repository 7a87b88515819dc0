#pragma once

// Small helpers shared by the benchmark binaries: command lines (CLI11 with the tools' common
// conventions), CPU and wall clocks, percentiles and the JSON line writer. Benchmarks print
// exactly one JSON summary line on stdout (last line) so that bench/run.sh can pick figures out of
// it with sed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
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

// The hand-written parser the tools used before CLI11; removed once none uses it.
// --name=value or --name value; --flag alone is "true". Unknown flags are an error, reported with
// the flag's name and the list of known ones.
class Flags {
 public:
  // `known`: flag name (without dashes) -> help text (shown by --help).
  Flags(std::string program, std::string summary, std::map<std::string, std::string> known);

  // Parses argv. Returns false after printing help (exit 0, *exit_code = 0) or an error
  // (*exit_code = 2).
  [[nodiscard]] bool Parse(int argc, char** argv, int* exit_code);

  bool Has(std::string_view name) const;
  std::string String(std::string_view name, std::string_view def) const;
  // Exit(2) with a message naming the flag when the value is not a number.
  int64_t Int(std::string_view name, int64_t def) const;
  double Double(std::string_view name, double def) const;
  bool Bool(std::string_view name, bool def) const;
  // "10s", "500ms", "2m", "1h", "100us" or a bare number of seconds.
  double Seconds(std::string_view name, double def) const;

  // The command line as given, for the results table.
  const std::string& command_line() const { return command_line_; }

 private:
  [[noreturn]] void Fail(std::string_view name, std::string_view why) const;

  std::string program_;
  std::string summary_;
  std::map<std::string, std::string> known_;
  std::map<std::string, std::string, std::less<>> values_;
  std::string command_line_;
};

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

}  // namespace tailtrace::bench
