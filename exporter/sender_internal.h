#pragma once

// Private to exporter/: the two transports behind MakeOtlpSender, and helpers they share.

#include <memory>
#include <string>
#include <string_view>

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

// gzip (RFC 1952) of `data`, at zlib's fastest level: trace data compresses well even there,
// and the exporter thread should not spend its time compressing.
std::string GzipFast(std::string_view data);

}  // namespace tailtrace::exporter::internal
