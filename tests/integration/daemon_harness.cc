#include "tests/integration/daemon_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace tailtrace::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::atomic<int> g_file_counter{0};

std::string ErrnoText(int err) { return std::strerror(err); }

int64_t MillisLeft(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return std::max<int64_t>(0, left.count());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

// A spawned child: its pid, a pidfd (readable once it exits) and the read end of its stdout.
struct Child {
  pid_t pid = -1;
  int pidfd = -1;
  int stdout_fd = -1;
};

// Spawns `TailtracedPath() args...` in `work_dir` with stdin from /dev/null, stdout on a pipe and
// stderr into `stderr_path`, then applies `spawn`'s limits to it.
absl::StatusOr<Child> Spawn(const std::vector<std::string>& args, const std::string& work_dir,
                            const std::string& stderr_path, const SpawnOptions& spawn = {}) {
  const std::string binary = TailtracedPath();
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
  }
  const int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    const int err = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return absl::InternalError(absl::StrCat("open ", stderr_path, ": ", ErrnoText(err)));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 clears FD_CLOEXEC on the target, so only fds 0-2 reach the child.
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addchdir_np(&actions, work_dir.c_str());

  // The test process may block or ignore signals (gRPC ignores SIGPIPE); the daemon starts clean.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  Child child;
  const int rc = ::posix_spawn(&child.pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_fd);
  if (rc != 0) {
    ::close(out_pipe[0]);
    return absl::InternalError(absl::StrCat("posix_spawn ", binary, ": ", ErrnoText(rc)));
  }
  child.stdout_fd = out_pipe[0];
  const auto fail = [&child](const std::string& what, int err) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    CloseFd(&child.stdout_fd);
    CloseFd(&child.pidfd);
    return absl::InternalError(absl::StrCat(what, ": ", ErrnoText(err)));
  };
  if (spawn.max_open_files > 0) {
    const rlimit limit{spawn.max_open_files, spawn.max_open_files};
    if (::prlimit(child.pid, RLIMIT_NOFILE, &limit, nullptr) != 0) {
      return fail(absl::StrCat("prlimit(RLIMIT_NOFILE, ", spawn.max_open_files, ")"), errno);
    }
  }
  child.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd < 0) return fail("pidfd_open", errno);
  return child;
}

