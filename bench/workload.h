#pragma once

// The benchmark workload: realistic multi-service traces, generated deterministically from a seed,
// and the OTLP requests that per-service SDK exporters would send for them. Shared by the load
// generator and the in-process benchmarks so that every figure is measured on the same bytes.
//
// A trace has one root span in an entry service (frontend or api-gateway) and a tree of child
// spans spread over the other services; spans of one trace therefore arrive in several requests
// from different services, each span when it ends (children before parents, the root last), as
// OpenTelemetry SDKs export them. A request holds the spans of one service (one ResourceSpans,
// one ScopeSpans), like a BatchSpanProcessor export.

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace::bench {

struct WorkloadOptions {
  // Seed of every random choice; the same options give the same bytes.
  // Default: 1
  uint64_t seed = 1;
  // Services (resources) spans are spread over.
  // Default: 10
  int services = 10;
  // Spans of every trace.
  // Default: 20
  int spans_per_trace = 20;
  // Attributes of every span (the last one is a db.statement padded to reach span_bytes).
  // Default: 10
  int attributes_per_span = 10;
  // Target serialized size of one span in a request: the Span message plus its tag and length.
  // Spans are never made smaller than their fields need.
  // Default: 400
  int span_bytes = 400;
  // Traces with a failed span (status ERROR on it and on the root).
  // Default: 5
  double error_percent = 5;
  // Traces that take 3-10 s (otherwise 5-270 ms).
  // Default: 2
  double slow_percent = 2;
  // Spans per request (the OpenTelemetry SDK BatchSpanProcessor's default export size).
  // Default: 512
  int batch_spans = 512;
  // Start of trace 0 (Unix ns); 0 means the time the generator is made.
  // Default: 0
  int64_t start_unix_ns = 0;
  // Time between the starts of consecutive traces.
  // Default: 1 ms
  int64_t trace_spacing_ns = 1'000'000;
};

// Registers --seed --services --spans-per-trace --attributes --span-bytes --error-percent
// --slow-percent --batch, writing into `*options` (whose values are the defaults --help shows).
// Once the command line is parsed, out-of-range counts are clamped (services 1-1000, spans per
// trace 1-100000, attributes 0-1000, batch 1-1000000). `options` must outlive the parse.
void AddWorkloadFlags(CLI::App& app, WorkloadOptions* options);
// "services=10 spans_per_trace=20 ..." for reports.
std::string DescribeWorkload(const WorkloadOptions& options);

struct GeneratedSpan {
  uint32_t service = 0;
  opentelemetry::proto::trace::v1::Span span;
};

class TraceGenerator {
 public:
  explicit TraceGenerator(const WorkloadOptions& options);

  // The spans of trace `index`, in export order (by end time; the root last). Deterministic in
  // (seed, index). Thread-safe (const).
  void Generate(uint64_t index, std::vector<GeneratedSpan>* out) const;

  // The 16 trace-ID bytes of trace `index`.
  std::string TraceIdBytes(uint64_t index) const;

  // Trace `index` as a store write groups it: one ResourceSpans (with one ScopeSpans) per service.
  void BuildTracesData(uint64_t index, opentelemetry::proto::trace::v1::TracesData* out) const;

  const opentelemetry::proto::resource::v1::Resource& resource(uint32_t service) const {
    return resources_[service];
  }
  const opentelemetry::proto::common::v1::InstrumentationScope& scope(uint32_t service) const {
    return scopes_[service];
  }
  const std::string& service_name(uint32_t service) const { return service_names_[service]; }
  const WorkloadOptions& options() const { return options_; }

 private:
  WorkloadOptions options_;
  std::vector<std::string> service_names_;
  std::vector<opentelemetry::proto::resource::v1::Resource> resources_;
  std::vector<opentelemetry::proto::common::v1::InstrumentationScope> scopes_;
  // Per service: operation names and their HTTP routes.
  std::vector<std::vector<std::string>> operations_;
  std::vector<std::vector<std::string>> routes_;
};

// Serialized ExportTraceServiceRequests as per-service exporters send them, generated once.
// Senders cycle over the pool; each pass (`cycle`) changes every trace ID, so no trace repeats.
struct RequestPool {
  std::vector<std::string> requests;
  std::vector<uint32_t> span_counts;
  // Byte offsets of every span's 16 trace-ID bytes in requests[i].
  std::vector<std::vector<uint32_t>> trace_id_offsets;
  uint64_t spans = 0;
  uint64_t bytes = 0;
  uint64_t traces = 0;
  double generate_seconds = 0;

  // Copies request `i` as sent in pass `cycle` into `dst` (requests[i].size() bytes): pass 0 is
  // the request as generated; later passes XOR all 16 bytes of every trace ID with values
  // derived from `cycle`. Both halves: with the high half kept, a trace's copies from every pass
  // would sort next to each other by trace ID and compress together in the store as no real
  // traces do.
  void Materialize(size_t i, uint64_t cycle, char* dst) const;

  // Requests (from index 0, cycling) needed to send at least `spans` spans.
  uint64_t RequestsFor(uint64_t spans) const;
  // Spans in the first `requests` requests (cycling).
  uint64_t SpansIn(uint64_t requests) const;
};

// Generates whole traces until at least `min_spans` spans, then flushes every exporter's partial
// batch, so every trace of the pool is complete.
RequestPool BuildRequestPool(const WorkloadOptions& options, uint64_t min_spans);

}  // namespace tailtrace::bench
