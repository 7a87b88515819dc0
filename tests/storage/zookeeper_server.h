#pragma once

// A real ZooKeeper for tests (the coordinator of a ClickHouse cluster: clickhouse_cluster.h):
// Debian's zookeeper.jar ($TAILTRACE_ZOOKEEPER_JAR to use another) run standalone by `java`
// (ZooKeeperServerMain) with a small heap, on a free loopback port, with its data in a fresh
// temporary directory that is removed with it. It answers the four-letter commands "ruok" and
// "srvr" only; the admin server is off. Its log (warnings and errors) is in
// dir()/zookeeper.log.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/storage/test_process.h"

namespace tailtrace::storage::testing {

class ZooKeeperServer {
 public:
  // Starts a ZooKeeper and waits until it serves clients (30 s at most; "srvr" tells, as
  // "ruok" does not). Fails with
  // FailedPrecondition, saying to run `make deps`, when java or the jar is missing, and when the
  // server does not start (quoting its log). Call it from the test's main thread: the server is
  // killed when the thread that started it exits.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ZooKeeperServer>> Create();

  // Kills the server and removes its directory.
  ~ZooKeeperServer();
  ZooKeeperServer(const ZooKeeperServer&) = delete;
  ZooKeeperServer& operator=(const ZooKeeperServer&) = delete;

  // Stops the server (SIGTERM, SIGKILL after 10 s); its data stays. Nothing when not running.
  void Stop();
  // Starts it again on the same port, with the same data, as Create does. Nothing when running.
  // Main thread only, as Create.
  [[nodiscard]] absl::Status Start();
  bool running() const { return process_.running(); }
  // Freezes the server (SIGSTOP) and thaws it (SIGCONT). Nothing when not running.
  void Pause();
  void Resume();

  // The client port on 127.0.0.1.
  int port() const { return port_; }
  // The temporary directory holding the data (dir()/data) and the log.
  const std::string& dir() const { return dir_; }

 private:
  ZooKeeperServer(std::string java, std::string classpath)
      : java_(std::move(java)), classpath_(std::move(classpath)) {}

  // Whether the server accepts sessions.
  bool Serving() const;
  std::string LogTail() const;

  const std::string java_;
  const std::string classpath_;
  std::string dir_;
  int port_ = 0;
  ChildProcess process_;
};

}  // namespace tailtrace::storage::testing
