#pragma once

// Private to exporter/: the two transports behind MakeOtlpSender, and helpers they share.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "exporter/options.h"
#include "exporter/otlp_sender.h"

namespace tailtrace::exporter::internal {

[[nodiscard]] absl::StatusOr<std::unique_ptr<OtlpSender>> MakeGrpcSender(
    const OtlpExporterOptions& options, const OtlpEndpoint& endpoint);
[[nodiscard]] absl::StatusOr<std::unique_ptr<OtlpSender>> MakeHttpSender(
    const OtlpExporterOptions& options, const OtlpEndpoint& endpoint);

// "UNAVAILABLE" for 14, ... ("CODE_<n>" for an unknown number).
std::string GrpcCodeName(int code);

}  // namespace tailtrace::exporter::internal
