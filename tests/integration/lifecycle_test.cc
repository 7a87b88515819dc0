// Daemon lifecycle against the real tailtraced: restart on the same store, graceful shutdown that
// loses nothing acknowledged, backpressure that never drops silently, a locked store, config
// errors and the informational flags.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "tests/integration/test_util.h"

namespace tailtrace::testing {
namespace {

using LifecycleTest = DaemonTest;

constexpr char kProtobuf[] = "application/x-protobuf";

// GET /api/traces/{trace} once (no waiting) and compare with what AddTrace sent.
void ExpectTraceNow(int query_port, uint64_t trace, int num_spans, const std::string& service) {
  HttpClient client(query_port);
  absl::StatusOr<HttpResponse> r = client.Get("/api/traces/" + Hex(TraceIdBytes(trace)));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << "trace " << trace << " is not stored: " << r->body;
  EXPECT_EQ(JaegerSpans(r->body), ExpectedSpans(trace, num_spans, service)) << r->body;
}

TEST_F(LifecycleTest, RestartFindsTheData) {
  StartDaemon();
  ExportTraceServiceRequest a;
  AddTrace(&a, 1, 4, "restart-grpc");
  ExportTraceServiceResponse response;
  grpc::Status status = OtlpGrpcClient(daemon_->grpc_target()).Export(a, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExportTraceServiceRequest b;
  AddTrace(&b, 2, 2, "restart-http");
  absl::StatusOr<HttpResponse> posted =
      HttpClient(daemon_->http_port()).Post("/v1/traces", kProtobuf, b.SerializeAsString());
  ASSERT_TRUE(posted.ok() && posted->status == 200)
      << (posted.ok() ? posted->body : posted.status().ToString());
  for (uint64_t trace : {1, 2}) {
    absl::StatusOr<HttpResponse> r = WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(trace)));
    ASSERT_TRUE(r.ok() && r->status == 200) << "trace " << trace << " never stored";
  }
  StopDaemonExpectSuccess();

  StartDaemon();
  ExpectTraceNow(daemon_->query_port(), 1, 4, "restart-grpc");
  ExpectTraceNow(daemon_->query_port(), 2, 2, "restart-http");
  absl::StatusOr<HttpResponse> services = HttpClient(daemon_->query_port()).Get("/api/services");
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_NE(services->body.find("\"restart-grpc\""), std::string::npos) << services->body;
  EXPECT_NE(services->body.find("\"restart-http\""), std::string::npos) << services->body;
  StopDaemonExpectSuccess();
}

TEST_F(LifecycleTest, GracefulShutdownLosesNothingAcknowledged) {
  // Nothing is decided while the daemon runs: every trace is still in a sampler buffer at SIGTERM.
  settings_.decision_wait = "60s";
  settings_.decision_wait_after_root_received = "60s";
  StartDaemon();
  constexpr int kTraces = 20;
  constexpr int kSpans = 3;
  {
    // The clients disconnect before SIGTERM, so the test does not wait out the gRPC grace period
    // (see ShutdownWithAnIdleGrpcClientIsPrompt).
    OtlpGrpcClient grpc_client(daemon_->grpc_target());
    HttpClient http_client(daemon_->http_port());
    for (int t = 0; t < kTraces; ++t) {
      ExportTraceServiceRequest request;
      AddTrace(&request, 100 + t, kSpans, "shutdown");
      if (t % 2 == 0) {
        ExportTraceServiceResponse response;
        grpc::Status status = grpc_client.Export(request, &response);
        ASSERT_TRUE(status.ok()) << "trace " << t << ": " << status.error_message();
      } else {
        absl::StatusOr<HttpResponse> r =
            http_client.Post("/v1/traces", kProtobuf, request.SerializeAsString());
        ASSERT_TRUE(r.ok() && r->status == 200)
            << "trace " << t << ": " << (r.ok() ? r->body : r.status().ToString());
      }
    }
  }
  // Acknowledged but not stored yet.
  absl::StatusOr<HttpResponse> before =
      HttpClient(daemon_->query_port()).Get("/api/traces/" + Hex(TraceIdBytes(100)));
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->status, 404) << "decided before its decision_wait: " << before->body;

  StopDaemonExpectSuccess();
  StartDaemon();
  for (int t = 0; t < kTraces; ++t) {
    SCOPED_TRACE(absl::StrCat("trace ", t));
    ExpectTraceNow(daemon_->query_port(), 100 + t, kSpans, "shutdown");
  }
}

