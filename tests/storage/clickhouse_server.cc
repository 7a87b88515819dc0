#include "tests/storage/clickhouse_server.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace tailtrace::storage::testing {
namespace {

constexpr const char* kDefaultBinary = "/usr/sbin/clickhouse-server";
// The temporary directory's name: this, the test process's pid, "-" and a random suffix.
constexpr const char* kDirPrefix = "tailtrace-clickhouse-";
constexpr auto kStartTimeout = std::chrono::seconds(20);
// Waiting for a stopping server before SIGKILL.
constexpr auto kStopGrace = std::chrono::seconds(15);
// Tries with new ports when a server does not start because another process took a port
// between our probe and the server's bind.
constexpr int kStartTries = 3;

// Where ClickHouseConfigTemplate finds its files: tests/clickhouse/ of the source tree.
#ifndef TAILTRACE_CLICKHOUSE_TEMPLATES
#error "TAILTRACE_CLICKHOUSE_TEMPLATES (tests/storage/CMakeLists.txt) names tests/clickhouse/"
#endif
constexpr const char* kTemplates = TAILTRACE_CLICKHOUSE_TEMPLATES;

// The first "@KEY@" of `text` (KEY of capitals, digits and underscores), or "".
std::string FirstPlaceholder(std::string_view text) {
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    size_t end = at + 1;
    while (end < text.size() &&
           (absl::ascii_isupper(text[end]) || absl::ascii_isdigit(text[end]) || text[end] == '_')) {
      ++end;
    }
    if (end > at + 1 && end < text.size() && text[end] == '@') {
      return std::string(text.substr(at, end + 1 - at));
    }
  }
  return "";
}

// Whether GET /ping on 127.0.0.1:port answers 200 "Ok.".
bool Ping(int port) {
  const std::string answer = Exchange(port, "GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  return answer.starts_with("HTTP/1.") && answer.find(" 200 ") != std::string::npos &&
         answer.ends_with("\r\n\r\nOk.\n");
}

// `count` ports from FreePort.
absl::StatusOr<std::vector<int>> FreePorts(int count) {
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    ports.push_back(*port);
  }
  return ports;
}

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

}  // namespace

absl::StatusOr<std::string> ClickHouseConfigTemplate(
    std::string_view name, const std::vector<std::pair<std::string, std::string>>& values) {
  const std::string path = absl::StrCat(kTemplates, "/", std::string(name));
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ClickHouse config template ", path, " cannot be read (", ErrnoText(),
                     "): tests/clickhouse/README.md says what it holds"));
  }
  std::stringstream content;
  content << in.rdbuf();
  std::vector<std::pair<std::string, std::string>> replacements;
  for (const auto& [key, value] : values) {
    replacements.emplace_back(absl::StrCat("@", key, "@"), value);
  }
  std::string text = absl::StrReplaceAll(content.str(), replacements);
  if (const std::string left = FirstPlaceholder(text); !left.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the ClickHouse config template ", path,
                                                      " has ", left, ", which is not filled"));
  }
  return text;
}

absl::StatusOr<ClickHouseServer*> ClickHouseServer::Shared() {
  static std::mutex mu;
  static std::unique_ptr<ClickHouseServer> server;
  static absl::Status error;
  std::lock_guard lock(mu);
  if (server == nullptr && error.ok()) {
    absl::StatusOr<std::unique_ptr<ClickHouseServer>> made = PrepareAndStart(Options{});
    if (made.ok()) {
      server = *std::move(made);
    } else {
      error = made.status();
    }
  }
  if (!error.ok()) return error;
  return server.get();
}

absl::StatusOr<std::unique_ptr<ClickHouseServer>> ClickHouseServer::StartWithTls(
    std::string cert_file, std::string key_file) {
  Options options;
  options.cert_file = std::move(cert_file);
  options.key_file = std::move(key_file);
  return PrepareAndStart(std::move(options));
}

absl::StatusOr<std::unique_ptr<ClickHouseServer>> ClickHouseServer::Prepare(Options options) {
  absl::StatusOr<std::string> binary = ServerBinary();
  if (!binary.ok()) return binary.status();
  std::unique_ptr<ClickHouseServer> server(
      new ClickHouseServer(*std::move(binary), std::move(options)));
  absl::StatusOr<std::string> dir = MakeTempDir(kDirPrefix);
  if (!dir.ok()) return dir.status();
  server->dir_ = *std::move(dir);
  std::error_code ec;
  if (!std::filesystem::create_directory(server->dir_ + "/config.d", ec)) {
    return absl::InternalError(absl::StrCat("mkdir ", server->dir_, "/config.d: ", ec.message()));
  }
  if (absl::Status s = server->AssignPortsAndWriteConfig(); !s.ok()) return s;
  return server;
}