// Waits until `pidfd`'s process exits or the deadline passes; true when it exited.
bool WaitExited(int pidfd, SteadyClock::time_point deadline) {
  while (true) {
    pollfd p{pidfd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(MillisLeft(deadline)));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// Reaps `pid` (which has exited) and returns its exit code.
int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return ExitCodeOf(status);
}

// Parses "tailtraced ready grpc=H:P http=H:P query=H:P admin=H:P" into the four ports ("disabled"
// gives 0).
absl::Status ParseReadyLine(const std::string& line, int* grpc, int* http, int* query, int* admin) {
  constexpr std::string_view kPrefix = "tailtraced ready ";
  if (line.rfind(kPrefix, 0) != 0) {
    return absl::InternalError(absl::StrCat("unexpected first line on stdout: \"", line, "\""));
  }
  std::istringstream fields(line.substr(kPrefix.size()));
  std::string field;
  int found = 0;
  while (fields >> field) {
    const size_t eq = field.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = field.substr(0, eq);
    const std::string value = field.substr(eq + 1);
    int port = 0;
    if (value != "disabled") {
      const size_t colon = value.rfind(':');
      if (colon == std::string::npos) {
        return absl::InternalError(absl::StrCat("no port in ", field, " of \"", line, "\""));
      }
      port = std::atoi(value.c_str() + colon + 1);
      if (port <= 0 || port > 65535) {
        return absl::InternalError(absl::StrCat("bad port in ", field, " of \"", line, "\""));
      }
    }
    if (key == "grpc") *grpc = port, ++found;
    if (key == "http") *http = port, ++found;
    if (key == "query") *query = port, ++found;
    if (key == "admin") *admin = port, ++found;
  }
  if (found != 4) {
    return absl::InternalError(
        absl::StrCat("the ready line does not name grpc, http, query and admin: \"", line, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TailtracedPath() {
  // The environment can point the tests at another build of the binary.
  if (const char* env = std::getenv("TAILTRACED_PATH"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef TAILTRACED_PATH
  return TAILTRACED_PATH;
#else
  return "tailtraced";
#endif
}

// ---------------------------------------------------------------------------------------------
// TempDir

absl::StatusOr<TempDir> TempDir::Create(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix, "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", ErrnoText(errno)));
  }
  return TempDir(std::move(pattern));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    this->~TempDir();
    path_ = std::exchange(other.path_, "");
  }
  return *this;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

// ---------------------------------------------------------------------------------------------
// DaemonSettings

std::string DaemonSettings::ToYaml() const {
  std::string yaml =
      "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n";
  if (!grpc_max_recv_msg_size.empty()) {
    absl::StrAppend(&yaml, "        max_recv_msg_size: ", grpc_max_recv_msg_size, "\n");
  }
  absl::StrAppend(&yaml, "      http:\n        endpoint: 127.0.0.1:0\n");
  if (!http_max_request_body_size.empty()) {
    absl::StrAppend(&yaml, "        max_request_body_size: ", http_max_request_body_size, "\n");
  }
  absl::StrAppend(&yaml, "sampling:\n  decision_wait: ", decision_wait,
                  "\n  decision_wait_after_root_received: ", decision_wait_after_root_received,
                  "\n  tick_interval: ", tick_interval, "\n  num_shards: ", num_shards, "\n");
  if (!max_queue_bytes_per_shard.empty()) {
    absl::StrAppend(&yaml, "  max_queue_bytes_per_shard: ", max_queue_bytes_per_shard, "\n");
  }
  absl::StrAppend(&yaml, extra_sampling_yaml);
  absl::StrAppend(&yaml, "storage:\n  path: \"", storage_path, "\"\n", extra_storage_yaml);
  absl::StrAppend(&yaml, "query:\n  endpoint: 127.0.0.1:0\n  num_threads: 1\n", extra_query_yaml);
  absl::StrAppend(&yaml, "admin:\n  endpoint: 127.0.0.1:0\n");
  absl::StrAppend(&yaml, "log:\n  level: ", log_level, "\n");
  absl::StrAppend(&yaml, extra_yaml);
  return yaml;
}

// ---------------------------------------------------------------------------------------------
// RunTailtraced

absl::StatusOr<RunResult> RunTailtraced(const std::vector<std::string>& args,
                                        const std::string& work_dir, int64_t timeout_ms) {
  const std::string stderr_path =
      absl::StrCat(work_dir, "/run-stderr-", g_file_counter.fetch_add(1), ".log");
  absl::StatusOr<Child> child = Spawn(args, work_dir, stderr_path);
  if (!child.ok()) return child.status();
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);

  RunResult result;
  bool stdout_open = true;
  bool exited = false;
  while ((stdout_open || !exited) && MillisLeft(deadline) > 0) {
    pollfd fds[2] = {{stdout_open ? child->stdout_fd : -1, POLLIN, 0},
                     {exited ? -1 : child->pidfd, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(MillisLeft(deadline)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[0].revents != 0) {
      char buf[4096];
      const ssize_t got = ::read(child->stdout_fd, buf, sizeof(buf));
      if (got > 0) {
        result.stdout_text.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdout_open = false;
      }
    }
    if (fds[1].revents != 0) exited = true;
  }
  absl::Status status;
  if (!exited) {
    ::kill(child->pid, SIGKILL);
    status = absl::DeadlineExceededError(
        absl::StrCat("tailtraced did not exit within ", timeout_ms, " ms"));
  }
  result.exit_code = Reap(child->pid);
  ::close(child->stdout_fd);
  ::close(child->pidfd);
  result.stderr_text = ReadFile(stderr_path);
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat(status.message(), "; stderr:\n", result.stderr_text));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Daemon

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const std::string& dir,
                                                      const std::string& config_yaml,
                                                      int64_t timeout_ms) {
  return Start(dir, config_yaml, SpawnOptions{}, timeout_ms);
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const std::string& dir,
                                                      const std::string& config_yaml,
                                                      const SpawnOptions& spawn,
                                                      int64_t timeout_ms) {
  const int n = g_file_counter.fetch_add(1);
  const std::string config_path = absl::StrCat(dir, "/config-", n, ".yaml");
  {
    std::ofstream out(config_path, std::ios::binary | std::ios::trunc);
    out << config_yaml;
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", config_path));
  }
  std::unique_ptr<Daemon> daemon(new Daemon());
  daemon->stderr_path_ = absl::StrCat(dir, "/stderr-", n, ".log");
  absl::StatusOr<Child> child = Spawn({"--config", config_path}, dir, daemon->stderr_path_, spawn);
  if (!child.ok()) return child.status();
  daemon->pid_ = child->pid;
  daemon->pidfd_ = child->pidfd;
  daemon->stdout_fd_ = child->stdout_fd;
  daemon->running_ = true;

  // Read the first line of stdout until the deadline.
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  std::string out;
  std::string failure;
  while (out.find('\n') == std::string::npos) {
    pollfd p{daemon->stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(MillisLeft(deadline)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      failure = absl::StrCat("no ready line within ", timeout_ms, " ms");
      break;
    }
    char buf[1024];
    const ssize_t got = ::read(daemon->stdout_fd_, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      // stdout closed: the process is exiting.
      WaitExited(daemon->pidfd_, deadline);
      failure = "tailtraced closed stdout before its ready line";
      break;
    }
    out.append(buf, static_cast<size_t>(got));
  }
  if (failure.empty()) {
    const std::string line = out.substr(0, out.find('\n'));
    absl::Status parsed = ParseReadyLine(line, &daemon->grpc_port_, &daemon->http_port_,
                                         &daemon->query_port_, &daemon->admin_port_);
    if (parsed.ok()) return daemon;
    failure = std::string(parsed.message());
  }
  // The destructor kills and reaps the process; report how it ended and what it said.
  ::kill(daemon->pid_, SIGKILL);
  const int code = Reap(daemon->pid_);
  daemon->running_ = false;
  return absl::InternalError(absl::StrCat("tailtraced --config ", config_path, ": ", failure,
                                          " (exit code ", code, "); stdout: \"", out,
                                          "\"; stderr:\n", daemon->Stderr()));
}

Daemon::~Daemon() {
  if (running_) {
    ::kill(pid_, SIGKILL);
    Reap(pid_);
    running_ = false;
  }
  CloseFd(&pidfd_);
  CloseFd(&stdout_fd_);
}

absl::StatusOr<int> Daemon::Stop(int64_t timeout_ms) {
  if (!running_) return absl::FailedPreconditionError("tailtraced is not running");
  if (::kill(pid_, SIGTERM) != 0) {
    return absl::InternalError(absl::StrCat("kill(SIGTERM): ", ErrnoText(errno)));
  }
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  const bool exited = WaitExited(pidfd_, deadline);
  if (!exited) ::kill(pid_, SIGKILL);
  const int code = Reap(pid_);
  running_ = false;
  CloseFd(&pidfd_);
  CloseFd(&stdout_fd_);
  if (!exited) {
    return absl::DeadlineExceededError(absl::StrCat("tailtraced did not exit within ", timeout_ms,
                                                    " ms of SIGTERM (killed); stderr:\n",
                                                    Stderr()));
  }
  return code;
}

std::string Daemon::Stderr() const { return ReadFile(stderr_path_); }

}  // namespace tailtrace::testing
