#pragma once

// A real ClickHouse server for tests: /usr/sbin/clickhouse-server (or $TAILTRACE_CLICKHOUSE_SERVER)
// started by the test process on free loopback ports, with a config of its own in a fresh
// temporary directory (data, logs and all), and stopped and removed at exit. Its users:
// "default" (no password) and "tailtrace" (password "secret"). It closes kept-alive connections
// after 1 s idle (keep_alive_timeout), so that Stop is quick; clients meet stale connections.

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tailtrace::storage::testing {

class ClickHouseServer {
 public:
  static constexpr const char* kUser = "tailtrace";
  static constexpr const char* kPassword = "secret";

  // The test process's server, started at the first call (later calls return the same one, or
  // the same error). Fails (FailedPrecondition, saying to run `make deps`) when the binary is
  // missing, or when the server does not start (quoting its error log). Call it from the test's
  // main thread: the server is killed when the thread that started it exits.
  [[nodiscard]] static absl::StatusOr<ClickHouseServer*> Shared();

  // A server of the caller's own (not the shared one) that also serves HTTPS on https_port(),
  // with the PEM certificate and key given. Fails as Shared does. Main thread only.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseServer>> StartWithTls(
      std::string cert_file, std::string key_file);

  // Kills the server (SIGKILL: its data goes anyway) and removes its directory.
  ~ClickHouseServer();
  ClickHouseServer(const ClickHouseServer&) = delete;
  ClickHouseServer& operator=(const ClickHouseServer&) = delete;

  // Stops the server (SIGTERM, SIGKILL after 15 s) and waits for it to exit; its data stays.
  // Nothing when it is not running.
  void Stop();
  // Starts the server again on the same ports and waits until it answers /ping. Nothing when it
  // is running. Main thread only, as Shared.
  [[nodiscard]] absl::Status Start();
  bool running() const { return pid_ > 0; }
  // Freezes the server (SIGSTOP: connections stay open, requests wait unanswered) and thaws it
  // (SIGCONT). Nothing when it is not running.
  void Pause();
  void Resume();

  // "http://127.0.0.1:PORT".
  std::string endpoint() const;
  int http_port() const { return http_port_; }
  int tcp_port() const { return tcp_port_; }
  // The HTTPS port (StartWithTls), else 0.
  int https_port() const { return https_port_; }
  // The temporary directory holding the config, data and logs.
  const std::string& dir() const { return dir_; }

 private:
  explicit ClickHouseServer(std::string binary) : binary_(std::move(binary)) {}

  absl::Status Create();
  absl::Status WriteConfig() const;
  absl::Status Spawn();
  absl::Status AwaitPing();
  std::string LogTail() const;

  const std::string binary_;
  std::string dir_;
  int http_port_ = 0;
  int tcp_port_ = 0;
  int https_port_ = 0;
  std::string cert_file_;  // with key_file_: serve HTTPS too
  std::string key_file_;
  pid_t pid_ = -1;
};

}  // namespace tailtrace::storage::testing
