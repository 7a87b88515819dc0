#pragma once

// The daemon's configuration: one YAML file (keys as in DESIGN.md's config contract) turned into
// the option structs of each component. This is the only code that sees YAML.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/options.h"
#include "collector/options.h"
#include "collector/policy_config.h"
#include "exporter/options.h"
#include "query/options.h"
#include "spanmetrics/options.h"
#include "storage/options.h"

namespace tailtrace::config {

struct AdminOptions {
  // host:port serving /healthz, /readyz and /metrics.
  // Default: localhost:8888 (loopback only)
  std::string endpoint = "localhost:8888";
  // tls and auth (/healthz and /readyz stay open; cors does not apply).
  // Default: plain text, no authentication
  security::ListenerSecurity security;
  // Open connections at most; more are closed at once. 0 = no limit.
  // Default: 100
  int64_t max_connections = 100;
};

struct LogOptions {
  // One of trace, debug, info, warn, error.
  // Default: info
  std::string level = "info";
};

// wal: the write-ahead log behind durable acknowledgements. ParseConfig turns it into
// sampling.durability and storage.sync_writes.
struct WalConfig {
  // Default: true
  bool enabled = true;
  // Directory of the log's segment files.
  // Default: "" (<storage.path>/wal)
  std::string path;
  // Sync each write before answering (and the store's writes): survives power loss.
  // Default: false (survives a crash of the process)
  bool fsync = false;
  // Default: 64 MiB
  uint64_t segment_bytes = 64ull << 20;
  // "lz4" (true) or "none" (false): how records hold their requests.
  // Default: lz4
  bool compress = true;
};

struct DaemonConfig {
  collector::GrpcReceiverOptions grpc;
  collector::HttpReceiverOptions http;
  collector::PipelineOptions sampling;
  // sampling.policies, in order (collector::MakePolicySamplerFactory builds the samplers).
  std::vector<collector::PolicyConfig> policies;
  // sampling.sample_on_first_match: stop evaluating policies at the first that keeps the trace.
  // Default: false
  bool sample_on_first_match = false;
  storage::StoreOptions storage;
  // storage.enabled: false runs without a store: kept traces are only exported (requires
  // exporters.otlp), and the query API answers 503.
  // Default: true
  bool storage_enabled = true;
  // exporters.otlp: every kept trace is also sent to this OTLP backend.
  // Default: none (no exporter)
  std::optional<exporter::OtlpExporterOptions> otlp_exporter;
  // memory_limiter: the process memory limit (otelcol's keys).
  collector::MemoryLimiterOptions memory_limiter;
  WalConfig wal;
  // cluster: the members of a cluster of tailtraced nodes; disabled (a single node) without the
  // section.
  cluster::ClusterOptions cluster;
  // metrics: span metrics (RED) counted from every span before sampling.
  spanmetrics::SpanMetricsOptions span_metrics;
  query::QueryOptions query;
  AdminOptions admin;
  LogOptions log;
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Parses YAML text. `source_name` (a file path, usually) prefixes every error, which also names
// the key and its line: "tailtrace.yaml:7: storage.retention: invalid duration \"7 days\"".
// All problems found are reported in one InvalidArgument status, one per line of its message,
// in line order. An empty document (or only comments) gives the defaults. config/README.md is
// the reference of every key.
// `${env:VAR}` and `${env:VAR:-default}` in scalar values are expanded through `env`
// (the process environment when null) before the value is interpreted.
[[nodiscard]] absl::StatusOr<DaemonConfig> ParseConfig(std::string_view yaml,
                                                       std::string_view source_name,
                                                       const EnvLookup& env = nullptr);

// The configuration of an empty file, i.e. with no --config: DaemonConfig{} plus what ParseConfig
// derives from it (the write-ahead log under storage.path). Use this, not DaemonConfig{}, to run.
[[nodiscard]] DaemonConfig Defaults();

// Reads and parses a file; errors are prefixed with `path`. A file that cannot be read gives an
// error naming the path (NotFound when it does not exist).
[[nodiscard]] absl::StatusOr<DaemonConfig> LoadConfigFile(const std::string& path,
                                                          const EnvLookup& env = nullptr);

// Parses "10s", "250ms", "1.5h", "168h", "2m30s", "100us", "5ns" into nanoseconds.
[[nodiscard]] absl::StatusOr<int64_t> ParseDuration(std::string_view text);

// Parses "64MiB", "512 MiB", "1GB", "1024" (bytes) into bytes.
[[nodiscard]] absl::StatusOr<uint64_t> ParseBytes(std::string_view text);

}  // namespace tailtrace::config