absl::StatusOr<std::unique_ptr<ClickHouseServer>> ClickHouseServer::PrepareAndStart(
    Options options) {
  absl::StatusOr<std::unique_ptr<ClickHouseServer>> server = Prepare(std::move(options));
  if (!server.ok()) return server.status();
  absl::Status status = (*server)->Start();
  for (int attempt = 1; attempt < kStartTries && IsAddressInUse(status); ++attempt) {
    if (absl::Status s = (*server)->AssignPortsAndWriteConfig(); !s.ok()) return s;
    status = (*server)->Start();
  }
  if (!status.ok()) return status;
  return server;
}

ClickHouseServer::~ClickHouseServer() {
  // Its data goes too: no need to wait for a graceful shutdown (which waits for kept-alive
  // connections to time out).
  process_.Kill();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status ClickHouseServer::AssignPortsAndWriteConfig() {
  const int count = 2 + (options_.key_file.empty() ? 0 : 1) + (options_.interserver_http ? 1 : 0);
  absl::StatusOr<std::vector<int>> ports = FreePorts(count);
  if (!ports.ok()) return ports.status();
  auto next = ports->begin();
  http_port_ = *next++;
  tcp_port_ = *next++;
  https_port_ = options_.key_file.empty() ? 0 : *next++;
  interserver_http_port_ = options_.interserver_http ? *next++ : 0;
  return WriteConfig();
}

absl::Status ClickHouseServer::WriteConfig() const {
  absl::StatusOr<std::string> config =
      ClickHouseConfigTemplate("config.xml", {{"DIR", dir_},
                                              {"HTTP_PORT", std::to_string(http_port_)},
                                              {"TCP_PORT", std::to_string(tcp_port_)},
                                              {"LOG_LEVEL", options_.log_level}});
  if (!config.ok()) return config.status();
  absl::StatusOr<std::string> users = ClickHouseConfigTemplate("users.xml", {});
  if (!users.ok()) return users.status();
  if (absl::Status s = WriteFile(dir_ + "/config.xml", *config); !s.ok()) return s;
  if (absl::Status s = WriteFile(dir_ + "/users.xml", *users); !s.ok()) return s;
  if (options_.key_file.empty()) return absl::OkStatus();
  // Not a template: only these tests serve HTTPS. Written with the ports, so that a retry on new
  // ports moves the HTTPS one too.
  return AddConfig(
      "tls", absl::StrCat("<yandex>\n  <https_port>", https_port_,
                          "</https_port>\n  <openSSL><server><certificateFile>", options_.cert_file,
                          "</certificateFile><privateKeyFile>", options_.key_file,
                          "</privateKeyFile><verificationMode>none</verificationMode>"
                          "<loadDefaultCAFile>false</loadDefaultCAFile></server>"
                          "</openSSL>\n</yandex>\n"));
}

absl::Status ClickHouseServer::AddConfig(const std::string& name, std::string_view xml) const {
  return WriteFile(absl::StrCat(dir_, "/config.d/", name, ".xml"), xml);
}

void ClickHouseServer::Pause() { process_.Pause(); }

void ClickHouseServer::Resume() { process_.Resume(); }

absl::Status ClickHouseServer::Start() {
  if (running()) return absl::OkStatus();
  if (absl::Status s = Spawn(); !s.ok()) return s;
  return AwaitReady();
}

absl::Status ClickHouseServer::Spawn() {
  std::error_code ec;
  log_start_ = std::filesystem::file_size(dir_ + "/server.log", ec);
  if (ec) log_start_ = 0;
  return process_.Spawn({binary_, absl::StrCat("--config-file=", dir_, "/config.xml")}, dir_,
                        dir_ + "/stdout.log");
}

absl::Status ClickHouseServer::AwaitReady() {
  const absl::Status status = process_.AwaitReady(
      [&] { return Ping(http_port_) && (!options_.ready || options_.ready(*this)); },
      kStartTimeout);
  if (status.ok()) return status;
  // Not left half-started: a later Start starts it afresh.
  process_.Kill();
  return absl::FailedPreconditionError(
      absl::StrCat(binary_, " ", status.message(), " (answering /ping on port ", http_port_,
                   options_.ready ? " and ready" : "", "); its output ends with:\n", LogTail()));
}

void ClickHouseServer::Stop() { process_.Stop(kStopGrace); }

std::string ClickHouseServer::endpoint() const {
  return absl::StrCat("http://127.0.0.1:", http_port_);
}

std::string ClickHouseServer::LogSinceStart() const {
  std::ifstream in(dir_ + "/server.log");
  in.seekg(static_cast<std::streamoff>(log_start_));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string ClickHouseServer::LogTail() const {
  return FileTail(dir_ + "/err.log", 2000) + FileTail(dir_ + "/stdout.log", 1000);
}

}  // namespace tailtrace::storage::testing
