// tailtrace-bench-scan: reading an OTLP request, the scanner vs protobuf. Each canonical
// workload request (512 spans of one service, as an SDK exporter sends them) is copied into a
// receive buffer (with fresh trace IDs every pass over the pool, as the load generator sends) and
// then read by one of:
//
//   scan:         ScanExportRequest into a reused WireRequest (wire format and UTF-8 checks,
//                 span IDs validated, every span's range recorded, resource and scope keys).
//   parse_reused: ExportTraceServiceRequest::ParseFromString onto one reused message.
//   parse_arena:  ParseFromString onto a message on a fresh arena per request.
//
// Reports spans per CPU-second of the one thread doing it (the buffer copy included in every
// mode) and the ratios scan / parse. A checksum of what was read (span count, trace-ID bytes,
// parents) shows that every mode saw the same spans.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "bench/bench_util.h"
#include "bench/workload.h"
#include "google/protobuf/arena.h"
#include "proto/otlp_wire.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

struct Result {
  uint64_t spans = 0;
  double cpu = 0;
  uint64_t checksum = 0;
  bool ok = true;
};

uint64_t Mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001B3ull; }

uint64_t Mix(uint64_t h, std::string_view trace_id, bool has_parent) {
  uint64_t low = 0;
  for (size_t i = 8; i < 16 && i < trace_id.size(); ++i) low = (low << 8) | uint8_t(trace_id[i]);
  return Mix(Mix(h, low), has_parent ? 1 : 2);
}

// Calls `read(buffer)` on request after request (cycling with fresh trace IDs) until `spans`
// spans were read; `read` returns the checksum contribution and may take the buffer.
template <typename Read>
Result Measure(const RequestPool& pool, uint64_t spans, Read read) {
  Result r;
  std::string buffer;
  const uint64_t requests = pool.RequestsFor(spans);
  const double t0 = ThreadCpuSeconds();
  for (uint64_t k = 0; k < requests; ++k) {
    const size_t i = static_cast<size_t>(k % pool.requests.size());
    const uint64_t cycle = k / pool.requests.size();
    buffer.resize(pool.requests[i].size());
    pool.Materialize(i, cycle, buffer.data());
    r.ok = read(buffer, &r.checksum) && r.ok;
    r.spans += pool.span_counts[i];
  }
  r.cpu = ThreadCpuSeconds() - t0;
  return r;
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> known = {
      {"spans", "spans read in each mode (default 2000000)"},
      {"pool-spans", "spans pre-generated and cycled with fresh trace IDs (default 65536)"},
      {"mode", "scan, parse_reused, parse_arena or all (default all)"},
  };
  AddWorkloadFlags(&known);
  Flags flags("tailtrace-bench-scan",
              "Reading OTLP requests: ScanExportRequest vs protobuf ParseFromString, spans per\n"
              "CPU-second of one thread.",
              known);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const uint64_t spans = static_cast<uint64_t>(std::max<int64_t>(flags.Int("spans", 2'000'000), 1));
  const std::string mode = flags.String("mode", "all");
  if (mode != "all" && mode != "scan" && mode != "parse_reused" && mode != "parse_arena") {
    std::cerr << "tailtrace-bench-scan: --mode must be scan, parse_reused, parse_arena or all\n";
    return 2;
  }
  WorkloadOptions workload = WorkloadFromFlags(flags);
  workload.start_unix_ns = 1'700'000'000'000'000'000;  // deterministic checksums
  const RequestPool pool = BuildRequestPool(
      workload, static_cast<uint64_t>(std::max<int64_t>(flags.Int("pool-spans", 65'536), 1)));

  JsonLine json;
  json.Add("bench", "scan").Add("workload", DescribeWorkload(workload));
  json.Add("bytes_per_span", static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  bool ok = true;
  double rates[3] = {0, 0, 0};
  auto report = [&](int slot, const std::string& name, const Result& r) {
    ok = ok && r.ok;
    const double rate = r.cpu > 0 ? static_cast<double>(r.spans) / r.cpu : 0;
    rates[slot] = rate;
    std::fprintf(stderr,
                 "%-12s %llu spans in %.3f CPU-s = %.0f spans/CPU-s (%.3f us per span), "
                 "checksum %016llx%s\n",
                 name.c_str(), static_cast<unsigned long long>(r.spans), r.cpu, rate,
                 r.spans > 0 ? r.cpu * 1e6 / static_cast<double>(r.spans) : 0,
                 static_cast<unsigned long long>(r.checksum), r.ok ? "" : " (a request FAILED)");
    char checksum[17];
    std::snprintf(checksum, sizeof(checksum), "%016llx",
                  static_cast<unsigned long long>(r.checksum));
    json.Add(name + "_spans", r.spans)
        .Add(name + "_cpu_seconds", r.cpu)
        .Add(name + "_spans_per_cpu_second", rate)
        .Add(name + "_checksum", checksum);
  };

  if (mode == "all" || mode == "scan") {
    WireRequest wire;
    report(0, "scan", Measure(pool, spans, [&](std::string& buffer, uint64_t* sum) {
             if (!ScanExportRequest(std::move(buffer), SpanLimits(), &wire).ok()) return false;
             for (const WireSpan& s : wire.spans) *sum = Mix(*sum, s.trace_id.view(), s.has_parent);
             buffer = std::move(wire.bytes);  // the next request reuses the receive buffer
             return true;
           }));
  }
  auto checksum_of = [](const ExportTraceServiceRequest& req, uint64_t* sum) {
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          *sum = Mix(*sum, s.trace_id(), !s.parent_span_id().empty());
        }
      }
    }
  };
  if (mode == "all" || mode == "parse_reused") {
    ExportTraceServiceRequest req;
    report(1, "parse_reused", Measure(pool, spans, [&](std::string& buffer, uint64_t* sum) {
             if (!req.ParseFromString(buffer)) return false;
             checksum_of(req, sum);
             return true;
           }));
  }
  if (mode == "all" || mode == "parse_arena") {
    report(2, "parse_arena", Measure(pool, spans, [&](std::string& buffer, uint64_t* sum) {
             google::protobuf::Arena arena;
             auto* req = google::protobuf::Arena::CreateMessage<ExportTraceServiceRequest>(&arena);
             if (!req->ParseFromString(buffer)) return false;
             checksum_of(*req, sum);
             return true;
           }));
  }
  if (rates[0] > 0 && rates[1] > 0) {
    std::fprintf(stderr, "scan / parse_reused = %.2fx\n", rates[0] / rates[1]);
    json.Add("scan_vs_parse_reused", rates[0] / rates[1]);
  }
  if (rates[0] > 0 && rates[2] > 0) {
    std::fprintf(stderr, "scan / parse_arena = %.2fx\n", rates[0] / rates[2]);
    json.Add("scan_vs_parse_arena", rates[0] / rates[2]);
  }
  json.Add("ok", ok);
  std::printf("%s\n", json.str().c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
