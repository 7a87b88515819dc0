#include "tests/storage/clickhouse_server.h"

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
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace tailtrace::storage::testing {
namespace {

constexpr const char* kDefaultBinary = "/usr/sbin/clickhouse-server";
// The temporary directory's name: this, the test process's pid, "-" and a random suffix.
constexpr const char* kDirPrefix = "tailtrace-clickhouse-";
// Waiting for a starting server: /ping every 50 ms, 20 s at most.
constexpr int kPingAttempts = 400;
// Waiting for a stopping server: every 50 ms, 15 s at most before SIGKILL.
constexpr int kStopAttempts = 300;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// Tries with new ports when a server does not start (another process may take a port between
// our probe and the server's bind).
constexpr int kStartTries = 3;

constexpr const char* kConfig = R"(<yandex>
  <logger>
    <level>warning</level><log>DIR/server.log</log><errorlog>DIR/err.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>HTTP_PORT</http_port>TLS_BLOCK
  <tcp_port>TCP_PORT</tcp_port>
  <path>DIR/data/</path>
  <tmp_path>DIR/tmp/</tmp_path>
  <user_files_path>DIR/user_files/</user_files_path>
  <format_schema_path>DIR/format_schemas/</format_schema_path>
  <mark_cache_size>5368709</mark_cache_size>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <!-- A stopping server waits for its kept-alive connections to time out (10 s by default). -->
  <keep_alive_timeout>1</keep_alive_timeout>
</yandex>
)";

constexpr const char* kUsers = R"(<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </default>
    <USER>
      <password>PASSWORD</password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile><quota>default</quota>
    </USER>
  </users>
  <quotas><default></default></quotas>
</yandex>
)";

std::string ErrnoText() { return std::strerror(errno); }

// A port that is free on 127.0.0.1 now (the kernel's pick for port 0).
absl::StatusOr<int> FreePort() {
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

// Whether GET /ping on 127.0.0.1:port answers 200 "Ok.".
bool Ping(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[1024];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
    }
  }
  ::close(fd);
  return answer.starts_with("HTTP/1.") && answer.find(" 200 ") != std::string::npos &&
         answer.ends_with("\r\n\r\nOk.\n");
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
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

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by signal ", WTERMSIG(status));
  return absl::StrCat("ended (wait status ", status, ")");
}

// Removes the directories that test processes which died without cleaning up (a crash, a
// timeout's SIGKILL) left in `tmp`: kDirPrefix, their pid, "-", a random suffix.
void RemoveDirectoriesOfDeadProcesses(const std::string& tmp) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tmp, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kDirPrefix)) continue;
    pid_t pid = 0;
    const char* digits = name.data() + std::strlen(kDirPrefix);
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

// The server binary, or FailedPrecondition saying how to install it.
absl::StatusOr<std::string> ServerBinary() {
  const char* env = std::getenv("TAILTRACE_CLICKHOUSE_SERVER");
  const std::string binary = env != nullptr && *env != '\0' ? env : kDefaultBinary;
  if (::access(binary.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "clickhouse-server is not installed at ", binary, " (", ErrnoText(),
        "): run `make deps` to install it, or set TAILTRACE_CLICKHOUSE_SERVER to its path"));
  }
  return binary;
}

absl::StatusOr<ClickHouseServer*> ClickHouseServer::Shared() {
  static std::mutex mu;
  static std::unique_ptr<ClickHouseServer> server;
  static absl::Status error;
  std::lock_guard lock(mu);
  if (server == nullptr && error.ok()) {
    absl::StatusOr<std::string> binary = ServerBinary();
    if (!binary.ok()) {
      error = binary.status();
    } else {
      std::unique_ptr<ClickHouseServer> made(new ClickHouseServer(*binary));
      error = made->Create();
      if (error.ok()) server = std::move(made);
    }
  }
  if (!error.ok()) return error;
  return server.get();
}

absl::StatusOr<std::unique_ptr<ClickHouseServer>> ClickHouseServer::StartWithTls(
    std::string cert_file, std::string key_file) {
  absl::StatusOr<std::string> binary = ServerBinary();
  if (!binary.ok()) return binary.status();
  std::unique_ptr<ClickHouseServer> made(new ClickHouseServer(*binary));
  made->cert_file_ = std::move(cert_file);
  made->key_file_ = std::move(key_file);
  if (absl::Status s = made->Create(); !s.ok()) return s;
  return made;
}

