#pragma once

// Options of the OTLP trace exporter (`exporters.otlp` in the config, with the OpenTelemetry
// Collector's key names), and the endpoint syntax shared by the exporter and the config parser.
// Plain data; no gRPC, Beast or OpenSSL here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::exporter {

enum class OtlpProtocol {
  kGrpc,          // opentelemetry.proto.collector.trace.v1.TraceService/Export
  kHttpProtobuf,  // POST {endpoint}/v1/traces, Content-Type: application/x-protobuf
};

enum class OtlpCompression { kNone, kGzip };

// tls: otelcol's configtls client keys.
struct ExporterTlsOptions {
  // Plain text (no TLS at all). nullopt: derived from the endpoint: plain text for "http://" and
  // for a bare host:port, TLS for "https://".
  // Default: derived
  std::optional<bool> insecure;
  // PEM CA bundle that verifies the server's certificate.
  // Default: "" (the system's roots)
  std::string ca_file;
  // PEM client certificate chain and key (mTLS); set together.
  // Default: "" (no client certificate)
  std::string cert_file;
  std::string key_file;
  // TLS without checking the server's certificate or name (test setups only).
  // Default: false
  bool insecure_skip_verify = false;
};

// retry_on_failure: exponential backoff on retryable failures (otelcol's BackOffConfig).
struct RetryOptions {
  // false: a failed request is dropped at once.
  // Default: true
  bool enabled = true;
  // Wait before the first retry.
  // Default: 1s
  int64_t initial_interval_ns = 1'000'000'000;
  // Upper bound of one wait (before randomization).
  // Default: 30s
  int64_t max_interval_ns = 30'000'000'000;
  // A request still failing this long after its first attempt is dropped. 0 = no limit.
  // Default: 300s
  int64_t max_elapsed_time_ns = 300'000'000'000;
  // Each wait is the previous one times this (at least 1).
  // Default: 1.5
  double multiplier = 1.5;
  // Each wait is drawn from [wait * (1 - f), wait * (1 + f)] so that many exporters do not retry
  // in lockstep (0 to 1).
  // Default: 0.5
  double randomization_factor = 0.5;
};

// How kept traces are grouped into requests (not in the config: these bounds suit every OTLP
// backend we know of, whose default receive limit is 4 MiB).
struct BatchOptions {
  // A request is sent once it holds this many spans ...
  // Default: 8192 (otelcol's batch processor's send_batch_size)
  uint64_t max_spans = 8192;
  // ... or this many bytes (uncompressed); a single larger trace goes alone.
  // Default: 3 MiB (below gRPC's default 4 MiB receive limit)
  uint64_t max_bytes = 3ull << 20;
  // ... or when its oldest trace has waited this long.
  // Default: 200ms (otelcol's batch processor's timeout)
  int64_t timeout_ns = 200'000'000;
};

struct OtlpExporterOptions {
  // Where to send: for grpc "host:port", "http://host:port" or "https://host:port"; for
  // http/protobuf "http(s)://host[:port][/base]" (a bare host:port is http://), and requests go
  // to {endpoint}/v1/traces unless the path already ends in /v1/traces. Required.
  // Default: ""
  std::string endpoint;
  // Default: grpc
  OtlpProtocol protocol = OtlpProtocol::kGrpc;
  // Extra request headers (gRPC metadata), e.g. {"x-honeycomb-team", "KEY"}.
  // Default: none
  std::vector<std::pair<std::string, std::string>> headers;
  // Default: gzip
  OtlpCompression compression = OtlpCompression::kGzip;
  // One request attempt (connect, send, answer) at most.
  // Default: 5s
  int64_t timeout_ns = 5'000'000'000;
  ExporterTlsOptions tls;
  // sending_queue.queue_size: bytes of kept traces waiting to be sent (serialized OTLP). A trace
  // that does not fit is dropped and counted (tailtrace_exporter_dropped_spans_total{reason=
  // "queue_full"}).
  // Default: 64 MiB
  uint64_t queue_size_bytes = 64ull << 20;
  RetryOptions retry;
  BatchOptions batch;
};

// An endpoint taken apart (see OtlpExporterOptions::endpoint).
struct OtlpEndpoint {
  // "https://" was given: TLS unless tls.insecure says otherwise.
  bool https = false;
  // Without the brackets of an IPv6 address.
  std::string host;
  int port = 0;
  // http/protobuf: the request path, e.g. "/v1/traces" or "/otlp/v1/traces"; grpc: "".
  std::string path;

  // "host:port", with brackets around an IPv6 host.
  std::string Authority() const;
};

// Parses `endpoint` for `protocol`. InvalidArgument saying what is wrong (not naming the key).
[[nodiscard]] absl::StatusOr<OtlpEndpoint> ParseOtlpEndpoint(std::string_view endpoint,
                                                             OtlpProtocol protocol);

// Whether requests go without TLS: tls.insecure when set, else "not https://".
[[nodiscard]] inline bool UsesPlainText(const ExporterTlsOptions& tls,
                                        const OtlpEndpoint& endpoint) {
  return tls.insecure.value_or(!endpoint.https);
}

// "grpc" or "http/protobuf".
std::string_view ProtocolName(OtlpProtocol protocol);

}  // namespace tailtrace::exporter
