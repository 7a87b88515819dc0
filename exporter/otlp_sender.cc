#include "exporter/otlp_sender.h"

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "sender_internal.h"

namespace tailtrace::exporter {

bool IsRetryableGrpcCode(int code, bool has_retry_info) {
  switch (code) {
    case 1:   // CANCELLED
    case 4:   // DEADLINE_EXCEEDED
    case 10:  // ABORTED
    case 11:  // OUT_OF_RANGE
    case 14:  // UNAVAILABLE
    case 15:  // DATA_LOSS
      return true;
    case 8:  // RESOURCE_EXHAUSTED
      return has_retry_info;
    default:
      return false;
  }
}

bool IsRetryableHttpStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

absl::StatusOr<std::unique_ptr<OtlpSender>> MakeOtlpSender(const OtlpExporterOptions& options) {
  absl::StatusOr<OtlpEndpoint> endpoint = ParseOtlpEndpoint(options.endpoint, options.protocol);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("exporters.otlp.endpoint: \"", options.endpoint,
                                                   "\": ", endpoint.status().message()));
  }
  if (options.protocol == OtlpProtocol::kGrpc) return internal::MakeGrpcSender(options, *endpoint);
  return internal::MakeHttpSender(options, *endpoint);
}

namespace internal {

std::string GrpcCodeName(int code) {
  static constexpr std::array<const char*, 17> kNames = {"OK",
                                                         "CANCELLED",
                                                         "UNKNOWN",
                                                         "INVALID_ARGUMENT",
                                                         "DEADLINE_EXCEEDED",
                                                         "NOT_FOUND",
                                                         "ALREADY_EXISTS",
                                                         "PERMISSION_DENIED",
                                                         "RESOURCE_EXHAUSTED",
                                                         "FAILED_PRECONDITION",
                                                         "ABORTED",
                                                         "OUT_OF_RANGE",
                                                         "UNIMPLEMENTED",
                                                         "INTERNAL",
                                                         "UNAVAILABLE",
                                                         "DATA_LOSS",
                                                         "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(kNames.size())) return kNames[code];
  return absl::StrCat("CODE_", code);
}

}  // namespace internal
}  // namespace tailtrace::exporter
