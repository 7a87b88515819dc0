#include "tests/storage/test_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tailtrace::storage::testing {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);
// FreePort asks the kernel this many times for a port not handed out before.
constexpr int kFreePortTries = 100;

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by signal ", WTERMSIG(status));
  return absl::StrCat("ended (wait status ", status, ")");
}

// A port the kernel picks for 127.0.0.1:0.
absl::StatusOr<int> KernelPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", ErrnoText()));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = ErrnoText();
    ::close(fd);
    return absl::InternalError(absl::StrCat("binding 127.0.0.1:0: ", error));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Removes the directories that test processes which died without cleaning up left in `tmp`:
// `prefix`, their pid, "-", a random suffix.
void RemoveDirectoriesOfDeadProcesses(const std::string& tmp, const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tmp, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    pid_t pid = 0;
    const char* digits = name.data() + prefix.size();
    const auto [end, error] = std::from_chars(digits, name.data() + name.size(), pid);
    if (error != std::errc() || *end != '-' || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ec);
  }
}

// In the child between fork and exec (async-signal-safe calls only): every descriptor above
// stderr closed, so that the server holds none of the test's sockets.
void CloseInheritedDescriptors() {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return;
#endif
  rlimit limit{};
  const rlim_t max = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
  for (rlim_t fd = 3; fd < max; ++fd) ::close(static_cast<int>(fd));
}

}  // namespace

std::string ErrnoText() { return std::strerror(errno); }

absl::StatusOr<int> FreePort() {
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < kFreePortTries; ++attempt) {
    absl::StatusOr<int> port = KernelPort();
    if (!port.ok()) return port.status();
    if (given.insert(*port).second) return *port;
  }
  return absl::InternalError("the kernel keeps giving ports this process was given before");
}

bool IsAddressInUse(const absl::Status& start) {
  return absl::StrContains(start.message(), "Address already in use");
}

absl::StatusOr<std::string> MakeTempDir(const std::string& prefix) {
  const char* env = std::getenv("TMPDIR");
  const std::string tmp = env != nullptr && *env != '\0' ? env : "/tmp";
  RemoveDirectoriesOfDeadProcesses(tmp, prefix);
  std::string pattern = absl::StrCat(tmp, "/", prefix, ::getpid(), "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", ErrnoText()));
  }
  return pattern;
}

absl::Status WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

std::string Exchange(int port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[1024];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
  }
  ::close(fd);
  return answer;
}

absl::Status ChildProcess::Spawn(const std::vector<std::string>& argv, const std::string& cwd,
                                 const std::string& output_file) {
  if (running()) return absl::FailedPreconditionError("the process is running");
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  // Everything the child needs is made before fork: it may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", ErrnoText()));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent died before prctl: nobody would kill this process.
    if (::getppid() != parent) ::_exit(127);
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null >= 0) ::dup2(null, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    CloseInheritedDescriptors();
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  paused_ = false;
  return absl::OkStatus();
}

absl::Status ChildProcess::AwaitReady(absl::FunctionRef<bool()> ready,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ready()) return absl::OkStatus();
    int status = 0;
    if (running() && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat(WaitStatusText(status), " before it was ready"));
    }
    if (!running()) return absl::FailedPreconditionError("it is not running");
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("was not ready within ",
                       std::chrono::duration_cast<std::chrono::seconds>(timeout).count(), " s"));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  // A paused process handles SIGTERM only once continued.
  Resume();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Kill();
}

void ChildProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void ChildProcess::Pause() {
  if (!running() || paused_) return;
  ::kill(pid_, SIGSTOP);
  paused_ = true;
  // kill returns before the threads running on other cores have stopped; waitpid reports the
  // stop once all have.
  int status = 0;
  if (::waitpid(pid_, &status, WUNTRACED) == pid_ && !WIFSTOPPED(status)) pid_ = -1;
}

void ChildProcess::Resume() {
  if (running()) ::kill(pid_, SIGCONT);
  paused_ = false;
}

}  // namespace tailtrace::storage::testing
