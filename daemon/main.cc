// tailtraced: wires the components together and runs until SIGINT/SIGTERM.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "cluster/cluster_node.h"
#include "collector/admission.h"
#include "collector/memory_limiter.h"
#include "collector/pipeline.h"
#include "collector/policies.h"
#include "collector/receivers.h"
#include "common/admin.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/memory_trimmer.h"
#include "common/metrics.h"
#include "config/config.h"
#include "exporter/exporting_trace_store.h"
#include "exporter/otlp_trace_exporter.h"
#include "query/query_port.h"
#include "query/query_service.h"
#include "query/trace_reader.h"
#include "query/ui_assets.h"
#include "spanmetrics/history.h"
#include "spanmetrics/service_graph.h"
#include "spanmetrics/span_metrics.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "stores.h"

namespace tailtrace {
namespace {

constexpr char kUsage[] =
    "Usage: tailtraced [--config FILE]\n"
    "\n"
    "Receives OpenTelemetry traces over OTLP (gRPC and HTTP), samples them at the tail, stores\n"
    "them in an embedded RocksDB store (or ClickHouse) and serves Jaeger-compatible query APIs.\n"
    "\n"
    "  --config FILE   YAML configuration (see config/README.md); built-in defaults without it\n"
    "  --version       print the version and exit\n"
    "  --help          print this help and exit\n";

struct Flags {
  std::optional<std::string> config_path;
};

// Returns nullopt after printing help/version (exit 0) and sets *exit_code on a usage error.
std::optional<Flags> ParseFlags(int argc, char** argv, int* exit_code) {
  Flags flags;
  *exit_code = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return std::nullopt;
    }
    if (arg == "--version") {
      std::cout << "tailtraced " << TAILTRACE_VERSION << "\n";
      return std::nullopt;
    }
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) {
        std::cerr << "tailtraced: " << arg << " needs a file argument\n" << kUsage;
        *exit_code = 2;
        return std::nullopt;
      }
      flags.config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      flags.config_path = arg.substr(std::strlen("--config="));
    } else {
      std::cerr << "tailtraced: unknown argument '" << arg << "'\n" << kUsage;
      *exit_code = 2;
      return std::nullopt;
    }
  }
  return flags;
}

// "0.0.0.0:0" with the bound port -> "0.0.0.0:4317".
std::string BoundEndpoint(const std::string& endpoint, int port) {
  const size_t colon = endpoint.rfind(':');
  return endpoint.substr(0, colon) + ":" + std::to_string(port);
}

// A host that a client on this machine can reach for a wildcard listen address.
std::string Reachable(const std::string& bound) {
  if (bound.rfind("0.0.0.0:", 0) == 0) return "localhost" + bound.substr(7);
  if (bound.rfind("[::]:", 0) == 0) return "localhost" + bound.substr(4);
  return bound;
}

// SIGINT/SIGTERM may be delivered to any thread (libraries start threads before main), so the
// handler only writes the signal number into a pipe that the main thread reads.
int g_signal_pipe[2] = {-1, -1};

void OnSignal(int signal_number) {
  const char byte = static_cast<char>(signal_number);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &byte, 1);
}

absl::Status InstallSignalHandlers() {
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(std::string("pipe2: ") + std::strerror(errno));
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return absl::OkStatus();
}