TEST_F(LifecycleTest, ShutdownUnderLoadLosesNothingAcknowledged) {
  // Clients keep exporting while SIGTERM arrives; whatever was acknowledged must be stored, and
  // whatever was not is answered with an error (never a success that is then dropped).
  settings_.decision_wait = "60s";
  settings_.decision_wait_after_root_received = "60s";
  StartDaemon();
  constexpr int kSpans = 2;
  constexpr int kAckedBeforeSigterm = 20;
  constexpr int kMaxRequestsPerWorker = 5000;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> acked;
  std::atomic<uint64_t> next_trace{5000};
  auto ack = [&](uint64_t trace) {
    std::lock_guard lock(mu);
    acked.push_back(trace);
    cv.notify_all();
  };
  auto make_request = [](uint64_t trace) {
    ExportTraceServiceRequest request;
    AddTrace(&request, trace, kSpans, "under-load");
    return request;
  };
  // Each worker stops at its first failed export (the daemon is going away).
  auto grpc_worker = [&, target = daemon_->grpc_target()] {
    OtlpGrpcClient client(target);
    for (int i = 0; i < kMaxRequestsPerWorker; ++i) {
      const uint64_t trace = next_trace.fetch_add(1);
      ExportTraceServiceResponse response;
      if (!client.Export(make_request(trace), &response, false, 5'000).ok()) return;
      ack(trace);
    }
  };
  auto http_worker = [&, port = daemon_->http_port()] {
    HttpClient client(port, 5'000);
    for (int i = 0; i < kMaxRequestsPerWorker; ++i) {
      const uint64_t trace = next_trace.fetch_add(1);
      absl::StatusOr<HttpResponse> r =
          client.Post("/v1/traces", kProtobuf, make_request(trace).SerializeAsString());
      if (!r.ok() || r->status != 200) return;
      ack(trace);
    }
  };
  std::vector<std::thread> workers;
  workers.emplace_back(grpc_worker);
  workers.emplace_back(http_worker);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10),
                            [&] { return acked.size() >= kAckedBeforeSigterm; }))
        << "only " << acked.size() << " exports acknowledged";
  }
  size_t acked_at_sigterm = 0;
  {
    std::lock_guard lock(mu);
    acked_at_sigterm = acked.size();
  }
  absl::StatusOr<int> code = daemon_->Stop();
  for (std::thread& t : workers) t.join();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << daemon_->Stderr();

  std::vector<uint64_t> acked_copy;
  {
    std::lock_guard lock(mu);
    acked_copy = acked;
  }
  StartDaemon();
  HttpClient query(daemon_->query_port());
  std::vector<uint64_t> lost;
  for (uint64_t trace : acked_copy) {
    absl::StatusOr<HttpResponse> r = query.Get("/api/traces/" + Hex(TraceIdBytes(trace)));
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status != 200) {
      lost.push_back(trace);
      continue;
    }
    EXPECT_EQ(JaegerSpans(r->body), ExpectedSpans(trace, kSpans, "under-load"));
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << acked_copy.size()
                            << " acknowledged traces lost, the first is " << lost.front();
  std::cerr << "[under load] acknowledged " << acked_at_sigterm << " before SIGTERM, "
            << acked_copy.size() << " in all\n";
}

// An OTLP SDK keeps its gRPC connection open between exports; gRPC's Server::Shutdown waits out
// its deadline for such idle channels, so the daemon's grace period must stay short.
TEST_F(LifecycleTest, ShutdownWithAnIdleGrpcClientIsPrompt) {
  StartDaemon();
  OtlpGrpcClient client(daemon_->grpc_target());
  ExportTraceServiceRequest request;
  AddTrace(&request, 1, 1, "idle");
  ExportTraceServiceResponse response;
  ASSERT_TRUE(client.Export(request, &response).ok());
  const auto start = std::chrono::steady_clock::now();
  StopDaemonExpectSuccess();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2))
      << "SIGTERM took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms with an idle gRPC client connected";
}

