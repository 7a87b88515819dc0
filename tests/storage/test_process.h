#pragma once

// What the tests' private servers (clickhouse_server.h, zookeeper_server.h) share: a child
// process that dies with the thread that started it, free loopback ports, temporary
// directories that a crashed test process does not leave behind for long, and small file and
// socket helpers for starting and diagnosing a server.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tailtrace::storage::testing {

// strerror(errno).
std::string ErrnoText();

// A port that is free on 127.0.0.1 now (the kernel's pick for port 0) and that this process has
// not been given before, so that the ports of several servers never collide with each other.
// Another process may still take it before the server binds it: a server that fails with
// IsAddressInUse deserves a retry on new ports. Thread-safe.
[[nodiscard]] absl::StatusOr<int> FreePort();

// Whether a server's failed start (whose status quotes the server's output) was for a port that
// another process had taken ("Address already in use").
bool IsAddressInUse(const absl::Status& start);

// A new directory "$TMPDIR/<prefix><pid>-XXXXXX" (TMPDIR defaults to /tmp). Removes first the
// directories with this prefix that dead processes left behind (a crash, a timeout's SIGKILL).
[[nodiscard]] absl::StatusOr<std::string> MakeTempDir(const std::string& prefix);

// Writes `content` to `path`, replacing it.
[[nodiscard]] absl::Status WriteFile(const std::string& path, std::string_view content);
// The last `bytes` bytes of the file (all of a shorter one, "" for a missing one).
std::string FileTail(const std::string& path, size_t bytes);

// Connects to 127.0.0.1:port, sends `request` and returns all the peer sent until it closed the
// connection ("" when connecting failed). Each step times out after 1 s.
std::string Exchange(int port, std::string_view request);

// A child process: a program run with its standard output and error appended to a file, which
// is SIGKILLed when the thread that started it exits (PR_SET_PDEATHSIG), even when the test
// process crashes. Not thread-safe; the thread that started it should be the one to end it.
class ChildProcess {
 public:
  ChildProcess() = default;
  // Kills the process (SIGKILL) and waits for it.
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Runs argv[0] (a path) with `argv` in directory `cwd`, stdin from /dev/null and stdout and
  // stderr appended to `output_file`; inherits no other descriptor. Fails when it is running or
  // fork fails; a program that cannot run exits with code 127, as AwaitReady tells.
  [[nodiscard]] absl::Status Spawn(const std::vector<std::string>& argv, const std::string& cwd,
                                   const std::string& output_file);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Polls `ready` every 50 ms until it returns true (Ok), the process exits (FailedPrecondition
  // "exited with code N before it was ready"), or `timeout` passes (DeadlineExceeded "was not
  // ready within N s"; the process keeps running). The caller adds what it waited for and the
  // server's output.
  [[nodiscard]] absl::Status AwaitReady(absl::FunctionRef<bool()> ready,
                                        std::chrono::milliseconds timeout);

  // SIGTERM (and SIGCONT), then SIGKILL once `grace` has passed; waits until the process has
  // exited. Nothing when not running.
  void Stop(std::chrono::milliseconds grace);
  // SIGKILL, and waits. Nothing when not running.
  void Kill();
  // Freezes the process (SIGSTOP) and waits until every thread of it has stopped, so that it
  // answers nothing once Pause returns; thaws it (SIGCONT). Nothing when not running.
  void Pause();
  void Resume();

 private:
  pid_t pid_ = -1;
  bool paused_ = false;  // its stop was reaped: waiting for it again would block
};

}  // namespace tailtrace::storage::testing