int WaitForSignal() {
  char byte = 0;
  while (true) {
    const ssize_t n = ::read(g_signal_pipe[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return SIGTERM;
  }
}

// How long SIGTERM waits for the exporter to send what the pipeline handed it last.
constexpr int64_t kExporterDrainMs = 10'000;
// How long a stopping cluster member waits for its forwards to peers to be answered.
constexpr int64_t kClusterDrainNs = 5'000'000'000;

// What the query API answers when there is no store.
std::string NoStoreMessage(const config::DaemonConfig& cfg) {
  std::string message =
      "this tailtraced keeps no traces (storage.enabled: false): it samples and forwards them";
  if (cfg.otlp_exporter) message += " to " + cfg.otlp_exporter->endpoint;
  return message + "; query that backend instead";
}

// The query port's listener and what it serves (query/query_port.h).
struct QueryListener {
  std::unique_ptr<query::QueryPort> port;
  std::unique_ptr<http::HttpServer> server;
};

// The query port under query.base_path: the API (in a cluster also /api/cluster, this node's view
// of the members; without a store every API path answers 503 naming where the traces went) and
// the built-in UI. With query.auth the UI's paths are served without a token, as /healthz: the
// files hold no data, and the page asks the API (which needs the token) for everything.
absl::StatusOr<QueryListener> StartQueryListener(const config::DaemonConfig& cfg,
                                                 const query::QueryService* service,
                                                 cluster::ClusterNode* cluster,
                                                 MetricsRegistry* metrics) {
  query::QueryPort::ApiHandler api = [&cfg, service, cluster, no_store = NoStoreMessage(cfg)](
                                         const http::Request& r, std::string_view path) {
    if (cluster != nullptr && path == "/api/cluster") {
      http::Response status;
      status.body = cluster->StatusJson();
      return status;
    }
    if (!cfg.storage_enabled) return query::NoStoreResponse(path, no_store);
    return service->Handle(r, path);
  };
  QueryListener listener;
  absl::StatusOr<std::unique_ptr<query::QueryPort>> port =
      query::QueryPort::Create(cfg.query, query::EmbeddedUiAssets(), std::move(api));
  if (!port.ok()) return port.status();
  listener.port = *std::move(port);
  http::HttpServerOptions options;
  options.endpoint = cfg.query.endpoint;
  options.num_threads = cfg.query.num_threads;
  options.max_body_bytes = 16 << 20;  // POST /api/transform: OTLP/JSON files to show
  options.name = "query";
  options.security = cfg.query.security;
  options.max_connections = cfg.query.max_connections;
  options.metrics = metrics;
  const query::QueryPort* port_ptr = listener.port.get();
  options.is_open_path = [port_ptr](std::string_view path) { return port_ptr->IsUiPath(path); };
  absl::StatusOr<std::unique_ptr<http::HttpServer>> server = http::HttpServer::Create(
      options, [port_ptr](const http::Request& r) { return port_ptr->Handle(r); });
  if (!server.ok()) return server.status();
  listener.server = *std::move(server);
  return listener;
}

// Where the log says the UI is: its URL, or why there is none.
std::string UiLocation(const config::DaemonConfig& cfg, const query::QueryPort& port,
                       const std::string& query_url) {
  if (!cfg.query.ui_enabled) return "UI off (query.ui.enabled: false)";
  if (query::EmbeddedUiAssets().empty()) {
    return "UI not built into this binary (TAILTRACE_BUILD_UI=OFF)";
  }
  return "UI at " + query_url + port.UiPath();
}

// Cluster mode when the `cluster:` section is present; null (a single node) otherwise.
absl::StatusOr<std::unique_ptr<cluster::ClusterNode>> StartCluster(const config::DaemonConfig& cfg,
                                                                   collector::SpanSink* local,
                                                                   storage::TraceStore* store,
                                                                   Clock* clock,
                                                                   MetricsRegistry* metrics) {
  if (!cfg.cluster.enabled()) return nullptr;
  // Peers present this node's own receiver token: every member reads the same token file.
  absl::StatusOr<std::string> authorization =
      cluster::PeerAuthorizationFromTokenFile(cfg.grpc.security.auth.bearer_token_file);
  if (!authorization.ok()) return authorization.status();
  cluster::ClusterNodeOptions options;
  options.cluster = cfg.cluster;
  options.peer_authorization = *std::move(authorization);
  // A peer that fails to answer for a second loses its batches to the next member; it is
  // marked down (left out of the ring) after peer_timeout.
  options.router.forward.give_up_after_ns =
      std::min<int64_t>(cfg.cluster.peer_timeout_ns, 1'000'000'000);
  options.router.forward.compression = cfg.cluster.compression;
  // Traces under way when membership changes are decided where they started (span_router.h).
  options.router.handover_ns = cfg.sampling.decision_wait_ns;
  options.bearer_token_file = cfg.grpc.security.auth.bearer_token_file;
  options.max_trace_spans = cfg.query.max_trace_spans;
  return cluster::ClusterNode::Start(options, local, store, nullptr, clock, metrics);
}

int Run(const config::DaemonConfig& cfg) {
  if (absl::Status s = InstallSignalHandlers(); !s.ok()) {
    spdlog::critical("cannot install signal handlers: {}", std::string(s.message()));
    return 1;
  }

  Clock* clock = Clock::Real();
  MetricsRegistry metrics;
  std::atomic<bool> ready{false};

  absl::StatusOr<Stores> stores = OpenStores(cfg, clock, &metrics);
  if (!stores.ok()) {
    spdlog::critical("{}", std::string(stores.status().message()));
    return 1;
  }
  // What the pipeline writes to and the admission gate and /readyz ask.
  storage::TraceStore* store_ptr = stores->write_path();

  auto limiter = collector::MemoryLimiter::Create(
      cfg.memory_limiter, collector::AvailableMemoryBytes(), collector::RssSource::Proc(), clock);
  if (!limiter.ok()) {
    spdlog::critical("{}", std::string(limiter.status().message()));
    return 1;
  }
  collector::MemoryLimiter* limiter_ptr = limiter->get();
  spdlog::info("memory_limiter: limit {} MiB, soft limit {} MiB", limiter_ptr->limit_bytes() >> 20,
               limiter_ptr->soft_limit_bytes() >> 20);
  metrics.SetCallbackGauge("tailtrace_memory_rss_bytes",
                           "Resident set size at the memory limiter's last check.", {},
                           [limiter_ptr] { return static_cast<double>(limiter_ptr->rss_bytes()); });
  metrics.SetCallbackGauge(
      "tailtrace_memory_limit_bytes", "The memory limiter's hard limit.", {},
      [limiter_ptr] { return static_cast<double>(limiter_ptr->limit_bytes()); });
  metrics.SetCallbackGauge(
      "tailtrace_memory_soft_limit_bytes",
      "Above this resident set size new data is refused (limit - spike limit).", {},
      [limiter_ptr] { return static_cast<double>(limiter_ptr->soft_limit_bytes()); });

  absl::StatusOr<collector::SamplerFactory> sampler_factory =
      collector::MakePolicySamplerFactory(cfg.policies, cfg.sample_on_first_match, &metrics);
  if (!sampler_factory.ok()) {
    spdlog::critical("sampling.policies: {}", std::string(sampler_factory.status().message()));
    return 1;
  }
  if (cfg.sampling.durability.wal_dir.empty()) {
    spdlog::warn("wal: disabled; spans not yet decided are lost if the process dies");
  } else {
    spdlog::info("wal: {} (fsync {})", cfg.sampling.durability.wal_dir,
                 cfg.sampling.durability.fsync ? "on: survives power loss" : "off");
  }
  // The calls between services, from every trace at its decision (spanmetrics/service_graph.h).
  spanmetrics::ServiceGraph service_graph(cfg.span_metrics.max_series, &metrics);
  // Replays the write-ahead log before any receiver opens.
  auto pipeline =
      collector::Pipeline::Create(cfg.sampling, store_ptr, *std::move(sampler_factory), clock,
                                  &metrics, cfg.span_metrics.enabled ? &service_graph : nullptr);
  if (!pipeline.ok()) {
    spdlog::critical("cannot start the pipeline: {}", std::string(pipeline.status().message()));
    return 1;
  }
  // Receivers -> [cluster router ->] [span metrics ->] admission gate (store health, memory) ->
  // pipeline. Span metrics count every span this node's pipeline takes, before sampling.
  collector::AdmissionSink admission(pipeline->get(), store_ptr, limiter_ptr, &metrics);
  spanmetrics::SpanMetrics span_metrics(cfg.span_metrics, &metrics);
  spanmetrics::SpanMetricsSink counted(&span_metrics, &admission);
  collector::SpanSink* local_sink =
      cfg.span_metrics.enabled ? static_cast<collector::SpanSink*>(&counted) : &admission;
  // Their history goes to the store (Monitor tab, /api/metrics/*).
  std::unique_ptr<spanmetrics::MetricsHistory> history;
  if (cfg.span_metrics.enabled && cfg.storage_enabled) {
    auto created = spanmetrics::MetricsHistory::Create(cfg.span_metrics, &span_metrics,
                                                       &service_graph, store_ptr, clock, &metrics);
    if (!created.ok()) {
      spdlog::critical("metrics: {}", std::string(created.status().message()));
      return 1;
    }
    history = *std::move(created);
    history->Start();
  }
  absl::StatusOr<std::unique_ptr<cluster::ClusterNode>> cluster_node =
      StartCluster(cfg, local_sink, store_ptr, clock, &metrics);
  if (!cluster_node.ok()) {
    spdlog::critical("cluster: {}", std::string(cluster_node.status().message()));
    return 1;
  }
  collector::SpanSink* receivers_sink =
      *cluster_node != nullptr ? (*cluster_node)->sink() : local_sink;

  // In a cluster the query API answers for every live member (cluster/cluster_reader.h).
  query::StoreTraceReader local_reader(store_ptr);
  query::TraceReader* reader = *cluster_node != nullptr ? (*cluster_node)->reader() : &local_reader;
  query::QueryService query_service(reader, clock, cfg.query);
  absl::StatusOr<QueryListener> query_listener =
      StartQueryListener(cfg, &query_service, cluster_node->get(), &metrics);
  if (!query_listener.ok()) {
    spdlog::critical("query: {}", std::string(query_listener.status().message()));
    return 1;
  }
  http::HttpServer* query_server = query_listener->server.get();

  http::HttpServerOptions admin_options;
  admin_options.endpoint = cfg.admin.endpoint;
  admin_options.num_threads = 1;
  admin_options.max_body_bytes = 64 << 10;
  admin_options.name = "admin";
  admin_options.security = cfg.admin.security;
  admin_options.max_connections = cfg.admin.max_connections;
  admin_options.open_paths = {"/healthz", "/readyz"};
  admin_options.metrics = &metrics;
  auto admin_server = http::HttpServer::Create(
      admin_options, MakeAdminHandler(&metrics, [&ready, store_ptr]() -> std::string {
        if (!ready.load()) return "starting or shutting down";
        absl::Status health = store_ptr->WriteHealth();
        return health.ok() ? "" : std::string(health.message());
      }));
  if (!admin_server.ok()) {
    spdlog::critical("admin: {}", std::string(admin_server.status().message()));
    return 1;
  }

  std::unique_ptr<collector::GrpcReceiver> grpc;
  std::unique_ptr<collector::HttpReceiver> http_receiver;
  std::string grpc_at = "disabled";
  std::string http_at = "disabled";
  if (cfg.grpc.enabled) {
    std::vector<grpc::Service*> services;
    if (*cluster_node != nullptr) services.push_back((*cluster_node)->query_service());
    auto r = collector::GrpcReceiver::Create(cfg.grpc, receivers_sink, &metrics, services);
    if (!r.ok()) {
      spdlog::critical("receivers.otlp.protocols.grpc: {}", std::string(r.status().message()));
      return 1;
    }
    grpc = std::move(*r);
    grpc_at = BoundEndpoint(cfg.grpc.endpoint, grpc->port());
  }
  if (cfg.http.enabled) {
    auto r = collector::HttpReceiver::Create(cfg.http, receivers_sink, &metrics);
    if (!r.ok()) {
      spdlog::critical("receivers.otlp.protocols.http: {}", std::string(r.status().message()));
      return 1;
    }
    http_receiver = std::move(*r);
    http_at = BoundEndpoint(cfg.http.endpoint, http_receiver->port());
  }
  const std::string query_at = BoundEndpoint(cfg.query.endpoint, query_server->port());
  const std::string admin_at = BoundEndpoint(cfg.admin.endpoint, (*admin_server)->port());
  ready.store(true);

  if (cfg.storage_enabled) {
    if (cfg.storage.backend == storage::StorageBackend::kClickHouse) {
      spdlog::info("tailtraced {} started; store in ClickHouse at {}, database {}",
                   TAILTRACE_VERSION, cfg.storage.clickhouse.endpoint,
                   cfg.storage.clickhouse.database);
    } else {
      spdlog::info("tailtraced {} started; store at {}", TAILTRACE_VERSION, cfg.storage.path);
    }
  } else {
    spdlog::info("tailtraced {} started without a store (storage.enabled: false)",
                 TAILTRACE_VERSION);
  }
  const auto scheme = [](const security::ListenerSecurity& s) {
    return s.tls.enabled() ? "https" : "http";
  };
  spdlog::info("send OTLP to {}://{} (OTEL_EXPORTER_OTLP_PROTOCOL=grpc) or {}://{}/v1/traces",
               scheme(cfg.grpc.security), Reachable(grpc_at), scheme(cfg.http.security),
               Reachable(http_at));
  const std::string query_url =
      std::string(scheme(cfg.query.security)) + "://" + Reachable(query_at);
  const std::string api = query_listener->port->UiPath() + "api";
  spdlog::info("query API (Jaeger {}, OTLP JSON {}/v3) at {}; metrics at {}://{}/metrics", api, api,
               query_url, scheme(cfg.admin.security), Reachable(admin_at));
  spdlog::info("{}", UiLocation(cfg, *query_listener->port, query_url));
  // One machine-readable line for scripts and tests.
  std::printf("tailtraced ready grpc=%s http=%s query=%s admin=%s\n", grpc_at.c_str(),
              http_at.c_str(), query_at.c_str(), admin_at.c_str());
  std::fflush(stdout);

  // Gives back what bursts freed (e.g. one request with 2M distinct attribute keys left RSS at
  // 1.2 GiB, 0.8 GiB of it free heap memory held by glibc).
  MemoryTrimmer trimmer(MemoryTrimmerOptions{});
  const int signal_number = WaitForSignal();
  spdlog::info("received {}, shutting down: draining the pipeline into the store",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  ready.store(false);

  // Stop taking spans first, then decide and write everything held, then close the store.
  // Export never blocks, so calls in flight end within milliseconds (in a cluster, once their
  // forwards answered); gRPC also waits out the deadline for idle connected channels (every SDK
  // keeps one open), so keep it short.
  if (grpc) grpc->Shutdown(500);
  if (http_receiver) http_receiver->Shutdown();
  if (*cluster_node != nullptr) {
    (*cluster_node)->Shutdown(clock->MonotonicNanos() + kClusterDrainNs);
  }
  int exit_code = 0;
  absl::Status drained = (*pipeline)->Shutdown(30'000);
  if (!drained.ok()) {
    spdlog::error("shutdown: {}", std::string(drained.message()));
    exit_code = 1;
  }
  if (history != nullptr) {
    if (absl::Status written = history->Stop(); !written.ok()) {
      spdlog::error("shutdown: the last span metrics were not stored: {}",
                    std::string(written.message()));
    }
  }
  query_server->Shutdown();
  (*admin_server)->Shutdown();
  absl::Status flushed = store_ptr->Flush();
  if (!flushed.ok()) {
    spdlog::error("shutdown: store flush failed: {}", std::string(flushed.message()));
    exit_code = 1;
  }
  // The pipeline handed its last kept traces to the exporter's queue; send them.
  if (stores->exporter != nullptr) {
    absl::Status exported = stores->exporter->Shutdown(kExporterDrainMs);
    if (!exported.ok()) {
      spdlog::error("shutdown: {}", std::string(exported.message()));
      // With a store the traces are kept there; without one they are lost.
      if (!cfg.storage_enabled) exit_code = 1;
    }
  }
  pipeline->reset();
  stores->Close();
  spdlog::info("tailtraced stopped");
  return exit_code;
}

}  // namespace
}  // namespace tailtrace

int main(int argc, char** argv) {
  // Debian's Abseil is built with its debug checks, so every absl::Mutex lock (gRPC takes many per
  // call) walks a lock graph for deadlocks: about 1% of a cluster node's CPU. Our own code's
  // locking is judged by ThreadSanitizer in the tests instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int exit_code = 0;
  std::optional<tailtrace::Flags> flags = tailtrace::ParseFlags(argc, argv, &exit_code);
  if (!flags) return exit_code;

  tailtrace::config::DaemonConfig cfg = tailtrace::config::Defaults();
  if (flags->config_path) {
    auto loaded = tailtrace::config::LoadConfigFile(*flags->config_path);
    if (!loaded.ok()) {
      std::cerr << "tailtraced: invalid configuration: " << loaded.status().message() << "\n";
      return 2;
    }
    cfg = *std::move(loaded);
  }
  // Logs go to stderr; stdout carries only the ready line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("tailtraced"));
  spdlog::set_level(spdlog::level::from_str(cfg.log.level));
  return tailtrace::Run(cfg);
}
