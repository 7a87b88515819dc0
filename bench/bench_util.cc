#include "bench/bench_util.h"

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tailtrace::bench {

namespace {

// Rewrites a whole number for CLI11's integer conversion: decimal digits as they are (without
// leading zeros, which CLI11 would read as octal), 2e6-style values as digits.
std::string NormalizeWholeNumber(std::string& value) {
  size_t digits = value.size() > 0 && (value[0] == '-' || value[0] == '+') ? 1 : 0;
  if (value.size() > digits && value.find_first_not_of("0123456789", digits) == std::string::npos) {
    const size_t first = std::min(value.find_first_not_of('0', digits), value.size() - 1);
    value.erase(digits, first - digits);
    return "";
  }
  char* end = nullptr;
  const double d = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || d != std::floor(d) || std::fabs(d) > 9e18) {
    return "expected a whole number (e.g. 2000000 or 2e6), got \"" + value + "\"";
  }
  value = std::to_string(static_cast<int64_t>(d));
  return "";
}

// Rewrites "10s", "500ms", "2m", "1h", "100us" or a bare number as seconds.
std::string DurationToSeconds(std::string& value) {
  char* end = nullptr;
  const double d = std::strtod(value.c_str(), &end);
  if (end == value.c_str()) return "expected a duration like 30s, got \"" + value + "\"";
  const std::string unit(end);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "ms") scale = 1e-3;
  if (unit == "us") scale = 1e-6;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (scale == 0) return "unknown duration unit \"" + unit + "\" (use us, ms, s, m or h)";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d * scale);
  value = buf;
  return "";
}

}  // namespace

std::unique_ptr<CLI::App> NewCommandLine(const std::string& program, const std::string& summary) {
  auto app = std::make_unique<CLI::App>(summary, program);
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->get_formatter()->column_width(34);
  return app;
}

int ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return -1;
}

template <typename T>
static CLI::Option* AddWholeNumber(CLI::App& app, const std::string& name, T* value,
                                   const std::string& help) {
  return app.add_option(name, *value, help)
      ->transform(CLI::Validator(NormalizeWholeNumber, "", "whole number"))
      ->capture_default_str();
}

CLI::Option* AddInt(CLI::App& app, const std::string& name, int64_t* value,
                    const std::string& help) {
  return AddWholeNumber(app, name, value, help);
}

CLI::Option* AddInt(CLI::App& app, const std::string& name, int* value, const std::string& help) {
  return AddWholeNumber(app, name, value, help);
}

CLI::Option* AddInt(CLI::App& app, const std::string& name, uint64_t* value,
                    const std::string& help) {
  return AddWholeNumber(app, name, value, help);
}

CLI::Option* AddSeconds(CLI::App& app, const std::string& name, double* seconds,
                        const std::string& help) {
  return app.add_option(name, *seconds, help)
      ->transform(CLI::Validator(DurationToSeconds, "", "duration"))
      ->capture_default_str();
}

CLI::Option* AddBool(CLI::App& app, const std::string& name, bool* value, const std::string& help) {
  // A flag (alone: true) that also takes one value; "false" after it is that value. CLI11's help
  // shows no default for a flag: the text says it.
  return app.add_flag(name, *value, help + (*value ? " (default true)" : " (default false)"))
      ->expected(0, 1);
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t UnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

uint64_t HeapInUseBytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  if (index >= sorted.size()) index = sorted.size() - 1;
  return sorted[index];
}

class JsonLine::Writer {
 public:
  Writer() : writer(buffer) { writer.StartObject(); }
  void Key(std::string_view key) {
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  }

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer;
};

JsonLine::JsonLine() : writer_(std::make_unique<Writer>()) {}
JsonLine::~JsonLine() = default;

JsonLine& JsonLine::Add(std::string_view key, std::string_view value) {
  writer_->Key(key);
  writer_->writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  return *this;
}

JsonLine& JsonLine::Add(std::string_view key, double value) {
  writer_->Key(key);
  if (std::isfinite(value)) {
    writer_->writer.Double(value);
  } else {
    writer_->writer.Null();
  }
  return *this;
}

JsonLine& JsonLine::Add(std::string_view key, int64_t value) {
  writer_->Key(key);
  writer_->writer.Int64(value);
  return *this;
}

JsonLine& JsonLine::Add(std::string_view key, uint64_t value) {
  writer_->Key(key);
  writer_->writer.Uint64(value);
  return *this;
}

JsonLine& JsonLine::Add(std::string_view key, bool value) {
  writer_->Key(key);
  writer_->writer.Bool(value);
  return *this;
}

std::string JsonLine::str() const {
  return std::string(writer_->buffer.GetString(), writer_->buffer.GetSize()) + "}";
}

std::string Hex64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace tailtrace::bench
