#pragma once

// Helpers shared by the integration tests: OTLP request builders, a gRPC client, gzip, polling
// of the query API, Prometheus text parsing, and a fixture that owns a temp dir and a daemon.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "rapidjson/document.h"
#include "tests/integration/daemon_harness.h"
#include "tests/integration/http_client.h"

namespace tailtrace::testing {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

// A 16-byte trace ID derived from `n` (distinct for distinct n, never all zero; the low bytes vary
// so traces spread over the shards).
std::string TraceIdBytes(uint64_t n);
// The 8-byte ID of span `index` of trace `trace` (distinct for distinct pairs, never zero).
std::string SpanIdBytes(uint64_t trace, uint64_t index);
// Lower-case hex.
std::string Hex(std::string_view bytes);

// Now, in nanoseconds since the Unix epoch (spans must be recent: the store keeps `retention`).
uint64_t NowUnixNanos();

// Adds to `request` a trace of `num_spans` spans under one resource with service.name `service`:
// span 0 is the root ("root-op", SERVER); span i > 0 ("child-op-i", INTERNAL) has parent span
// (i - 1) / 2. Each span carries a string attribute of `padding_bytes` bytes.
void AddTrace(ExportTraceServiceRequest* request, uint64_t trace, int num_spans,
              const std::string& service, size_t padding_bytes = 0);

// A span with raw (possibly invalid) IDs, in its own resource of `service`.
void AddRawSpan(ExportTraceServiceRequest* request, const std::string& service,
                const std::string& trace_id, const std::string& span_id,
                const std::string& parent_span_id, const std::string& name);

// gzip (RFC 1952) of `data`, written with zlib directly (independent of the code under test).
std::string GzipBytes(std::string_view data);

// A blocking OTLP/gRPC TraceService client.
class OtlpGrpcClient {
 public:
  // With `own_connection`, the channel opens its own connection instead of sharing one with other
  // channels to the same target (gRPC's global subchannel pool): for tests of new connections.
  explicit OtlpGrpcClient(const std::string& target, bool own_connection = false);
  // One Export call with a deadline of `timeout_ms`; gzip-compressed when `gzip`.
  grpc::Status Export(const ExportTraceServiceRequest& request,
                      ExportTraceServiceResponse* response, bool gzip = false,
                      int64_t timeout_ms = 10'000);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub> stub_;
};

// GET /api/traces/{trace_hex} on the query port every 20 ms until it answers 200 (the trace was
// decided and stored) or `timeout_ms` passes; returns the last response (or a transport error).
absl::StatusOr<HttpResponse> WaitForTrace(int query_port, const std::string& trace_hex,
                                          int64_t timeout_ms = 10'000);

// GET /metrics on the admin port every 20 ms until `series` (e.g.
// `tailtrace_stored_spans_total` or `name{label="v"}`) has at least `at_least`, or the deadline.
// Returns the last value seen (nullopt when the series was never present).
std::optional<double> WaitForMetric(int admin_port, const std::string& series, double at_least,
                                    int64_t timeout_ms = 10'000);

// The value of `series` in a Prometheus text exposition: the line that starts with `series`
// followed by a space. nullopt when absent.
std::optional<double> MetricValue(const std::string& text, const std::string& series);

// Parses `json`; a parse error is an error status quoting the text.
absl::StatusOr<std::unique_ptr<rapidjson::Document>> ParseJson(const std::string& json);

// The spans of a Jaeger /api/traces/{id} response: spanID -> parent spanID from the CHILD_OF
// reference ("" for none). Adds a gtest failure and returns {} when the envelope is malformed.
struct JaegerSpanInfo {
  std::string trace_id;
  std::string parent_span_id;  // "" for a root
  std::string operation;
  std::string service;
};
bool operator==(const JaegerSpanInfo& a, const JaegerSpanInfo& b);
void PrintTo(const JaegerSpanInfo& info, std::ostream* os);
std::map<std::string, JaegerSpanInfo> JaegerSpans(const std::string& body);

// The spans of an /api/v3/traces/{id} response (OTLP JSON): spanId -> info (operation is the
// span name, service the resource's service.name).
std::map<std::string, JaegerSpanInfo> V3Spans(const std::string& body);

// The expected spanID -> info of a trace added with AddTrace.
std::map<std::string, JaegerSpanInfo> ExpectedSpans(uint64_t trace, int num_spans,
                                                    const std::string& service);

// Fixture: a temp dir per test, DaemonSettings pointing into it, and helpers to start/stop
// tailtraced. On failure the daemon's stderr is printed.
class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts a daemon with settings_ and spawn_ into daemon_ (fails the test when it cannot start).
  void StartDaemon();
  // SIGTERMs daemon_ and expects exit code 0.
  void StopDaemonExpectSuccess();

  std::optional<TempDir> dir_;
  DaemonSettings settings_;
  // Process settings StartDaemon applies (e.g. max_open_files).
  SpawnOptions spawn_;
  std::unique_ptr<Daemon> daemon_;
};

}  // namespace tailtrace::testing
