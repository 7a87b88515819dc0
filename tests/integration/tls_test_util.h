#pragma once

// Test-time certificates (the openssl CLI, into a temp dir) and a curl runner, for the TLS, auth
// and CORS integration tests.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tailtrace::testing {

// A CA and a server certificate for localhost / 127.0.0.1 signed by it, plus a client
// certificate signed by the same CA, as PEM files in `dir`. File names are prefixed by `name`.
struct TestPki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
};
[[nodiscard]] absl::StatusOr<TestPki> MakeTestPki(const std::string& dir, const std::string& name);

// Reads a whole file ("" when it cannot be read).
std::string ReadFileOrEmpty(const std::string& path);
// Replaces `path` with `content` (written to a temp file, then renamed over it).
void WriteFileAtomically(const std::string& path, const std::string& content);

struct CurlResult {
  int exit_code = -1;   // curl's exit code (0 = the exchange happened, whatever the status)
  int status = 0;       // HTTP status, 0 when none
  std::string headers;  // response headers, lower-cased names as curl prints them (raw)
  std::string body;
};
// Runs curl with `args` (each passed as one argument; no shell), capturing status, headers and
// body.
CurlResult Curl(const std::vector<std::string>& args);

}  // namespace tailtrace::testing