TEST_F(LifecycleTest, BackpressureRefusesRetryablyAndNeverDropsAcknowledgedSpans) {
  // One shard with a one-byte queue: a request is admitted only when the queue is empty, so
  // concurrent requests are refused while the shard thread moves a large one into its buffer.
  settings_.num_shards = 1;
  settings_.max_queue_bytes_per_shard = "1";
  settings_.decision_wait = "60s";
  settings_.decision_wait_after_root_received = "60s";
  StartDaemon();

  constexpr int kThreadsPerTransport = 2;
  constexpr int kRequestsPerRound = 15;
  constexpr int kSpansPerTrace = 8;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);

  std::mutex mu;
  std::vector<uint64_t> accepted;
  std::vector<uint64_t> refused;
  int refused_grpc = 0;
  int refused_http = 0;
  std::vector<std::string> unexpected;
  std::atomic<uint64_t> next_trace{1000};

  auto accept = [&](uint64_t trace) {
    std::lock_guard lock(mu);
    accepted.push_back(trace);
  };
  auto refuse = [&](uint64_t trace, int* per_transport) {
    std::lock_guard lock(mu);
    refused.push_back(trace);
    ++*per_transport;
  };
  auto fail = [&](uint64_t trace, const std::string& what) {
    std::lock_guard lock(mu);
    unexpected.push_back(absl::StrCat("trace ", trace, ": ", what));
  };
  auto make_request = [](uint64_t trace) {
    ExportTraceServiceRequest request;
    AddTrace(&request, trace, kSpansPerTrace, "flood", /*padding_bytes=*/8192);
    return request;
  };
  auto grpc_worker = [&] {
    OtlpGrpcClient client(daemon_->grpc_target());
    for (int i = 0; i < kRequestsPerRound; ++i) {
      const uint64_t trace = next_trace.fetch_add(1);
      ExportTraceServiceResponse response;
      grpc::Status s = client.Export(make_request(trace), &response);
      if (s.ok()) {
        accept(trace);
        continue;
      }
      // A refusal is UNAVAILABLE with google.rpc.RetryInfo, so SDK exporters back off and retry.
      google::rpc::Status details;
      const bool retry_info = details.ParseFromString(s.error_details()) &&
                              details.details_size() > 0 &&
                              details.details(0).type_url().find("RetryInfo") != std::string::npos;
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE && retry_info) {
        refuse(trace, &refused_grpc);
      } else {
        fail(trace,
             absl::StrCat("gRPC code ", s.error_code(), (retry_info ? "" : " without RetryInfo"),
                          ": ", s.error_message()));
      }
    }
  };
  auto http_worker = [&] {
    HttpClient client(daemon_->http_port());
    for (int i = 0; i < kRequestsPerRound; ++i) {
      const uint64_t trace = next_trace.fetch_add(1);
      absl::StatusOr<HttpResponse> r =
          client.Post("/v1/traces", kProtobuf, make_request(trace).SerializeAsString());
      if (!r.ok()) {
        fail(trace, r.status().ToString());
      } else if (r->status == 200) {
        accept(trace);
      } else if (r->status == 503 && !r->Header("retry-after").empty()) {
        refuse(trace, &refused_http);
      } else {
        fail(trace, absl::StrCat("HTTP ", r->status, " retry-after \"", r->Header("retry-after"),
                                 "\": ", r->body));
      }
    }
  };

  // Flood in rounds until both transports have seen a refusal (or the deadline).
  int rounds = 0;
  while (true) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreadsPerTransport; ++i) {
      threads.emplace_back(grpc_worker);
      threads.emplace_back(http_worker);
    }
    for (std::thread& t : threads) t.join();
    ++rounds;
    std::lock_guard lock(mu);
    if ((refused_grpc > 0 && refused_http > 0) || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
  }
  std::cerr << "[backpressure] rounds " << rounds << ", accepted " << accepted.size()
            << ", refused " << refused_grpc << " over gRPC and " << refused_http << " over HTTP\n";
  ASSERT_TRUE(unexpected.empty()) << "answers that are neither success nor a retryable refusal: "
                                  << unexpected.front() << " (and " << unexpected.size() - 1
                                  << " more)";
  ASSERT_GT(refused_grpc, 0) << "no gRPC export refused in " << rounds << " rounds";
  ASSERT_GT(refused_http, 0) << "no HTTP export refused in " << rounds << " rounds";
  ASSERT_FALSE(accepted.empty());

  // The receivers counted exactly what they acknowledged and refused.
  HttpClient admin(daemon_->admin_port());
  absl::StatusOr<HttpResponse> metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const double accepted_spans =
      MetricValue(metrics->body, "otelcol_receiver_accepted_spans{transport=\"grpc\"}")
          .value_or(-1) +
      MetricValue(metrics->body, "otelcol_receiver_accepted_spans{transport=\"http\"}")
          .value_or(-1);
  const double refused_spans =
      MetricValue(metrics->body, "otelcol_receiver_refused_spans{transport=\"grpc\"}")
          .value_or(-1) +
      MetricValue(metrics->body, "otelcol_receiver_refused_spans{transport=\"http\"}").value_or(-1);
  EXPECT_EQ(accepted_spans, static_cast<double>(accepted.size() * kSpansPerTrace));
  EXPECT_EQ(refused_spans, static_cast<double>(refused.size() * kSpansPerTrace));

  // Every acknowledged trace is stored complete after shutdown; no refused one is stored.
  StopDaemonExpectSuccess();
  StartDaemon();
  HttpClient query(daemon_->query_port());
  int missing = 0;
  for (uint64_t trace : accepted) {
    absl::StatusOr<HttpResponse> r = query.Get("/api/traces/" + Hex(TraceIdBytes(trace)));
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status != 200) {
      ++missing;
      continue;
    }
    EXPECT_EQ(JaegerSpans(r->body).size(), static_cast<size_t>(kSpansPerTrace))
        << "trace " << trace;
  }
  EXPECT_EQ(missing, 0) << "acknowledged traces lost, of " << accepted.size();
  for (uint64_t trace : refused) {
    absl::StatusOr<HttpResponse> r = query.Get("/api/traces/" + Hex(TraceIdBytes(trace)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 404) << "refused trace " << trace << " was stored (partly?)";
  }
}

