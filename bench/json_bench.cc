// tailtrace-bench-json: decoding OTLP/JSON, the parser choices of issue 10. Each canonical
// workload request (512 spans, as an SDK's OTLP/HTTP JSON exporter sends them) is rendered to
// JSON once and then read by one of:
//
//   decode:             otlp_json::ParseExportRequest, what the HTTP receiver runs: json::Document
//                       (rapidjson without its full-precision and validation paths, own UTF-8
//                       and number checks) plus the walk into protobuf messages.
//   rapidjson_hardened: json::Document::Parse alone (the parse half of `decode`).
//   rapidjson_legacy:   the parse the decoder did before (rapidjson in place with full precision
//                       and encoding validation; crashes on some inputs), for reference.
//   simdjson:           simdjson 3 DOM parse with a fresh parser per request (so its buffers are
//                       freed with the request, as bounded memory requires).
//   simdjson_reused:    simdjson DOM parse with one parser kept across requests.
// The parse-only modes also walk the whole document (every value, every string's bytes), so that
// each reads what the decoder would read.
//
// Figures: spans per CPU-second of one thread, and the peak memory of decoding one large body
// (--memory-spans spans in one request) per body byte: the growth of the peak RSS (VmHWM, reset
// through /proc/self/clear_refs) in a forked child that parses the body once, the body itself
// excluded.

#include <sys/wait.h>
#include <unistd.h>

#include <malloc.h>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/workload.h"
#include "proto/json_document.h"
#include "proto/otlp_json.h"
#include "rapidjson/document.h"
#include "simdjson.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

const char* const kModes[] = {"decode", "rapidjson_hardened", "rapidjson_legacy", "simdjson",
                              "simdjson_reused"};

// Counts values and string bytes of a rapidjson document, iteratively.
uint64_t Walk(const rapidjson::Value& root) {
  uint64_t sum = 0;
  std::vector<const rapidjson::Value*> stack = {&root};
  while (!stack.empty()) {
    const rapidjson::Value* v = stack.back();
    stack.pop_back();
    ++sum;
    if (v->IsString()) {
      sum += v->GetStringLength() + static_cast<uint8_t>(v->GetString()[0]);
    } else if (v->IsArray()) {
      for (const auto& e : v->GetArray()) stack.push_back(&e);
    } else if (v->IsObject()) {
      for (const auto& m : v->GetObject()) {
        sum += m.name.GetStringLength();
        stack.push_back(&m.value);
      }
    }
  }
  return sum;
}

uint64_t Walk(simdjson::dom::element root) {
  uint64_t sum = 0;
  std::vector<simdjson::dom::element> stack = {root};
  while (!stack.empty()) {
    const simdjson::dom::element v = stack.back();
    stack.pop_back();
    ++sum;
    switch (v.type()) {
      case simdjson::dom::element_type::STRING: {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) break;
        sum += s.size() + (s.empty() ? 0 : static_cast<uint8_t>(s[0]));
        break;
      }
      case simdjson::dom::element_type::ARRAY: {
        simdjson::dom::array array;
        if (v.get_array().get(array) != simdjson::SUCCESS) break;
        for (simdjson::dom::element e : array) stack.push_back(e);
        break;
      }
      case simdjson::dom::element_type::OBJECT: {
        simdjson::dom::object object;
        if (v.get_object().get(object) != simdjson::SUCCESS) break;
        for (simdjson::dom::key_value_pair m : object) {
          sum += m.key.size();
          stack.push_back(m.value);
        }
        break;
      }
      default:
        break;
    }
  }
  return sum;
}

// Reads one body in `mode`; returns a checksum (0 on failure).
class Reader {
 public:
  uint64_t Read(const std::string& mode, const std::string& body) {
    if (mode == "decode") {
      ExportTraceServiceRequest req;
      if (!otlp_json::ParseExportRequest(body, &req).ok()) return 0;
      uint64_t n = 1;
      for (const auto& rs : req.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
      }
      return n;
    }
    if (mode == "rapidjson_hardened") {
      json::Document doc;
      if (!doc.Parse(body).ok()) return 0;
      return Walk(doc.root());
    }
    if (mode == "rapidjson_legacy") {
      std::string buf = body;
      rapidjson::Document doc;
      constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                                  rapidjson::kParseValidateEncodingFlag |
                                  rapidjson::kParseFullPrecisionFlag;
      doc.ParseInsitu<kFlags>(buf.data());
      if (doc.HasParseError()) return 0;
      return Walk(doc);
    }
    const simdjson::padded_string padded(body);
    if (mode == "simdjson") {
      simdjson::dom::parser parser;
      simdjson::dom::element root;
      if (parser.parse(padded).get(root) != simdjson::SUCCESS) return 0;
      return Walk(root);
    }
    simdjson::dom::element root;
    if (reused_.parse(padded).get(root) != simdjson::SUCCESS) return 0;
    return Walk(root);
  }

 private:
  simdjson::dom::parser reused_;
};

uint64_t RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