ClickHouseServer::~ClickHouseServer() {
  // Its data goes too: no need to wait for a graceful shutdown (which waits for kept-alive
  // connections to time out).
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status ClickHouseServer::Create() {
  const char* env = std::getenv("TMPDIR");
  const std::string tmp = env != nullptr && *env != '\0' ? env : "/tmp";
  RemoveDirectoriesOfDeadProcesses(tmp);
  std::string pattern = absl::StrCat(tmp, "/", kDirPrefix, ::getpid(), "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", ErrnoText()));
  }
  dir_ = pattern;
  absl::Status status;
  for (int attempt = 0; attempt < kStartTries; ++attempt) {
    absl::StatusOr<int> http = FreePort();
    absl::StatusOr<int> tcp = FreePort();
    if (!http.ok()) return http.status();
    if (!tcp.ok()) return tcp.status();
    if (*http == *tcp) {
      status = absl::InternalError("the kernel gave the same free port twice");
      continue;
    }
    http_port_ = *http;
    tcp_port_ = *tcp;
    if (!cert_file_.empty()) {
      absl::StatusOr<int> https = FreePort();
      if (!https.ok()) return https.status();
      if (*https == *http || *https == *tcp) {
        status = absl::InternalError("the kernel gave the same free port twice");
        continue;
      }
      https_port_ = *https;
    }
    if (status = WriteConfig(); !status.ok()) return status;
    status = Start();
    if (status.ok()) return status;
  }
  return status;
}

absl::Status ClickHouseServer::WriteConfig() const {
  const std::string tls =
      cert_file_.empty()
          ? ""
          : absl::StrCat("\n  <https_port>", https_port_,
                         "</https_port>\n  <openSSL><server><certificateFile>", cert_file_,
                         "</certificateFile><privateKeyFile>", key_file_,
                         "</privateKeyFile><verificationMode>none</verificationMode>"
                         "<loadDefaultCAFile>false</loadDefaultCAFile></server></openSSL>");
  const std::string config =
      absl::StrReplaceAll(kConfig, {{"DIR", dir_},
                                    {"HTTP_PORT", std::to_string(http_port_)},
                                    {"TLS_BLOCK", tls},
                                    {"TCP_PORT", std::to_string(tcp_port_)}});
  const std::string users = absl::StrReplaceAll(kUsers, {{"USER", kUser}, {"PASSWORD", kPassword}});
  if (absl::Status s = WriteFile(dir_ + "/config.xml", config); !s.ok()) return s;
  return WriteFile(dir_ + "/users.xml", users);
}

void ClickHouseServer::Pause() {
  if (running()) ::kill(pid_, SIGSTOP);
}

void ClickHouseServer::Resume() {
  if (running()) ::kill(pid_, SIGCONT);
}

absl::Status ClickHouseServer::Start() {
  if (running()) return absl::OkStatus();
  if (absl::Status s = Spawn(); !s.ok()) return s;
  return AwaitPing();
}

absl::Status ClickHouseServer::Spawn() {
  // Everything the child needs is made before fork: it may only make async-signal-safe calls.
  const std::string config_arg = absl::StrCat("--config-file=", dir_, "/config.xml");
  const std::string output = dir_ + "/stdout.log";
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", ErrnoText()));
  if (pid == 0) {
    // The server dies with the thread that started it, even when the test process crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null >= 0) ::dup2(null, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    CloseInheritedDescriptors();
    if (::chdir(dir_.c_str()) != 0) ::_exit(127);
    ::execl(binary_.c_str(), binary_.c_str(), config_arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status ClickHouseServer::AwaitPing() {
  for (int attempt = 0; attempt < kPingAttempts; ++attempt) {
    if (Ping(http_port_)) return absl::OkStatus();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::FailedPreconditionError(
          absl::StrCat(binary_, " ", WaitStatusText(status), " before answering /ping on port ",
                       http_port_, "; its output ends with:\n", LogTail()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Stop();
  return absl::FailedPreconditionError(
      absl::StrCat(binary_, " did not answer /ping on port ", http_port_,
                   " within 20 s; its output ends with:\n", LogTail()));
}

void ClickHouseServer::Stop() {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  for (int attempt = 0; attempt < kStopAttempts; ++attempt) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string ClickHouseServer::endpoint() const {
  return absl::StrCat("http://127.0.0.1:", http_port_);
}

std::string ClickHouseServer::LogTail() const {
  return FileTail(dir_ + "/err.log", 2000) + FileTail(dir_ + "/stdout.log", 1000);
}

}  // namespace tailtrace::storage::testing
