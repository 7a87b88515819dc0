// ParseConfig and LoadConfigFile: the config file's sections, their keys and their validation.
// The YAML walking and the typed values are in yaml_reader.cc, the `${env:...}` expansion in
// env_expand.cc, the sampling policies in policies.cc, the cluster section in cluster_config.cc,
// storage.backend and storage.clickhouse in clickhouse_config.cc, and the duration/size syntax in
// units.cc.

#include "config/config.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "clickhouse_config_internal.h"
#include "cluster_config_internal.h"
#include "env_expand_internal.h"
#include "exporters_internal.h"
#include "listener_security_internal.h"
#include "metrics_config_internal.h"
#include "policies_internal.h"
#include "units_internal.h"
#include "yaml-cpp/yaml.h"
#include "yaml_reader_internal.h"

namespace tailtrace::config {
namespace {

using internal::Field;
using internal::kNanosPerMilli;
using internal::kNanosPerMinute;
using internal::MapReader;
using internal::ParseContext;
using internal::ParseListenerSecurity;

// 1 PiB in MiB: far above any machine, and limit_mib * 2^20 cannot overflow.
constexpr int64_t kMaxMemoryMib = int64_t{1} << 30;
constexpr uint64_t kMaxBytes = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max();
// gRPC takes the message size limit as an int.
constexpr uint64_t kMaxGrpcMessageBytes = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxShards = 1024;
// storage: one column family per retention bucket; index keys up to 64 KiB.
constexpr int64_t kMaxRetentionBuckets = 1000;
constexpr int64_t kMaxIndexValueLength = 65536;
constexpr int64_t kMaxConnections = 1'000'000;
// wal.segment_size: at least a few requests per segment file.
constexpr uint64_t kMinWalSegmentBytes = 1 << 20;

// A listening endpoint, remembered to detect two servers configured on the same port.
struct EndpointUse {
  std::string path;      // dotted key
  std::string endpoint;  // as configured
  int line0 = -1;        // -1 when it is the built-in default
};

class EndpointList {
 public:
  // Reads `key` of `map` as an endpoint into `*out`, and remembers it when `listening` (the server
  // is enabled) for ReportConflicts.
  void Read(MapReader& map, std::string_view key, bool listening, std::string* out) {
    int line0 = -1;
    if (std::optional<Field> field = map.Take(key)) {
      if (std::optional<std::string> value = internal::ReadEndpoint(map.context(), *field)) {
        *out = *std::move(value);
        line0 = field->line();
      }
    }
    if (listening) uses_.push_back(EndpointUse{map.ChildPath(key), *out, line0});
  }

  // Reports two enabled servers on one port (port 0, "any free port", never conflicts).
  void ReportConflicts(ParseContext& ctx) const {
    for (size_t i = 0; i < uses_.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (!Conflict(uses_[i].endpoint, uses_[j].endpoint)) continue;
        const EndpointUse& at = uses_[i].line0 >= 0 ? uses_[i] : uses_[j];
        const EndpointUse& other = &at == &uses_[i] ? uses_[j] : uses_[i];
        ctx.AddError(at.line0, at.path,
                     absl::StrCat("\"", at.endpoint, "\" uses the same port as ", other.path,
                                  " (\"", other.endpoint, "\")"));
      }
    }
  }

 private:
  static bool IsWildcard(const std::string& host) { return host == "0.0.0.0" || host == "::"; }
  // "localhost" binds the loopback addresses (127.0.0.1, and ::1 for gRPC).
  static bool SameHost(const std::string& a, const std::string& b) {
    const auto loopback = [](const std::string& h) {
      return h == "localhost" || h == "127.0.0.1" || h == "::1";
    };
    return a == b || ((a == "localhost" || b == "localhost") && loopback(a) && loopback(b));
  }

  static bool Conflict(const std::string& a, const std::string& b) {
    absl::StatusOr<internal::HostPort> pa = internal::ParseHostPort(a);
    absl::StatusOr<internal::HostPort> pb = internal::ParseHostPort(b);
    if (!pa.ok() || !pb.ok() || pa->port == 0 || pa->port != pb->port) return false;
    return SameHost(pa->host, pb->host) || IsWildcard(pa->host) || IsWildcard(pb->host);
  }

