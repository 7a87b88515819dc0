#pragma once

// A real ClickHouse server for tests: /usr/sbin/clickhouse-server (or $TAILTRACE_CLICKHOUSE_SERVER)
// started by the test process on free loopback ports, with a config of its own in a fresh
// temporary directory (data, logs and all), and stopped and removed at exit. The config is
// tests/clickhouse/'s config.xml and users.xml, which the e2e tests and the bench use too. Its
// users: "default" (no password) and kUser (password kPassword). It closes kept-alive
// connections after 1 s idle (keep_alive_timeout), so that Stop is quick; clients meet stale
// connections. Several servers make a cluster in clickhouse_cluster.h.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/storage/test_process.h"

namespace tailtrace::storage::testing {

// The file `name` of tests/clickhouse/ (config.xml, users.xml, cluster.xml: its README.md says
// what they hold) with each "@KEY@" of `values` replaced by its value. FailedPrecondition naming
// the file when it is missing, or when a placeholder of it is not in `values`.
[[nodiscard]] absl::StatusOr<std::string> ClickHouseConfigTemplate(
    std::string_view name, const std::vector<std::pair<std::string, std::string>>& values);

class ClickHouseServer {
 public:
  // A user with a password, besides "default", as tests/clickhouse/users.xml has it.
  static constexpr const char* kUser = "tailtrace";
  static constexpr const char* kPassword = "secret";

  // What a server of the caller's own (Prepare) serves besides HTTP and native TCP.
  struct Options {
    // With key_file: also serve HTTPS on https_port(), with this PEM certificate and key.
    // Default: none.
    std::string cert_file;
    std::string key_file;
    // Also pick a free port for interserver HTTP (interserver_http_port()), from which the
    // replicas of a replicated table fetch parts; the server serves it once a config.d file
    // (AddConfig) names it, as tests/clickhouse/cluster.xml does. Default: false.
    bool interserver_http = false;
    // The level of dir()/server.log ("debug", "information"...; err.log has the errors alone).
    // Default: warning.
    std::string log_level = "warning";
    // Start also waits until this returns true (asked every 50 ms once /ping answers): for
    // what the server starts in the background after it answers, as LogSinceStart may tell.
    // Default: none.
    std::function<bool(const ClickHouseServer&)> ready;
  };

  // The test process's server, started at the first call (later calls return the same one, or
  // the same error). Fails (FailedPrecondition, saying to run `make deps`) when the binary is
  // missing, or when the server does not start (quoting its error log). Call it from the test's
  // main thread: the server is killed when the thread that started it exits.
  [[nodiscard]] static absl::StatusOr<ClickHouseServer*> Shared();

  // A server of the caller's own (not the shared one) that also serves HTTPS on https_port(),
  // with the PEM certificate and key given. Fails as Shared does. Main thread only.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseServer>> StartWithTls(
      std::string cert_file, std::string key_file);

  // A server of the caller's own, not started yet: its directory, free ports and config.xml are
  // made, so that the caller can learn its ports, AddConfig and then Start. FailedPrecondition
  // (saying to run `make deps`) when the binary is missing, or naming a missing template.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseServer>> Prepare(Options options);

  // Kills the server (SIGKILL: its data goes anyway) and removes its directory.
  ~ClickHouseServer();
  ClickHouseServer(const ClickHouseServer&) = delete;
  ClickHouseServer& operator=(const ClickHouseServer&) = delete;

  // Adds config.d/<name>.xml, which the server merges into its config.xml at its next Start:
  // `xml` is the whole file, "<yandex>...</yandex>".
  [[nodiscard]] absl::Status AddConfig(const std::string& name, std::string_view xml) const;

  // Stops the server (SIGTERM, SIGKILL after 15 s; a paused server is resumed first) and waits
  // for it to exit; its data stays. Nothing when it is not running.
  void Stop();
  // Starts the server (again: on the same ports, with the same data) and waits until it answers
  // /ping and Options::ready holds, 20 s at most. Nothing when it is running. Main thread only, as
  // Shared.
  [[nodiscard]] absl::Status Start();
  bool running() const { return process_.running(); }
  // Freezes the server (SIGSTOP: connections stay open, requests wait unanswered; every thread
  // has stopped when Pause returns) and thaws it (SIGCONT). Nothing when it is not running.
  void Pause();
  void Resume();

  // "http://127.0.0.1:PORT".
  std::string endpoint() const;
  int http_port() const { return http_port_; }
  int tcp_port() const { return tcp_port_; }
  // The HTTPS port (StartWithTls, Options::key_file), else 0.
  int https_port() const { return https_port_; }
  // The interserver HTTP port (Options::interserver_http), else 0.
  int interserver_http_port() const { return interserver_http_port_; }
  // The temporary directory holding the config, data and logs.
  const std::string& dir() const { return dir_; }
  // What dir()/server.log got since the server last started.
  std::string LogSinceStart() const;

 private:
  friend class ClickHouseCluster;  // starts its servers at once: Spawn, then AwaitReady

  ClickHouseServer(std::string binary, Options options)
      : binary_(std::move(binary)), options_(std::move(options)) {}

  // Prepare and Start, again on new ports when another process took one.
  static absl::StatusOr<std::unique_ptr<ClickHouseServer>> PrepareAndStart(Options options);
  absl::Status AssignPortsAndWriteConfig();
  absl::Status WriteConfig() const;
  absl::Status Spawn();
  absl::Status AwaitReady();
  std::string LogTail() const;

  const std::string binary_;
  const Options options_;
  std::string dir_;
  int http_port_ = 0;
  int tcp_port_ = 0;
  int https_port_ = 0;
  int interserver_http_port_ = 0;
  uintmax_t log_start_ = 0;  // the size of server.log when the server last started
  ChildProcess process_;
};

}  // namespace tailtrace::storage::testing
