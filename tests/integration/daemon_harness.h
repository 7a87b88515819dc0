#pragma once

// Runs the real `tailtraced` binary as a child process for integration tests.
//
// A Daemon writes its YAML config into a directory, spawns `tailtraced --config FILE` with stdout
// on a pipe (for the ready line) and stderr in a file (for failure messages), and parses the bound
// ports from the ready line:
//   tailtraced ready grpc=HOST:PORT http=HOST:PORT query=HOST:PORT admin=HOST:PORT
// Every wait has a deadline (poll() on the pipe and on a pidfd); nothing sleeps.
//
// Not thread-safe: one test thread drives a Daemon.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::testing {

// The path of the tailtraced binary under test: $TAILTRACED_PATH when set, else the build's
// TAILTRACED_PATH definition.
std::string TailtracedPath();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  [[nodiscard]] static absl::StatusOr<TempDir> Create(const std::string& prefix = "tailtraced");
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Settings of a test daemon; ToYaml() renders them as a tailtraced config. Every endpoint is
// 127.0.0.1:0.
struct DaemonSettings {
  // storage.path. Required.
  std::string storage_path;
  // sampling.decision_wait. Default: 200ms
  std::string decision_wait = "200ms";
  // sampling.decision_wait_after_root_received. Default: 50ms
  std::string decision_wait_after_root_received = "50ms";
  // sampling.tick_interval. Default: 20ms (quick decisions keep the tests fast)
  std::string tick_interval = "20ms";
  // sampling.num_shards. Default: 2
  int num_shards = 2;
  // sampling.max_queue_bytes_per_shard; empty keeps the daemon's default. Default: ""
  std::string max_queue_bytes_per_shard;
  // More keys of the sampling section, each line indented by two spaces. Default: ""
  std::string extra_sampling_yaml;
  // receivers.otlp.protocols.http.max_request_body_size; empty keeps the default. Default: ""
  std::string http_max_request_body_size;
  // receivers.otlp.protocols.grpc.max_recv_msg_size; empty keeps the default. Default: ""
  std::string grpc_max_recv_msg_size;
  // More keys of the storage section, each line indented by two spaces. Default: ""
  std::string extra_storage_yaml;
  // log.level. Default: info
  std::string log_level = "info";
  // More keys of the query section, each line indented by two spaces. Default: ""
  std::string extra_query_yaml;
  // More top-level sections (e.g. "limits:\n  max_attributes_per_span: 8\n" or memory_limiter),
  // appended as they are. Default: ""
  std::string extra_yaml;

  std::string ToYaml() const;
};

// How the tailtraced process is started, beyond its config.
struct SpawnOptions {
  // RLIMIT_NOFILE (soft and hard) of the daemon. posix_spawn cannot set limits, so it is set on the
  // child with prlimit(2) right after the spawn: before the daemon has opened its store in
  // practice, and in any case before Daemon::Start returns. 0 = the test process's limit.
  // Default: 0
  uint64_t max_open_files = 0;
};

// The result of a run of tailtraced to completion.
struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs `tailtraced args...` in `work_dir` until it exits; the process is killed (and an error
// returned) when it is still running after `timeout_ms`.
[[nodiscard]] absl::StatusOr<RunResult> RunTailtraced(const std::vector<std::string>& args,
                                                      const std::string& work_dir,
                                                      int64_t timeout_ms = 10'000);

// One running tailtraced.
class Daemon {
 public:
  // Writes `config_yaml` to `dir`/config-N.yaml, starts tailtraced with it and waits up to
  // `timeout_ms` for the ready line. Fails (with the daemon's stderr in the message) when the
  // process exits or stays silent until the deadline.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Daemon>> Start(const std::string& dir,
                                                                     const std::string& config_yaml,
                                                                     int64_t timeout_ms = 10'000);
  // The same, with process settings (e.g. a file descriptor limit).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Daemon>> Start(const std::string& dir,
                                                                     const std::string& config_yaml,
                                                                     const SpawnOptions& spawn,
                                                                     int64_t timeout_ms = 10'000);
  // Kills the process (SIGKILL) when it is still running.
  ~Daemon();

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Sends SIGTERM and waits up to `timeout_ms` for the exit; returns the exit code (128 + signal
  // number when a signal ended it). On a timeout the process is killed and an error returned.
  [[nodiscard]] absl::StatusOr<int> Stop(int64_t timeout_ms = 30'000);

  pid_t pid() const { return pid_; }
  bool running() const { return running_; }
  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  int query_port() const { return query_port_; }
  int admin_port() const { return admin_port_; }
  // "127.0.0.1:PORT" of the gRPC receiver, for a channel target.
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  // Everything the daemon wrote to stderr so far.
  std::string Stderr() const;

 private:
  Daemon() = default;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdout_fd_ = -1;
  bool running_ = false;
  std::string stderr_path_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  int query_port_ = 0;
  int admin_port_ = 0;
};

}  // namespace tailtrace::testing