TEST_F(LifecycleTest, SecondDaemonOnTheSameStoreFailsNamingThePath) {
  StartDaemon();
  const std::string config = dir_->Join("second.yaml");
  {
    std::ofstream out(config);
    out << settings_.ToYaml();
  }
  absl::StatusOr<RunResult> second = RunTailtraced({"--config", config}, dir_->path());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->exit_code, 0) << second->stderr_text;
  EXPECT_NE(second->stderr_text.find(settings_.storage_path), std::string::npos)
      << second->stderr_text;
  EXPECT_EQ(second->stdout_text.find("tailtraced ready"), std::string::npos) << second->stdout_text;

  // The first one is unharmed.
  ExportTraceServiceRequest request;
  AddTrace(&request, 7, 2, "first");
  ExportTraceServiceResponse response;
  grpc::Status status = OtlpGrpcClient(daemon_->grpc_target()).Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  absl::StatusOr<HttpResponse> r = WaitForTrace(daemon_->query_port(), Hex(TraceIdBytes(7)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;
  StopDaemonExpectSuccess();
}

TEST_F(LifecycleTest, InvalidConfigNamesTheKeyAndLine) {
  const std::string config = dir_->Join("bad.yaml");
  {
    std::ofstream out(config);
    out << "storage:\n  pth: " << dir_->Join("data") << "\n";
  }
  absl::StatusOr<RunResult> run = RunTailtraced({"--config", config}, dir_->path());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_NE(run->exit_code, 0);
  EXPECT_NE(run->stderr_text.find("bad.yaml:2:"), std::string::npos) << run->stderr_text;
  EXPECT_NE(run->stderr_text.find("storage.pth"), std::string::npos) << run->stderr_text;
  EXPECT_NE(run->stderr_text.find("unknown key"), std::string::npos) << run->stderr_text;
  EXPECT_TRUE(run->stdout_text.empty()) << run->stdout_text;
}

TEST_F(LifecycleTest, VersionHelpAndUnknownFlag) {
  absl::StatusOr<RunResult> version = RunTailtraced({"--version"}, dir_->path());
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(version->exit_code, 0) << version->stderr_text;
  EXPECT_EQ(version->stdout_text.rfind("tailtraced ", 0), 0u) << version->stdout_text;
  EXPECT_NE(version->stdout_text.find(TAILTRACE_VERSION), std::string::npos)
      << version->stdout_text;

  absl::StatusOr<RunResult> help = RunTailtraced({"--help"}, dir_->path());
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_EQ(help->exit_code, 0) << help->stderr_text;
  EXPECT_NE(help->stdout_text.find("Usage: tailtraced"), std::string::npos) << help->stdout_text;
  EXPECT_NE(help->stdout_text.find("--config"), std::string::npos) << help->stdout_text;

  absl::StatusOr<RunResult> unknown = RunTailtraced({"--no-such-flag"}, dir_->path());
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_NE(unknown->exit_code, 0);
  EXPECT_NE(unknown->stderr_text.find("--no-such-flag"), std::string::npos) << unknown->stderr_text;
  // None of them started a daemon (no store created in the working directory).
  EXPECT_FALSE(std::ifstream(dir_->Join("data/CURRENT")).good());
}

}  // namespace
}  // namespace tailtrace::testing
