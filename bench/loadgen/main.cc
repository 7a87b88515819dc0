// tailtrace-loadgen: sends realistic multi-service traces to an OTLP receiver over gRPC or HTTP
// and reports what was accepted, the errors, the request latency and the throughput. The last line
// on stdout is a JSON summary; the human-readable report goes to stderr.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "bench/loadgen/sender.h"
#include "bench/workload.h"

namespace tailtrace::bench {
namespace {

// The command line, parsed.
struct LoadgenFlags {
  std::string protocol = "grpc";
  SenderOptions sender;
  int64_t spans = -1;  // -1: 1,000,000, or 0 with --duration
  double duration = 0;
  int64_t pool_spans = 0;  // 0: min(spans, 262144)
  bool quiet = false;
  WorkloadOptions workload;
};

// Returns -1 to go on, else the exit code.
int ParseFlags(int argc, char** argv, LoadgenFlags* f) {
  auto app = NewCommandLine(
      "tailtrace-loadgen",
      "Sends multi-service OTLP traces to tailtraced (or any OTLP receiver) and reports\n"
      "spans sent/accepted, errors by kind, request latency and throughput. The last\n"
      "stdout line is a JSON summary.");
  app->add_option("--target", f->sender.target, "host:port of the receiver")
      ->default_str("127.0.0.1:4317 for grpc, :4318 for http");
  app->add_option("--protocol", f->protocol, "grpc or http (OTLP/HTTP protobuf)")
      ->check(CLI::IsMember({"grpc", "http"}))
      ->capture_default_str();
  AddInt(*app, "--spans", &f->spans, "total spans to send (0 with --duration = until the duration)")
      ->default_str("1000000");
  AddSeconds(*app, "--duration", &f->duration,
             "send for this long instead (e.g. 30s); with --spans, whichever ends first");
  AddInt(*app, "--connections", &f->sender.connections, "TCP connections");
  AddInt(*app, "--inflight", &f->sender.inflight, "gRPC requests in flight per connection");
  AddInt(*app, "--threads", &f->sender.threads, "gRPC client threads");
  AddInt(*app, "--pool-spans", &f->pool_spans,
         "spans pre-generated and cycled with fresh trace IDs")
      ->default_str("min(spans, 262144)");
  AddInt(*app, "--max-retries", &f->sender.max_retries,
         "retries of a refused request before giving up");
  AddSeconds(*app, "--timeout", &f->sender.timeout_seconds, "deadline of one request");
  AddBool(*app, "--quiet", &f->quiet, "no human-readable report on stderr");
  AddWorkloadFlags(*app, &f->workload);
  if (const int code = ParseCommandLine(*app, argc, argv); code >= 0) return code;
  if (app->count("--target") == 0 && f->protocol == "http") f->sender.target = "127.0.0.1:4318";
  f->sender.inflight = std::max(1, f->sender.inflight);
  if (f->spans < 0) f->spans = f->duration > 0 ? 0 : 1'000'000;
  if (f->spans <= 0 && f->duration <= 0) {
    std::cerr << "tailtrace-loadgen: give --spans N (> 0) or --duration\n";
    return 2;
  }
  if (f->pool_spans <= 0)
    f->pool_spans = f->spans > 0 ? std::min<int64_t>(f->spans, 262'144) : 262'144;
  return -1;
}

// The figures of one run.
struct Summary {
  double wall = 0;
  double cpu = 0;
  double p50 = 0;
  double p99 = 0;
  double pmax = 0;
  double rate = 0;
  std::string errors;  // kind=count,...
  uint64_t error_count = 0;
};

Summary Summarize(SenderStats* stats, double wall, double cpu) {
  Summary s;
  s.wall = wall;
  s.cpu = cpu;
  std::sort(stats->latencies_ms.begin(), stats->latencies_ms.end());
  s.p50 = Percentile(stats->latencies_ms, 50);
  s.p99 = Percentile(stats->latencies_ms, 99);
  s.pmax = stats->latencies_ms.empty() ? 0 : stats->latencies_ms.back();
  s.rate = wall > 0 ? static_cast<double>(stats->spans_accepted) / wall : 0;
  for (const auto& [kind, n] : stats->errors) {
    absl::StrAppend(&s.errors, s.errors.empty() ? "" : ",", kind, "=", n);
    s.error_count += n;
  }
  return s;
}

void PrintReport(const LoadgenFlags& flags, const SenderStats& stats, const Summary& s) {
  std::fprintf(stderr,
               "loadgen: %s %s, %d connections: %llu requests (%llu ok), %llu spans sent, "
               "%llu accepted, %llu rejected, %llu failed, %llu retries\n",
               flags.protocol.c_str(), flags.sender.target.c_str(), flags.sender.connections,
               static_cast<unsigned long long>(stats.requests),
               static_cast<unsigned long long>(stats.requests_ok),
               static_cast<unsigned long long>(stats.spans_sent),
               static_cast<unsigned long long>(stats.spans_accepted),
               static_cast<unsigned long long>(stats.spans_rejected),
               static_cast<unsigned long long>(stats.spans_failed),
               static_cast<unsigned long long>(stats.retries));
  std::fprintf(stderr,
               "loadgen: %.0f spans/s over %.2f s (%.1f MB/s); request latency p50 %.2f ms, "
               "p99 %.2f ms, max %.2f ms; loadgen CPU %.2f s\n",
               s.rate, s.wall, static_cast<double>(stats.bytes_accepted) / s.wall / 1e6, s.p50,
               s.p99, s.pmax, s.cpu);
  if (!s.errors.empty()) std::fprintf(stderr, "loadgen: errors: %s\n", s.errors.c_str());
  if (!stats.first_error.empty()) {
    std::fprintf(stderr, "loadgen: first error: %s\n", stats.first_error.c_str());
  }
}

void PrintJson(const LoadgenFlags& flags, const RequestPool& pool, const SenderStats& stats,
               const Summary& s) {
  const uint64_t offered = stats.spans_accepted + stats.spans_rejected;
  JsonLine json;
  json.Add("tool", "tailtrace-loadgen")
      .Add("protocol", flags.protocol)
      .Add("target", flags.sender.target)
      .Add("workload", DescribeWorkload(flags.workload))
      .Add("connections", flags.sender.connections)
      .Add("inflight", flags.protocol == "grpc" ? flags.sender.inflight : 1)
      .Add("requests", stats.requests)
      .Add("requests_ok", stats.requests_ok)
      .Add("spans_sent", stats.spans_sent)
      .Add("spans_accepted", stats.spans_accepted)
      .Add("spans_rejected", stats.spans_rejected)
      .Add("spans_failed", stats.spans_failed)
      .Add("bytes_accepted", stats.bytes_accepted)
      .Add("wire_bytes_per_span", stats.spans_accepted ? static_cast<double>(stats.bytes_accepted) /
                                                             static_cast<double>(offered)
                                                       : 0.0)
      .Add("retries", stats.retries)
      .Add("errors_total", s.error_count)
      .Add("errors", s.errors)
      .Add("first_error", stats.first_error)
      .Add("wall_seconds", s.wall)
      .Add("spans_per_second", s.rate)
      .Add("latency_p50_ms", s.p50)
      .Add("latency_p99_ms", s.p99)
      .Add("latency_max_ms", s.pmax)
      .Add("loadgen_cpu_seconds", s.cpu)
      .Add("pool_spans", pool.spans)
      .Add("generate_seconds", pool.generate_seconds);
  std::printf("%s\n", json.str().c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  LoadgenFlags flags;
  if (const int code = ParseFlags(argc, argv, &flags); code >= 0) return code;
  const RequestPool pool =
      BuildRequestPool(flags.workload, static_cast<uint64_t>(flags.pool_spans));
  if (!flags.quiet) {
    std::fprintf(stderr,
                 "loadgen: generated %zu requests, %llu spans, %llu traces, %.1f bytes/span on "
                 "the wire in %.2f s\n",
                 pool.requests.size(), static_cast<unsigned long long>(pool.spans),
                 static_cast<unsigned long long>(pool.traces),
                 static_cast<double>(pool.bytes) / static_cast<double>(pool.spans),
                 pool.generate_seconds);
  }

  const uint64_t total_requests =
      flags.spans > 0 ? pool.RequestsFor(static_cast<uint64_t>(flags.spans)) : 0;
  const double cpu0 = ProcessCpuSeconds();
  const double start = WallSeconds();
  SendPlan plan(&pool, total_requests, flags.duration > 0 ? start + flags.duration : 0);
  SenderStats stats =
      flags.protocol == "grpc" ? RunGrpc(flags.sender, &plan) : RunHttp(flags.sender, &plan);
  const Summary summary = Summarize(&stats, WallSeconds() - start, ProcessCpuSeconds() - cpu0);
  if (!flags.quiet) PrintReport(flags, stats, summary);
  PrintJson(flags, pool, stats, summary);
  if (stats.requests == 0 || stats.spans_failed > 0) return 1;
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
