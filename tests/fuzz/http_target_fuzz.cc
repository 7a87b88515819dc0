// Fuzz harness: HTTP request targets and query parameters (common/http_request.cc ParseTarget,
// PercentDecode) and the server's own JSON error body (ErrorBody). Invariants: the error body
// quoting the decoded path or any parameter is valid UTF-8 and never longer than 4 bytes per
// input byte plus the envelope.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/http_server.h"
#include "common/http_server_internal.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

void CheckErrorBody(std::string_view quoted) {
  const std::string body = tailtrace::http::internal::ErrorBody(3, quoted);
  FUZZ_CHECK(tailtrace::FindInvalidUtf8(body) == std::string_view::npos);
  FUZZ_CHECK(body.size() <= 6 * quoted.size() + 32);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  tailtrace::http::Request req;
  tailtrace::http::internal::ParseTarget(target, &req);
  FUZZ_CHECK(req.path.size() <= target.size());
  CheckErrorBody(req.path);
  for (const auto& [key, value] : req.query) {
    FUZZ_CHECK(key.size() + value.size() <= target.size());
    CheckErrorBody(key);
    CheckErrorBody(value);
    (void)req.Param(key);
  }
  return 0;
}