// Peak RSS growth while a forked child reads `body` once in `mode`; 0 if unknown.
uint64_t PeakBytes(const std::string& mode, const std::string& body) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    malloc_trim(0);
    { std::ofstream("/proc/self/clear_refs") << "5"; }
    const uint64_t before = RssBytes();
    Reader reader;
    const bool ok = reader.Read(mode, body) != 0;
    const uint64_t peak = PeakRssBytes();
    const uint64_t grew = ok && peak > before ? peak - before : 0;
    (void)!write(fds[1], &grew, sizeof grew);
    _exit(0);
  }
  close(fds[1]);
  uint64_t grew = 0;
  if (read(fds[0], &grew, sizeof grew) != sizeof grew) grew = 0;
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return grew;
}

int Main(int argc, char** argv) {
  int64_t spans_flag = 500'000;
  int64_t pool_spans = 20'000;
  int64_t memory_spans_flag = 50'000;
  std::string mode = "all";
  WorkloadOptions workload;
  auto app = NewCommandLine("tailtrace-bench-json",
                            "Decoding OTLP/JSON: spans per CPU-second and peak memory per body "
                            "byte of the\nhardened rapidjson decoder and simdjson.");
  AddInt(*app, "--spans", &spans_flag, "spans read in each mode");
  AddInt(*app, "--pool-spans", &pool_spans, "spans pre-generated and cycled");
  AddInt(*app, "--memory-spans", &memory_spans_flag,
         "spans in the one large body of the memory figure");
  app->add_option("--mode", mode,
                  "decode, rapidjson_hardened, rapidjson_legacy, simdjson, simdjson_reused or all")
      ->capture_default_str();
  AddWorkloadFlags(*app, &workload);
  if (const int code = ParseCommandLine(*app, argc, argv); code >= 0) return code;
  const uint64_t spans = static_cast<uint64_t>(std::max<int64_t>(spans_flag, 1));
  std::vector<std::string> modes;
  for (const char* m : kModes) {
    if (mode == "all" || mode == m) modes.emplace_back(m);
  }
  if (modes.empty()) {
    std::cerr << "tailtrace-bench-json: unknown --mode " << mode << "\n";
    return 2;
  }
  workload.start_unix_ns = 1'700'000'000'000'000'000;
  const RequestPool pool =
      BuildRequestPool(workload, static_cast<uint64_t>(std::max<int64_t>(pool_spans, 1)));
  std::vector<std::string> bodies;
  uint64_t json_bytes = 0;
  for (const std::string& wire : pool.requests) {
    ExportTraceServiceRequest req;
    req.ParseFromString(wire);
    bodies.push_back(otlp_json::ExportRequestToJson(req));
    json_bytes += bodies.back().size();
  }
  // The memory body: requests merged until --memory-spans spans.
  ExportTraceServiceRequest big;
  const uint64_t memory_spans = static_cast<uint64_t>(memory_spans_flag);
  for (uint64_t k = 0, n = 0; n < memory_spans; ++k) {
    ExportTraceServiceRequest req;
    req.ParseFromString(pool.requests[k % pool.requests.size()]);
    big.MergeFrom(req);
    n += pool.span_counts[k % pool.requests.size()];
  }
  const std::string big_body = otlp_json::ExportRequestToJson(big);
  big.Clear();

  JsonLine line;
  line.Add("bench", "json").Add("workload", DescribeWorkload(workload));
  line.Add("json_bytes_per_span",
           static_cast<double>(json_bytes) / static_cast<double>(pool.spans));
  line.Add("memory_body_bytes", static_cast<uint64_t>(big_body.size()));
  bool ok = true;
  Reader reader;
  for (const std::string& m : modes) {
    uint64_t read = 0, checksum = 0;
    const uint64_t requests = pool.RequestsFor(spans);
    const double t0 = ThreadCpuSeconds();
    for (uint64_t k = 0; k < requests; ++k) {
      const size_t i = static_cast<size_t>(k % bodies.size());
      const uint64_t c = reader.Read(m, bodies[i]);
      ok = ok && c != 0;
      checksum += c;
      read += pool.span_counts[i];
    }
    const double cpu = ThreadCpuSeconds() - t0;
    const double rate = cpu > 0 ? static_cast<double>(read) / cpu : 0;
    const double mib_s = cpu > 0 ? static_cast<double>(json_bytes) * static_cast<double>(requests) /
                                       static_cast<double>(bodies.size()) / cpu / (1 << 20)
                                 : 0;
    const uint64_t peak = PeakBytes(m, big_body);
    const double per_byte = static_cast<double>(peak) / static_cast<double>(big_body.size());
    std::fprintf(stderr,
                 "%-19s %.0f spans/CPU-s (%.0f MiB/CPU-s), peak %.1f MiB for a %.1f MiB body "
                 "= %.2f bytes per body byte\n",
                 m.c_str(), rate, mib_s, static_cast<double>(peak) / (1 << 20),
                 static_cast<double>(big_body.size()) / (1 << 20), per_byte);
    line.Add(m + "_spans_per_cpu_second", rate)
        .Add(m + "_mib_per_cpu_second", mib_s)
        .Add(m + "_peak_bytes_per_body_byte", per_byte);
  }
  line.Add("ok", ok);
  std::printf("%s\n", line.str().c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
