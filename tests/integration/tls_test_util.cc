#include "tests/integration/tls_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tailtrace::testing {
namespace {

// Runs argv with stdout into `out_path` and stderr discarded; returns the exit code.
int RunToFile(const std::vector<std::string>& argv, const std::string& out_path) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* out = std::freopen(out_path.c_str(), "wb", stdout);
    std::FILE* err = std::freopen("/dev/null", "wb", stderr);
    if (out == nullptr || err == nullptr) _exit(126);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

absl::Status Openssl(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  if (RunToFile(args, dir + "/openssl.out") != 0) {
    std::string joined;
    for (const std::string& a : args) absl::StrAppend(&joined, a, " ");
    return absl::InternalError(absl::StrCat("failed: ", joined));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::rename(tmp.c_str(), path.c_str());
}

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir, const std::string& name) {
  const std::string p = absl::StrCat(dir, "/", name);
  TestPki pki{p + "-ca.pem", p + "-server.pem", p + "-server.key", p + "-client.pem",
              p + "-client.key"};
  const std::string ext = p + "-ext.cnf";
  WriteFileAtomically(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  const std::string days = "2";
  for (auto status : {
           Openssl(dir, {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p + "-ca.key",
                         "-out", pki.ca_cert, "-days", days, "-subj", "/CN=" + name + "-ca"}),
           Openssl(dir, {"req", "-newkey", "rsa:2048", "-nodes", "-keyout", pki.server_key, "-out",
                         p + "-server.csr", "-subj", "/CN=localhost"}),
           Openssl(dir, {"x509", "-req", "-in", p + "-server.csr", "-CA", pki.ca_cert, "-CAkey",
                         p + "-ca.key", "-CAcreateserial", "-out", pki.server_cert, "-days", days,
                         "-extfile", ext}),
           Openssl(dir, {"req", "-newkey", "rsa:2048", "-nodes", "-keyout", pki.client_key, "-out",
                         p + "-client.csr", "-subj", "/CN=test-client"}),
           Openssl(dir, {"x509", "-req", "-in", p + "-client.csr", "-CA", pki.ca_cert, "-CAkey",
                         p + "-ca.key", "-CAcreateserial", "-out", pki.client_cert, "-days", days}),
       }) {
    if (!status.ok()) return status;
  }
  return pki;
}

CurlResult Curl(const std::vector<std::string>& args) {
  static int counter = 0;
  const char* tmp = std::getenv("TMPDIR");
  const std::string base =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/curl-", ::getpid(), "-", counter++);
  std::vector<std::string> argv = {"curl",      "-s", "--max-time", "10", "-D",
                                   base + ".h", "-o", base + ".b",  "-w", "%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  CurlResult result;
  result.exit_code = RunToFile(argv, base + ".w");
  result.status = std::atoi(ReadFileOrEmpty(base + ".w").c_str());
  result.headers = ReadFileOrEmpty(base + ".h");
  result.body = ReadFileOrEmpty(base + ".b");
  for (const char* suffix : {".h", ".b", ".w"}) std::remove((base + suffix).c_str());
  return result;
}

}  // namespace tailtrace::testing
