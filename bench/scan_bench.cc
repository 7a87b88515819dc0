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
// Google Benchmark times each mode over the requests --spans needs (a fixed iteration count of
// one request each) and reports spans per CPU-second of the process (one thread; the buffer copy
// included in every mode); the JSON line adds the ratios scan / parse. A checksum of what was read
// (span count, trace-ID bytes, parents), the benchmark's label, shows that every mode saw the same
// spans, and that a faster scanner reads what this one reads.

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/micro_bench.h"
#include "bench/workload.h"
#include "google/protobuf/arena.h"
#include "proto/otlp_wire.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

uint64_t Mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001B3ull; }

uint64_t Mix(uint64_t h, std::string_view trace_id, bool has_parent) {
  uint64_t low = 0;
  for (size_t i = 8; i < 16 && i < trace_id.size(); ++i) low = (low << 8) | uint8_t(trace_id[i]);
  return Mix(Mix(h, low), has_parent ? 1 : 2);
}

// A mode: reads the received request in `buffer` (and may take it), adding to the checksum;
// false when the request was refused.
using ReadFn = std::function<bool(std::string& buffer, uint64_t* checksum)>;

// One request per iteration, cycling over the pool with fresh trace IDs.
void MeasureReads(benchmark::State& state, const RequestPool& pool, const ReadFn& read) {
  std::string buffer;
  uint64_t checksum = 0;
  uint64_t spans = 0;
  uint64_t k = 0;
  bool ok = true;
  for (auto _ : state) {
    const size_t i = static_cast<size_t>(k % pool.requests.size());
    buffer.resize(pool.requests[i].size());
    pool.Materialize(i, k / pool.requests.size(), buffer.data());
    ok = read(buffer, &checksum) && ok;
    spans += pool.span_counts[i];
    ++k;
  }
  if (!ok) state.SkipWithError("a request FAILED");
  ReportSpans(state, spans, checksum);
}

void ChecksumOf(const ExportTraceServiceRequest& req, uint64_t* sum) {
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) *sum = Mix(*sum, s.trace_id(), !s.parent_span_id().empty());
    }
  }
}

// The modes, by name.
std::vector<std::pair<std::string, ReadFn>> Modes() {
  auto wire = std::make_shared<WireRequest>();
  auto reused = std::make_shared<ExportTraceServiceRequest>();
  return {
      {"scan",
       [wire](std::string& buffer, uint64_t* sum) {
         if (!ScanExportRequest(std::move(buffer), SpanLimits(), wire.get()).ok()) return false;
         for (const WireSpan& s : wire->spans) *sum = Mix(*sum, s.trace_id.view(), s.has_parent);
         buffer = std::move(wire->bytes);  // the next request reuses the receive buffer
         return true;
       }},
      {"parse_reused",
       [reused](std::string& buffer, uint64_t* sum) {
         if (!reused->ParseFromString(buffer)) return false;
         ChecksumOf(*reused, sum);
         return true;
       }},
      {"parse_arena",
       [](std::string& buffer, uint64_t* sum) {
         google::protobuf::Arena arena;
         auto* req = google::protobuf::Arena::CreateMessage<ExportTraceServiceRequest>(&arena);
         if (!req->ParseFromString(buffer)) return false;
         ChecksumOf(*req, sum);
         return true;
       }},
  };
}

// Adds (and prints) the rate of `a` over `b` when both ran.
void AddRatio(const std::vector<MicroResult>& results, const std::string& a, const std::string& b,
              JsonLine* json) {
  double ra = 0;
  double rb = 0;
  for (const MicroResult& r : results) {
    if (r.name == a) ra = r.spans_per_cpu_second;
    if (r.name == b) rb = r.spans_per_cpu_second;
  }
  if (ra <= 0 || rb <= 0) return;
  std::fprintf(stderr, "%s / %s = %.2fx\n", a.c_str(), b.c_str(), ra / rb);
  json->Add(a + "_vs_" + b, ra / rb);
}

int Main(int argc, char** argv) {
  int64_t spans = 2'000'000;
  int64_t pool_spans = 65'536;
  std::string mode = "all";
  WorkloadOptions workload;
  auto app = NewCommandLine("tailtrace-bench-scan",
                            "Reading OTLP requests: ScanExportRequest vs protobuf "
                            "ParseFromString, spans per\nCPU-second of one thread.");
  AddInt(*app, "--spans", &spans, "spans read in each mode");
  AddInt(*app, "--pool-spans", &pool_spans, "spans pre-generated and cycled with fresh trace IDs");
  app->add_option("--mode", mode, "scan, parse_reused, parse_arena or all")
      ->check(CLI::IsMember({"scan", "parse_reused", "parse_arena", "all"}))
      ->capture_default_str();
  AddWorkloadFlags(*app, &workload);
  if (const int code = ParseMicroBenchmarkFlags(*app, argc, argv); code >= 0) return code;
  workload.start_unix_ns = 1'700'000'000'000'000'000;  // deterministic checksums
  const RequestPool pool =
      BuildRequestPool(workload, static_cast<uint64_t>(std::max<int64_t>(pool_spans, 1)));
  const auto requests = static_cast<benchmark::IterationCount>(
      pool.RequestsFor(static_cast<uint64_t>(std::max<int64_t>(spans, 1))));
  for (auto& [name, read] : Modes()) {
    if (mode != "all" && mode != name) continue;
    benchmark::RegisterBenchmark(
        name.c_str(),
        [&pool, read = read](benchmark::State& state) { MeasureReads(state, pool, read); })
        ->Iterations(requests)
        ->MeasureProcessCPUTime()
        ->Unit(benchmark::kMillisecond);
  }
  const std::vector<MicroResult> results = RunMicroBenchmarks();

  JsonLine json;
  json.Add("bench", "scan").Add("workload", DescribeWorkload(workload));
  json.Add("bytes_per_span", static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  const bool ok = AddMicroResults(results, &json);
  AddRatio(results, "scan", "parse_reused", &json);
  AddRatio(results, "scan", "parse_arena", &json);
  json.Add("ok", ok);
  std::printf("%s\n", json.str().c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
