#pragma once

#include <cstdint>
#include <string>

#include "common/listener_security.h"
#include "proto/otlp_wire.h"

namespace tailtrace::collector {

// Bounds on the OTLP/gRPC receiver's connections, with otelcol's key names
// (receivers.otlp.protocols.grpc: max_concurrent_streams, keepalive.*, max_memory). A duration of
// 0 means "no limit" where otelcol says "infinity".
struct GrpcConnectionOptions {
  // Calls in flight per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
  // Default: 100
  uint32_t max_concurrent_streams = 100;
  // keepalive.server_parameters.max_connection_idle: a connection without calls for this long
  // gets GOAWAY (clients reconnect when they next export). 0: never.
  // Default: 5m
  int64_t max_connection_idle_ns = 300'000'000'000;
  // keepalive.server_parameters.max_connection_age: any connection gets GOAWAY after this long
  // (spreads clients over restarted or new nodes). 0: never.
  // Default: 0 (never)
  int64_t max_connection_age_ns = 0;
  // keepalive.server_parameters.max_connection_age_grace: calls in flight at max_connection_age
  // may finish for this long before the connection is closed. 0: no limit.
  // Default: 0 (no limit)
  int64_t max_connection_age_grace_ns = 0;
  // keepalive.server_parameters.time: the server pings a connection idle for this long to notice
  // dead peers.
  // Default: 2m
  int64_t keepalive_time_ns = 120'000'000'000;
  // keepalive.server_parameters.timeout: a ping unanswered for this long closes the connection.
  // Default: 20s
  int64_t keepalive_timeout_ns = 20'000'000'000;
  // keepalive.enforcement_policy.min_time: clients pinging more often than this are sent GOAWAY
  // (after gRPC's ping strikes).
  // Default: 5s
  int64_t min_ping_interval_ns = 5'000'000'000;
  // keepalive.enforcement_policy.permit_without_stream: client pings on a connection without
  // calls are allowed.
  // Default: true
  bool permit_ping_without_stream = true;
  // Bytes gRPC may hold for all connections together (a grpc::ResourceQuota): request messages
  // being received, frames, connection state. Under pressure gRPC shrinks the HTTP/2 flow-control
  // windows, so many clients sending large messages at once wait instead of adding memory.
  // Default: 256 MiB
  uint64_t max_memory_bytes = 256ull << 20;
};

struct GrpcReceiverOptions {
  // Default: true
  bool enabled = true;
  // host:port of the OTLP/gRPC TraceService.
  // Default: localhost:4317 (loopback only; see README "Listen addresses")
  std::string endpoint = "localhost:4317";
  // Largest request accepted (after decompression); above it RESOURCE_EXHAUSTED.
  // Default: 64 MiB
  uint64_t max_recv_msg_size_bytes = 64ull << 20;
  // Connection hygiene (see GrpcConnectionOptions).
  GrpcConnectionOptions connection;
  // Spans over these limits are truncated on arrival (the top-level `limits` section).
  SpanLimits span_limits;
  // tls and auth (cors does not apply to gRPC; tls.min_version must be "1.2").
  // Default: plain text, no authentication
  security::ListenerSecurity security;
};

struct HttpReceiverOptions {
  // Default: true
  bool enabled = true;
  // host:port of OTLP/HTTP (POST /v1/traces).
  // Default: localhost:4318 (loopback only)
  std::string endpoint = "localhost:4318";
  // Largest request body accepted, checked after gzip decompression; above it 413.
  // Default: 64 MiB
  uint64_t max_request_body_bytes = 64ull << 20;
  // I/O threads of the HTTP server.
  // Default: 2
  int num_threads = 2;
  // Spans over these limits are truncated on arrival (the top-level `limits` section).
  SpanLimits span_limits;
  // tls, auth and cors.
  // Default: plain text, no authentication, no CORS
  security::ListenerSecurity security;
  // Open connections at most; more are closed at once. 0 = no limit.
  // Default: 1000
  int64_t max_connections = 1000;
  // Request body bytes (by Content-Length; a chunked body counts as max_request_body_bytes)
  // received or being handled across all connections at most; a request beyond it gets 503 +
  // Retry-After, unread. 0 = no limit.
  // Default: 256 MiB
  uint64_t max_request_bytes_in_flight = 256ull << 20;
};

// Durable acknowledgements: the write-ahead log of accepted requests (collector/span_log.h; the
// config's `wal:` section).
struct DurabilityOptions {
  // Directory of the log's segment files; empty = no log (a crash loses what is undecided).
  // Default: "" (the config's default is enabled, at <storage.path>/wal)
  std::string wal_dir;
  // fdatasync each write before answering (concurrent requests share one), so that an
  // acknowledged span also survives a power loss; the store's writes are synced too.
  // Default: false (an acknowledged span survives a crash of the process, not of the machine)
  bool fsync = false;
  // A segment file is closed and a new one started at this size; whole segments are deleted.
  // Default: 64 MiB
  uint64_t segment_bytes = 64ull << 20;
  // Each record's request bytes go into the log as one LZ4 frame (OTLP requests shrink to about a
  // fifth); false: as they are. Either kind of record is read back whatever this says.
  // Default: true
  bool compress = true;
};

struct PipelineOptions {
  // Sampler shards (one thread each); 0 means one per CPU core.
  // Default: 0
  uint32_t num_shards = 0;
  // A trace is decided this long after its first span arrived.
  // Default: 10s
  int64_t decision_wait_ns = 10'000'000'000;
  // ... or this long after its root span arrived, whichever is earlier.
  // Default: 2s
  int64_t decision_wait_after_root_received_ns = 2'000'000'000;
  // Bytes of spans handed to the shards but not yet buffered, per shard. A full queue makes the
  // receivers answer UNAVAILABLE / 503 with a retry delay.
  // Default: 64 MiB
  uint64_t max_queue_bytes_per_shard = 64ull << 20;
  // Bytes of spans held in the trace buffers across all shards; at the bound the oldest traces
  // are decided early.
  // Default: 512 MiB
  uint64_t max_buffer_bytes = 512ull << 20;
  // Undecided traces held across all shards; at the bound the oldest traces are decided early.
  // Default: 50000
  uint64_t num_traces = 50'000;
  // A trace whose buffered spans exceed this is decided at once; its later spans follow that
  // decision.
  // Default: 32 MiB
  uint64_t maximum_trace_size_bytes = 32ull << 20;
  // Kept trace IDs remembered after the decision, so late spans are stored with their trace.
  // Default: 100000
  uint64_t sampled_cache_size = 100'000;
  // Dropped trace IDs remembered (as compact fingerprints), so late spans are dropped too.
  // Default: 1000000
  uint64_t non_sampled_cache_size = 1'000'000;
  // How often each shard looks for traces whose decision time has come.
  // Default: 100 ms
  int64_t tick_interval_ns = 100'000'000;
  // The write-ahead log.
  DurabilityOptions durability;
  // The receivers' span limits, applied again to requests read back from the log (a record holds
  // the request as it arrived).
  SpanLimits span_limits;
};

// The process memory limit (otelcol's memory_limiter keys). New data is refused with
// UNAVAILABLE / 503 + Retry-After while the resident set size is above the soft limit
// (limit - spike limit). The limit is limit_mib if set, else limit_percentage of the machine's (or
// the cgroup's) memory; the spike limit likewise, else 20% of the limit.
struct MemoryLimiterOptions {
  // How often the resident set size is read (/proc/self/statm).
  // Default: 100 ms (at 1 s a burst overshot a 400 MiB limit to 500 MiB before the refusals began)
  int64_t check_interval_ns = 100'000'000;
  // Hard limit in MiB; 0 means limit_percentage of the available memory.
  // Default: 0
  uint64_t limit_mib = 0;
  // Headroom below the limit in MiB; 0 means spike_limit_percentage (of the available memory
  // when limit_percentage applies, else 20% of limit_mib).
  // Default: 0
  uint64_t spike_limit_mib = 0;
  // The limit as a percentage of the cgroup's memory.max, else of MemTotal.
  // Default: 80
  int limit_percentage = 80;
  // The spike limit as a percentage of the available memory.
  // Default: 20
  int spike_limit_percentage = 20;
};

}  // namespace tailtrace::collector
