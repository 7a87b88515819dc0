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

int Main(int argc, char** argv) {
  std::map<std::string, std::string> known = {
      {"target", "host:port of the receiver (default 127.0.0.1:4317 for grpc, :4318 for http)"},
      {"protocol", "grpc or http (OTLP/HTTP protobuf) (default grpc)"},
      {"spans", "total spans to send (default 1000000; 0 with --duration = until the duration)"},
      {"duration", "send for this long instead (e.g. 30s); with --spans, whichever ends first"},
      {"connections", "TCP connections (default 2)"},
      {"inflight", "gRPC requests in flight per connection (default 4)"},
      {"threads", "gRPC client threads (default 1)"},
      {"pool-spans",
       "spans pre-generated and cycled with fresh trace IDs (default min(spans, 262144))"},
      {"max-retries", "retries of a refused request before giving up (default 1000)"},
      {"timeout", "deadline of one request (default 30s)"},
      {"quiet", "no human-readable report on stderr"},
  };
  AddWorkloadFlags(&known);
  Flags flags("tailtrace-loadgen",
              "Sends multi-service OTLP traces to tailtraced (or any OTLP receiver) and reports\n"
              "spans sent/accepted, errors by kind, request latency and throughput. The last\n"
              "stdout line is a JSON summary.",
              known);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;

  const std::string protocol = flags.String("protocol", "grpc");
  if (protocol != "grpc" && protocol != "http") {
    std::cerr << "tailtrace-loadgen: --protocol must be grpc or http, got " << protocol << "\n";
    return 2;
  }
  SenderOptions options;
  options.target = flags.String("target", protocol == "grpc" ? "127.0.0.1:4317" : "127.0.0.1:4318");
  options.connections = static_cast<int>(flags.Int("connections", options.connections));
  options.inflight = std::max(1, static_cast<int>(flags.Int("inflight", options.inflight)));
  options.threads = static_cast<int>(flags.Int("threads", options.threads));
  options.max_retries = static_cast<int>(flags.Int("max-retries", options.max_retries));
  options.timeout_seconds = flags.Seconds("timeout", options.timeout_seconds);
  const double duration = flags.Seconds("duration", 0);
  const int64_t spans = flags.Int("spans", duration > 0 ? 0 : 1'000'000);
  if (spans <= 0 && duration <= 0) {
    std::cerr << "tailtrace-loadgen: give --spans N (> 0) or --duration\n";
    return 2;
  }
  const bool quiet = flags.Bool("quiet", false);
  const WorkloadOptions workload = WorkloadFromFlags(flags);
  const uint64_t pool_spans = static_cast<uint64_t>(
      flags.Int("pool-spans", spans > 0 ? std::min<int64_t>(spans, 262'144) : 262'144));

  const RequestPool pool = BuildRequestPool(workload, pool_spans);
  if (!quiet) {
    std::fprintf(stderr,
                 "loadgen: generated %zu requests, %llu spans, %llu traces, %.1f bytes/span on "
                 "the wire in %.2f s\n",
                 pool.requests.size(), static_cast<unsigned long long>(pool.spans),
                 static_cast<unsigned long long>(pool.traces),
                 static_cast<double>(pool.bytes) / static_cast<double>(pool.spans),
                 pool.generate_seconds);
  }

  const uint64_t total_requests = spans > 0 ? pool.RequestsFor(static_cast<uint64_t>(spans)) : 0;
  const double cpu0 = ProcessCpuSeconds();
  const double start = WallSeconds();
  SendPlan plan(&pool, total_requests, duration > 0 ? start + duration : 0);
  SenderStats stats = protocol == "grpc" ? RunGrpc(options, &plan) : RunHttp(options, &plan);
  const double wall = WallSeconds() - start;
  const double cpu = ProcessCpuSeconds() - cpu0;

  std::sort(stats.latencies_ms.begin(), stats.latencies_ms.end());
  const double p50 = Percentile(stats.latencies_ms, 50);
  const double p99 = Percentile(stats.latencies_ms, 99);
  const double pmax = stats.latencies_ms.empty() ? 0 : stats.latencies_ms.back();
  const double rate = wall > 0 ? static_cast<double>(stats.spans_accepted) / wall : 0;
  std::string errors;
  uint64_t error_count = 0;
  for (const auto& [kind, n] : stats.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ",", kind, "=", n);
    error_count += n;
  }

  if (!quiet) {
    std::fprintf(stderr,
                 "loadgen: %s %s, %d connections: %llu requests (%llu ok), %llu spans sent, "
                 "%llu accepted, %llu rejected, %llu failed, %llu retries\n",
                 protocol.c_str(), options.target.c_str(), options.connections,
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
                 rate, wall, static_cast<double>(stats.bytes_accepted) / wall / 1e6, p50, p99, pmax,
                 cpu);
    if (!errors.empty()) std::fprintf(stderr, "loadgen: errors: %s\n", errors.c_str());
    if (!stats.first_error.empty()) {
      std::fprintf(stderr, "loadgen: first error: %s\n", stats.first_error.c_str());
    }
  }

  JsonLine json;
  json.Add("tool", "tailtrace-loadgen")
      .Add("protocol", protocol)
      .Add("target", options.target)
      .Add("workload", DescribeWorkload(workload))
      .Add("connections", options.connections)
      .Add("inflight", protocol == "grpc" ? options.inflight : 1)
      .Add("requests", stats.requests)
      .Add("requests_ok", stats.requests_ok)
      .Add("spans_sent", stats.spans_sent)
      .Add("spans_accepted", stats.spans_accepted)
      .Add("spans_rejected", stats.spans_rejected)
      .Add("spans_failed", stats.spans_failed)
      .Add("bytes_accepted", stats.bytes_accepted)
      .Add("wire_bytes_per_span",
           stats.spans_accepted
               ? static_cast<double>(stats.bytes_accepted) /
                     static_cast<double>(stats.spans_accepted + stats.spans_rejected)
               : 0.0)
      .Add("retries", stats.retries)
      .Add("errors_total", error_count)
      .Add("errors", errors)
      .Add("first_error", stats.first_error)
      .Add("wall_seconds", wall)
      .Add("spans_per_second", rate)
      .Add("latency_p50_ms", p50)
      .Add("latency_p99_ms", p99)
      .Add("latency_max_ms", pmax)
      .Add("loadgen_cpu_seconds", cpu)
      .Add("pool_spans", pool.spans)
      .Add("generate_seconds", pool.generate_seconds);
  std::printf("%s\n", json.str().c_str());
  std::fflush(stdout);
  if (stats.requests == 0 || stats.spans_failed > 0) return 1;
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
