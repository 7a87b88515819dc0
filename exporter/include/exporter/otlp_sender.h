#pragma once

// The transport under the OTLP exporter: one request attempt at a time, told apart into success,
// retryable failure and permanent failure as the OTLP specification says. Implementations:
// OTLP/gRPC (a gRPC generic stub, so the batch's bytes are sent as they are, never re-parsed)
// and OTLP/HTTP protobuf (Boost.Beast, optionally over OpenSSL). Tests give the exporter a fake.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "exporter/options.h"

namespace tailtrace::exporter {

struct SendResult {
  enum class Kind {
    kOk,         // accepted (maybe with some spans rejected, see rejected_spans)
    kRetryable,  // try again later: gRPC UNAVAILABLE, ..., HTTP 429/502/503/504, a network error
    kPermanent,  // never retry: the backend refused the data (e.g. INVALID_ARGUMENT, HTTP 400)
  };
  Kind kind = Kind::kOk;
  // What went wrong (status and the backend's message), or the partial-success message.
  std::string message;
  // The backend's own retry delay (gRPC google.rpc.RetryInfo, HTTP Retry-After); -1: none given.
  int64_t retry_after_ns = -1;
  // OTLP partial success: spans of an accepted request that the backend rejected.
  int64_t rejected_spans = 0;
};

class OtlpSender {
 public:
  virtual ~OtlpSender() = default;

  // Sends one serialized ExportTraceServiceRequest and waits for the answer for at most
  // `timeout_ns` (a timeout is retryable). Not thread-safe: one call at a time.
  virtual SendResult Send(const std::string& request, int64_t timeout_ns) = 0;
};

// The sender for options.protocol. Fails (InvalidArgument naming the key or the file) for an
// endpoint that does not parse or a TLS file that cannot be read. Connects lazily: a backend
// that is down at start-up is not an error.
[[nodiscard]] absl::StatusOr<std::unique_ptr<OtlpSender>> MakeOtlpSender(
    const OtlpExporterOptions& options);

// The gRPC status codes (grpc::StatusCode numbers) the OTLP specification lets a client retry:
// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; and
// RESOURCE_EXHAUSTED only when the server sent a RetryInfo (it may recover).
[[nodiscard]] bool IsRetryableGrpcCode(int code, bool has_retry_info);

// The HTTP statuses the OTLP specification lets a client retry: 429, 502, 503, 504.
[[nodiscard]] bool IsRetryableHttpStatus(int status);

}  // namespace tailtrace::exporter