  std::vector<EndpointUse> uses_;
};

// receivers.otlp.protocols.grpc: max_concurrent_streams, keepalive, max_memory (otelcol's keys
// where otelcol has them).
void ParseGrpcConnection(MapReader& map, collector::GrpcConnectionOptions* out) {
  map.Int("max_concurrent_streams", 1, std::numeric_limits<int32_t>::max(),
          &out->max_concurrent_streams);
  map.Bytes("max_memory", 1 << 20, kMaxBytes, &out->max_memory_bytes);
  MapReader keepalive = map.Map("keepalive");
  {
    MapReader server = keepalive.Map("server_parameters");
    server.Duration("max_connection_idle", 0, &out->max_connection_idle_ns);
    server.Duration("max_connection_age", 0, &out->max_connection_age_ns);
    server.Duration("max_connection_age_grace", 0, &out->max_connection_age_grace_ns);
    server.Duration("time", kNanosPerMilli, &out->keepalive_time_ns);
    server.Duration("timeout", kNanosPerMilli, &out->keepalive_timeout_ns);
    server.ReportUnknownKeys();
  }
  {
    MapReader policy = keepalive.Map("enforcement_policy");
    policy.Duration("min_time", 0, &out->min_ping_interval_ns);
    policy.Bool("permit_without_stream", &out->permit_ping_without_stream);
    policy.ReportUnknownKeys();
  }
  keepalive.ReportUnknownKeys();
}

void ParseGrpc(MapReader map, EndpointList* endpoints, collector::GrpcReceiverOptions* out) {
  map.Bool("enabled", &out->enabled);
  endpoints->Read(map, "endpoint", out->enabled, &out->endpoint);
  map.Bytes("max_recv_msg_size", 1, kMaxGrpcMessageBytes, &out->max_recv_msg_size_bytes);
  ParseGrpcConnection(map, &out->connection);
  ParseListenerSecurity(map, internal::CorsSupport::kNo, &out->security);
  if (out->security.tls.min_version != "1.2") {
    map.context().AddError(-1, map.ChildPath("tls.min_version"),
                           "only \"1.2\" is supported on the gRPC receiver (gRPC 1.51 has no "
                           "setting for it; clients negotiate TLS 1.2 or 1.3)");
  }
  map.ReportUnknownKeys();
}

void ParseHttp(MapReader map, EndpointList* endpoints, collector::HttpReceiverOptions* out) {
  map.Bool("enabled", &out->enabled);
  endpoints->Read(map, "endpoint", out->enabled, &out->endpoint);
  map.Bytes("max_request_body_size", 1, kMaxBytes, &out->max_request_body_bytes);
  map.Int("num_threads", 1, kMaxThreads, &out->num_threads);
  map.Int("max_connections", 0, kMaxConnections, &out->max_connections);
  map.Bytes("max_request_bytes_in_flight", 0, kMaxBytes, &out->max_request_bytes_in_flight);
  ParseListenerSecurity(map, internal::CorsSupport::kYes, &out->security);
  map.ReportUnknownKeys();
}

void ParseReceivers(MapReader receivers, EndpointList* endpoints, DaemonConfig* config) {
  MapReader otlp = receivers.Map("otlp");
  MapReader protocols = otlp.Map("protocols");
  ParseGrpc(protocols.Map("grpc"), endpoints, &config->grpc);
  ParseHttp(protocols.Map("http"), endpoints, &config->http);
  protocols.ReportUnknownKeys();
  otlp.ReportUnknownKeys();
  receivers.ReportUnknownKeys();
}

void ParseSampling(MapReader map, DaemonConfig* config) {
  collector::PipelineOptions& out = config->sampling;
  map.Duration("decision_wait", 1, &out.decision_wait_ns);
  // May exceed decision_wait: the earlier of the two deadlines applies.
  map.Duration("decision_wait_after_root_received", 1, &out.decision_wait_after_root_received_ns);
  map.Int("num_shards", 0, kMaxShards, &out.num_shards);
  map.Bytes("max_queue_bytes_per_shard", 1, kMaxBytes, &out.max_queue_bytes_per_shard);
  map.Bytes("max_buffer_bytes", 1, kMaxBytes, &out.max_buffer_bytes);
  map.Int("num_traces", 1, kMaxCount, &out.num_traces);
  map.Bytes("maximum_trace_size_bytes", 1, kMaxBytes, &out.maximum_trace_size_bytes);
  {
    MapReader cache = map.Map("decision_cache");
    cache.Int("sampled_cache_size", 0, kMaxCount, &out.sampled_cache_size);
    cache.Int("non_sampled_cache_size", 0, kMaxCount, &out.non_sampled_cache_size);
    cache.ReportUnknownKeys();
  }
  map.Duration("tick_interval", 1, &out.tick_interval_ns);
  map.Bool("sample_on_first_match", &config->sample_on_first_match);
  if (std::optional<Field> policies = map.Take("policies")) {
    internal::ParseSamplingPolicies(map.context(), *policies, config);
  }
  map.ReportUnknownKeys();
}

// storage.index.exclude_keys: a list of attribute keys (an empty value is an empty list).
void ParseExcludeKeys(ParseContext& ctx, const Field& field, std::vector<std::string>* out) {
  if (field.value.IsNull()) {
    out->clear();
    return;
  }
  if (!field.value.IsSequence()) {
    ctx.AddError(field.line(), field.path,
                 "expected a list of attribute keys, e.g. [http.url, user.email]");
    return;
  }
  std::vector<std::string> keys;
  bool ok = true;
  for (size_t i = 0; i < field.value.size(); ++i) {
    const Field element{absl::StrCat(field.path, "[", i, "]"), field.key, field.value[i]};
    if (std::optional<std::string> key = internal::ReadNonEmptyString(ctx, element)) {
      keys.push_back(*std::move(key));
    } else {
      ok = false;
    }
  }
  if (ok) *out = std::move(keys);
}

void ParseStorageIndex(MapReader map, storage::IndexOptions* out) {
  map.Int("max_value_length", 1, kMaxIndexValueLength, &out->max_value_length);
  if (std::optional<Field> f = map.Take("exclude_keys")) {
    ParseExcludeKeys(map.context(), *f, &out->exclude_keys);
  }
  map.ReportUnknownKeys();
}

// Returns the line of storage.enabled (-1 when absent), for the check against `exporters`.
int ParseStorage(MapReader map, DaemonConfig* config) {
  storage::StoreOptions* out = &config->storage;
  int enabled_line0 = -1;
  if (std::optional<Field> f = map.Take("enabled")) {
    enabled_line0 = f->line();
    if (std::optional<bool> v = internal::ReadBool(map.context(), *f)) {
      config->storage_enabled = *v;
    }
  }
  internal::ParseStorageBackend(map, out);
  map.NonEmptyString("path", &out->path);
  map.Duration("retention", kNanosPerMinute, &out->retention_ns);
  map.Int("retention_buckets", 1, kMaxRetentionBuckets, &out->retention_buckets);
  map.Bytes("max_disk_bytes", 0, kMaxBytes, &out->max_disk_bytes);
  map.Bytes("block_cache_size", 1, kMaxBytes, &out->block_cache_bytes);
  map.Bytes("write_buffer_size", 1, kMaxBytes, &out->write_buffer_bytes);
  map.Bytes("min_free_disk_bytes", 0, kMaxBytes, &out->min_free_disk_bytes);
  ParseStorageIndex(map.Map("index"), &out->index);
  map.ReportUnknownKeys();
  return enabled_line0;
}

void ParseMemoryLimiter(MapReader map, collector::MemoryLimiterOptions* out) {
  map.Duration("check_interval", kNanosPerMilli, &out->check_interval_ns);
  map.Int("limit_mib", 0, kMaxMemoryMib, &out->limit_mib);
  map.Int("spike_limit_mib", 0, kMaxMemoryMib, &out->spike_limit_mib);
  map.Int("limit_percentage", 1, 100, &out->limit_percentage);
  map.Int("spike_limit_percentage", 1, 100, &out->spike_limit_percentage);
  map.ReportUnknownKeys();
}

void ParseQuery(MapReader map, EndpointList* endpoints, query::QueryOptions* out) {
  endpoints->Read(map, "endpoint", /*listening=*/true, &out->endpoint);
  map.Int("num_threads", 1, kMaxThreads, &out->num_threads);
  map.Int("max_trace_spans", 0, kMaxCount, &out->max_trace_spans);
  map.Int("max_connections", 0, kMaxConnections, &out->max_connections);
  if (std::optional<Field> f = map.Take("base_path")) {
    if (std::optional<std::string> text = internal::ReadNonEmptyString(map.context(), *f)) {
      absl::StatusOr<std::string> base_path = query::NormalizeBasePath(*text);
      if (base_path.ok()) {
        out->base_path = *std::move(base_path);
      } else {
        internal::ReportValueError(map.context(), *f, std::string(base_path.status().message()));
      }
    }
  }
  MapReader ui = map.Map("ui");
  ui.Bool("enabled", &out->ui_enabled);
  ui.ReportUnknownKeys();
  ParseListenerSecurity(map, internal::CorsSupport::kYes, &out->security);
  map.ReportUnknownKeys();
}

void ParseAdmin(MapReader map, EndpointList* endpoints, AdminOptions* out) {
  endpoints->Read(map, "endpoint", /*listening=*/true, &out->endpoint);
  map.Int("max_connections", 0, kMaxConnections, &out->max_connections);
  ParseListenerSecurity(map, internal::CorsSupport::kNo, &out->security);
  map.ReportUnknownKeys();
}

// limits: the OpenTelemetry SDK's span limits, applied by both receivers (0: no limit).
void ParseLimits(MapReader map, DaemonConfig* config) {
  SpanLimits& out = config->grpc.span_limits;
  constexpr int64_t kMaxLimit = std::numeric_limits<uint32_t>::max();
  map.Int("max_attributes_per_span", 0, kMaxLimit, &out.max_attributes_per_span);
  uint64_t value_length = out.max_attribute_value_length;
  map.Bytes("max_attribute_value_length", 0, kMaxLimit, &value_length);
  out.max_attribute_value_length = static_cast<uint32_t>(value_length);
  map.Int("max_events_per_span", 0, kMaxLimit, &out.max_events_per_span);
  map.Int("max_links_per_span", 0, kMaxLimit, &out.max_links_per_span);
  map.Int("max_attributes_per_event", 0, kMaxLimit, &out.max_attributes_per_event);
  map.Int("max_attributes_per_link", 0, kMaxLimit, &out.max_attributes_per_link);
  map.ReportUnknownKeys();
  config->http.span_limits = out;
  config->sampling.span_limits = out;
}

// wal: the write-ahead log; see ResolveWal.
void ParseWal(MapReader map, WalConfig* out) {
  map.Bool("enabled", &out->enabled);
  map.NonEmptyString("path", &out->path);
  map.Bool("fsync", &out->fsync);
  map.Bytes("segment_size", kMinWalSegmentBytes, kMaxBytes, &out->segment_bytes);
  std::string compression = out->compress ? "lz4" : "none";
  map.Enum("compression", {"lz4", "none"}, &compression);
  out->compress = compression == "lz4";
  map.ReportUnknownKeys();
}

// The pipeline's and the store's options that follow from `wal` (and storage.path, the
// default's base): fsync also syncs the store's writes.
void ResolveWal(DaemonConfig* config) {
  const WalConfig& wal = config->wal;
  collector::DurabilityOptions& out = config->sampling.durability;
  out.wal_dir.clear();
  if (wal.enabled) {
    out.wal_dir = wal.path.empty() ? (std::filesystem::path(config->storage.path) / "wal").string()
                                   : wal.path;
  }
  out.fsync = wal.enabled && wal.fsync;
  out.segment_bytes = wal.segment_bytes;
  out.compress = wal.compress;
  config->storage.sync_writes = out.fsync;
}

// The options that follow from others: the WAL's; with span metrics on, the service graph counts
// the calls between services from every trace, so the store counts none from the traces it keeps
// (that would count them twice); the query API serves /api/metrics only with span metrics on.
void ResolveDerived(DaemonConfig* config) {
  ResolveWal(config);
  config->storage.dependencies_from_traces = !config->span_metrics.enabled;
  config->query.span_metrics_enabled = config->span_metrics.enabled;
}

void ParseLog(MapReader map, LogOptions* out) {
  map.Enum("level", {"trace", "debug", "info", "warn", "error"}, &out->level);
  map.ReportUnknownKeys();
}

void ParseRoot(ParseContext& ctx, const YAML::Node& root, DaemonConfig* config) {
  MapReader map(ctx, "", root, root.Mark().line);
  EndpointList endpoints;
  ParseReceivers(map.Map("receivers"), &endpoints, config);
  ParseSampling(map.Map("sampling"), config);
  const int storage_enabled_line0 = ParseStorage(map.Map("storage"), config);
  ParseMemoryLimiter(map.Map("memory_limiter"), &config->memory_limiter);
  ParseQuery(map.Map("query"), &endpoints, &config->query);
  ParseAdmin(map.Map("admin"), &endpoints, &config->admin);
  ParseLimits(map.Map("limits"), config);
  ParseWal(map.Map("wal"), &config->wal);
  ParseLog(map.Map("log"), &config->log);
  internal::ParseCluster(map, config);  // after the receivers, which it is checked against
  internal::ParseExporters(map.Map("exporters"), config);
  internal::ParseMetrics(map.Map("metrics"), &config->span_metrics,
                         &config->storage.metrics_retention_ns);
  map.ReportUnknownKeys();
  if (!config->storage_enabled && !config->otlp_exporter) {
    ctx.AddError(storage_enabled_line0, "storage.enabled",
                 "false needs exporters.otlp: without a store, kept traces must be exported");
  }
  if (ctx.ok()) endpoints.ReportConflicts(ctx);
}

// A hint for the usual causes of a YAML syntax error on line `line0`, or "".
std::string SyntaxHint(std::string_view yaml, int line0) {
  if (line0 < 0) return "";
  size_t begin = 0;
  for (int i = 0; i < line0; ++i) {
    begin = yaml.find('\n', begin);
    if (begin == std::string_view::npos) return "";
    ++begin;
  }
  const std::string_view line = yaml.substr(begin, yaml.find('\n', begin) - begin);
  const size_t indent_end = line.find_first_not_of(" \t");
  if (line.substr(0, indent_end).find('\t') != std::string_view::npos) {
    return " (YAML does not allow tabs for indentation; use spaces)";
  }
  if (line.find("${") != std::string_view::npos && line.find('{') < line.find("${")) {
    return " (inside { } put a value that uses ${...} in quotes)";
  }
  return "";
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseConfig(std::string_view yaml, std::string_view source_name,
                                         const EnvLookup& env) {
  ParseContext ctx(std::string(source_name), env ? env : EnvLookup(&internal::ProcessEnvLookup));
  DaemonConfig config;
  // The one place where yaml-cpp exceptions are caught.
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    if (documents.size() > 1) {
      ctx.AddError(documents[1].Mark().line, "",
                   "the file holds more than one YAML document (\"---\"); write one");
    } else if (!documents.empty()) {
      ParseRoot(ctx, documents.front(), &config);
    }
  } catch (const YAML::ParserException& e) {
    ctx.AddError(e.mark.line, "",
                 absl::StrCat("invalid YAML at column ", e.mark.column + 1, ": ", e.msg,
                              SyntaxHint(yaml, e.mark.line)));
  } catch (const YAML::Exception& e) {
    ctx.AddError(e.mark.line, "", absl::StrCat("invalid YAML: ", e.msg));
  } catch (const std::exception& e) {
    ctx.AddError(-1, "", absl::StrCat("cannot parse the config: ", e.what()));
  }
  if (!ctx.ok()) return ctx.ToStatus();
  ResolveDerived(&config);
  return config;
}

DaemonConfig Defaults() {
  DaemonConfig config;
  ResolveDerived(&config);
  return config;
}

absl::StatusOr<DaemonConfig> LoadConfigFile(const std::string& path, const EnvLookup& env) {
  const auto read_error = [&path](int error_number) {
    return absl::Status(
        absl::ErrnoToStatusCode(error_number),
        absl::StrCat("cannot read config file \"", path, "\": ", std::strerror(error_number)));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr) return read_error(errno);
  std::string content;
  char buffer[8192];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), file.get());
    content.append(buffer, n);
    if (n < sizeof(buffer)) {
      if (std::ferror(file.get())) return read_error(errno);
      break;
    }
  }
  return ParseConfig(content, path, env);
}

}  // namespace tailtrace::config
