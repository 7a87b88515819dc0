#include "tests/storage/zookeeper_server.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tailtrace::storage::testing {
namespace {

constexpr const char* kDefaultJar = "/usr/share/java/zookeeper.jar";
// A logger for ZooKeeper's slf4j, from libslf4j-java (a dependency of Debian's zookeeper):
// without one it logs nothing, not even why it exits.
constexpr const char* kLoggerJar = "slf4j-simple.jar";
constexpr const char* kDirPrefix = "tailtrace-zookeeper-";
// A JVM starts in about a second here; a loaded machine may take many.
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(10);
// Tries with a new port when another process took it between our probe and the server's bind.
constexpr int kStartTries = 3;

// `name` found in a directory of $PATH, or "".
std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(std::string(dir), "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The jar, or FailedPrecondition saying how to install it.
absl::StatusOr<std::string> ZooKeeperJar() {
  const char* env = std::getenv("TAILTRACE_ZOOKEEPER_JAR");
  const std::string jar = env != nullptr && *env != '\0' ? env : kDefaultJar;
  if (::access(jar.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ZooKeeper is not installed at ", jar, " (", ErrnoText(),
        "): run `make deps` to install it, or set TAILTRACE_ZOOKEEPER_JAR to its jar"));
  }
  return jar;
}

// The jar, and the logger's jar next to it when there is one.
std::string ClassPath(const std::string& jar) {
  const std::filesystem::path logger = std::filesystem::path(jar).parent_path() / kLoggerJar;
  std::error_code ec;
  return std::filesystem::exists(logger, ec) ? absl::StrCat(jar, ":", logger.string()) : jar;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZooKeeperServer>> ZooKeeperServer::Create() {
  absl::StatusOr<std::string> jar = ZooKeeperJar();
  if (!jar.ok()) return jar.status();
  std::string java = FindInPath("java");
  if (java.empty()) {
    return absl::FailedPreconditionError(
        "java is not installed (not found in PATH): run `make deps` to install zookeeper");
  }
  std::unique_ptr<ZooKeeperServer> server(new ZooKeeperServer(std::move(java), ClassPath(*jar)));
  absl::StatusOr<std::string> dir = MakeTempDir(kDirPrefix);
  if (!dir.ok()) return dir.status();
  server->dir_ = *std::move(dir);
  absl::Status status;
  for (int attempt = 0; attempt < kStartTries; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    status = server->Start();
    if (!IsAddressInUse(status)) break;
  }
  if (!status.ok()) return status;
  return server;
}

ZooKeeperServer::~ZooKeeperServer() {
  process_.Kill();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status ZooKeeperServer::Start() {
  if (running()) return absl::OkStatus();
  // A small heap, a simple collector and no optimizing JIT: it starts faster and leaves the CPU
  // to the ClickHouse servers.
  const std::vector<std::string> argv = {
      java_,
      "-Xmx256m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      "-Dzookeeper.admin.enableServer=false",
      "-Dzookeeper.4lw.commands.whitelist=ruok,srvr",
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
      "-cp",
      classpath_,
      "org.apache.zookeeper.server.ZooKeeperServerMain",
      std::to_string(port_),
      dir_ + "/data",
  };
  if (absl::Status s = process_.Spawn(argv, dir_, dir_ + "/zookeeper.log"); !s.ok()) return s;
  const absl::Status status = process_.AwaitReady([this] { return Serving(); }, kStartTimeout);
  if (status.ok()) return status;
  process_.Kill();
  return absl::FailedPreconditionError(absl::StrCat("ZooKeeper (", java_, " -cp ", classpath_, ") ",
                                                    status.message(), " (serving on port ", port_,
                                                    "); its log ends with:\n", LogTail()));
}

void ZooKeeperServer::Stop() { process_.Stop(kStopGrace); }

void ZooKeeperServer::Pause() { process_.Pause(); }

void ZooKeeperServer::Resume() { process_.Resume(); }

bool ZooKeeperServer::Serving() const {
  // Not "ruok": it answers "imok" as soon as the port is open, while sessions are still refused
  // ("ZooKeeperServer not running") until the database is loaded. "srvr" says "Mode:
  // standalone" once the server serves, and "This ZooKeeper instance is not currently serving
  // requests" before.
  return absl::StrContains(Exchange(port_, "srvr"), "Mode: ");
}

std::string ZooKeeperServer::LogTail() const { return FileTail(dir_ + "/zookeeper.log", 3000); }

}  // namespace tailtrace::storage::testing
