#include "exporter/options.h"

#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tailtrace::exporter {
namespace {

constexpr std::string_view kTracesPath = "/v1/traces";

// Splits "host", "host:port", "[v6]" or "[v6]:port" into host and port (0 when absent).
absl::Status SplitAuthority(std::string_view authority, OtlpEndpoint* out) {
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("an IPv6 host lacks its closing \"]\"");
    }
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return absl::InvalidArgumentError("expected \":port\" after \"]\"");
      port = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    if (authority.find(':') != colon) {
      return absl::InvalidArgumentError(
          "an IPv6 host must be written in brackets, e.g. \"[::1]:4317\"");
    }
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return absl::InvalidArgumentError("the port after \":\" is empty");
  }
  if (host.empty()) return absl::InvalidArgumentError("the host is empty");
  out->host = std::string(host);
  if (port.empty()) return absl::OkStatus();
  int value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("the port must be a number from 1 to 65535, got \"", std::string(port), "\""));
  }
  out->port = value;
  return absl::OkStatus();
}

}  // namespace

std::string OtlpEndpoint::Authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

std::string_view ProtocolName(OtlpProtocol protocol) {
  return protocol == OtlpProtocol::kGrpc ? "grpc" : "http/protobuf";
}

absl::StatusOr<OtlpEndpoint> ParseOtlpEndpoint(std::string_view endpoint, OtlpProtocol protocol) {
  OtlpEndpoint out;
  std::string_view rest = endpoint;
  bool has_scheme = false;
  if (const size_t sep = rest.find("://"); sep != std::string_view::npos) {
    const std::string_view scheme = rest.substr(0, sep);
    if (scheme != "http" && scheme != "https") {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported scheme \"", std::string(scheme),
                       "://\" (use http://, https:// or a bare host:port)"));
    }
    out.https = scheme == "https";
    has_scheme = true;
    rest = rest.substr(sep + 3);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError("an endpoint takes no query string or fragment");
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (absl::Status s = SplitAuthority(authority, &out); !s.ok()) return s;
  if (out.port == 0) {
    if (!has_scheme) {
      return absl::InvalidArgumentError(
          "needs a port, e.g. \"collector:4317\" (or a scheme: http:// or https://)");
    }
    out.port = out.https ? 443 : 80;
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  if (protocol == OtlpProtocol::kGrpc) {
    if (!path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a gRPC endpoint has no path, got \"", std::string(path), "\""));
    }
    return out;
  }
  // The SDKs' OTEL_EXPORTER_OTLP_ENDPOINT convention: a base URL; a full traces URL is kept.
  out.path = path.ends_with(kTracesPath) ? std::string(path)
                                         : std::string(path) + std::string(kTracesPath);
  return out;
}

}  // namespace tailtrace::exporter
