// exporters.otlp: forwarding kept traces to another OTLP backend. The keys are the OpenTelemetry
// Collector's otlp / otlphttp exporter keys, with `protocol` choosing between the two.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "exporter/options.h"
#include "exporters_internal.h"
#include "policies_internal.h"
#include "units_internal.h"
#include "yaml-cpp/yaml.h"

namespace tailtrace::config::internal {
namespace {

constexpr uint64_t kMaxBytes = std::numeric_limits<uint64_t>::max();
// Headers the exporter sets itself (or that HTTP/2 and gRPC reserve).
constexpr std::string_view kReservedHeaders[] = {
    "content-type", "content-encoding",  "content-length", "host",
    "te",           "transfer-encoding", "connection"};

// An HTTP header name: RFC 9110 token characters.
bool IsHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> HeaderNameProblem(std::string_view name) {
  if (!IsHeaderName(name)) {
    return "is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)";
  }
  const std::string lower = absl::AsciiStrToLower(std::string(name));
  for (std::string_view reserved : kReservedHeaders) {
    if (lower == reserved) return "is set by the exporter itself";
  }
  if (lower.rfind("grpc-", 0) == 0) return "is reserved by gRPC";
  return std::nullopt;
}

// headers: a mapping of header names to string values (an empty value is no headers).
void ParseHeaders(ParseContext& ctx, const Field& field,
                  std::vector<std::pair<std::string, std::string>>* out) {
  if (field.value.IsNull()) return;
  if (!field.value.IsMap()) {
    ReportValueError(ctx, field,
                     absl::StrCat("expected a mapping of header names to values, e.g. "
                                  "{x-api-key: KEY}, got ",
                                  AbslView(KindName(field.value))));
    return;
  }
  for (const auto& entry : field.value) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
    const Field header{absl::StrCat(field.path, ".", name), entry.first, entry.second};
    if (std::optional<std::string> problem = HeaderNameProblem(name)) {
      ctx.AddError(header.key_line(), header.path,
                   absl::StrCat("header name \"", name, "\" ", *problem));
      continue;
    }
    if (std::optional<std::string> value = ReadScalar(ctx, header, "a string")) {
      out->emplace_back(name, *std::move(value));
    }
  }
}

void ParseTls(MapReader map, exporter::ExporterTlsOptions* out, int* line0) {
  if (std::optional<Field> f = map.Take("insecure")) {
    if (std::optional<bool> v = ReadBool(map.context(), *f)) out->insecure = *v;
  }
  ReadClientTls(map, {&out->ca_file, &out->cert_file, &out->key_file, &out->insecure_skip_verify},
                line0);
  map.ReportUnknownKeys();
}

void ParseRetry(MapReader map, exporter::RetryOptions* out) {
  map.Bool("enabled", &out->enabled);
  map.Duration("initial_interval", kNanosPerMilli, &out->initial_interval_ns);
  map.Duration("max_interval", kNanosPerMilli, &out->max_interval_ns);
  map.Duration("max_elapsed_time", 0, &out->max_elapsed_time_ns);
  if (std::optional<Field> f = map.Take("multiplier")) {
    if (std::optional<double> v = ReadNumber(map.context(), *f)) {
      if (*v < 1) {
        ReportValueError(map.context(), *f, absl::StrCat("must be at least 1, got ", *v));
      } else {
        out->multiplier = *v;
      }
    }
  }
  if (std::optional<Field> f = map.Take("randomization_factor")) {
    if (std::optional<double> v = ReadNumber(map.context(), *f)) {
      if (*v < 0 || *v > 1) {
        ReportValueError(map.context(), *f, absl::StrCat("must be from 0 to 1, got ", *v));
      } else {
        out->randomization_factor = *v;
      }
    }
  }
  map.ReportUnknownKeys();
  if (out->max_interval_ns < out->initial_interval_ns) {
    map.context().AddError(-1, map.ChildPath("max_interval"), "must be at least initial_interval");
  }
}

// The endpoint against the protocol, and TLS settings that would be ignored in plain text.
// `section_line0` is the line of `otlp:`, `tls_line0` of the tls settings.
void CheckEndpoint(ParseContext& ctx, const std::optional<Field>& endpoint, int section_line0,
                   int tls_line0, const std::string& path,
                   const exporter::OtlpExporterOptions& out) {
  if (!endpoint) {
    ctx.AddError(section_line0, absl::StrCat(path, ".endpoint"),
                 "missing (required), e.g. collector:4317 or https://api.example.com");
    return;
  }
  if (out.endpoint.empty()) return;  // reported by ReadNonEmptyString
  absl::StatusOr<exporter::OtlpEndpoint> parsed =
      exporter::ParseOtlpEndpoint(out.endpoint, out.protocol);
  if (!parsed.ok()) {
    ReportValueError(
        ctx, *endpoint,
        absl::StrCat("invalid ", AbslView(exporter::ProtocolName(out.protocol)), " endpoint \"",
                     out.endpoint, "\": ", std::string(parsed.status().message())));
    return;
  }
  const exporter::ExporterTlsOptions& tls = out.tls;
  if (!exporter::UsesPlainText(tls, *parsed)) return;
  const char* set = !tls.ca_file.empty()       ? "ca_file"
                    : !tls.cert_file.empty()   ? "cert_file"
                    : tls.insecure_skip_verify ? "insecure_skip_verify"
                                               : nullptr;
  if (set != nullptr) {
    ctx.AddError(tls_line0, absl::StrCat(path, ".tls.", set),
                 "is set but the exporter sends in plain text (the endpoint is not https:// "
                 "and tls.insecure is not false)");
  }
}

// `path` is the dotted key of the section ("exporters.otlp").
void ParseOtlp(MapReader map, const std::string& path, int line0,
               exporter::OtlpExporterOptions* out) {
  ParseContext& ctx = map.context();
  std::string protocol = "grpc";
  map.Enum("protocol", {"grpc", "http/protobuf"}, &protocol);
  out->protocol =
      protocol == "grpc" ? exporter::OtlpProtocol::kGrpc : exporter::OtlpProtocol::kHttpProtobuf;
  std::optional<Field> endpoint = map.Take("endpoint");
  if (endpoint) {
    if (std::optional<std::string> v = ReadNonEmptyString(ctx, *endpoint)) out->endpoint = *v;
  }
  if (std::optional<Field> f = map.Take("headers")) ParseHeaders(ctx, *f, &out->headers);
  std::string compression = "gzip";
  map.Enum("compression", {"gzip", "none"}, &compression);
  out->compression =
      compression == "gzip" ? exporter::OtlpCompression::kGzip : exporter::OtlpCompression::kNone;
  map.Duration("timeout", kNanosPerMilli, &out->timeout_ns);
  int tls_line0 = -1;
  if (std::optional<Field> tls = map.Take("tls")) {
    tls_line0 = tls->line();  // a file key's own line, once ParseTls meets one
    ParseTls(MapReader(ctx, tls->path, tls->value, tls->line()), &out->tls, &tls_line0);
  }
  {
    MapReader queue = map.Map("sending_queue");
    queue.Bytes("queue_size", 1024, kMaxBytes, &out->queue_size_bytes);
    queue.ReportUnknownKeys();
  }
  ParseRetry(map.Map("retry_on_failure"), &out->retry);
  map.ReportUnknownKeys();
  CheckEndpoint(ctx, endpoint, line0, tls_line0, path, *out);
}

}  // namespace

void ReadClientTls(MapReader& map, const ClientTlsTargets& out, int* line0) {
  for (auto [key, target] :
       {std::pair{"ca_file", out.ca_file}, std::pair{"cert_file", out.cert_file},
        std::pair{"key_file", out.key_file}}) {
    if (std::optional<Field> f = map.Take(key)) {
      *line0 = f->line();
      if (std::optional<std::string> v = ReadNonEmptyString(map.context(), *f)) *target = *v;
    }
  }
  map.Bool("insecure_skip_verify", out.insecure_skip_verify);
  if (out.cert_file->empty() != out.key_file->empty()) {
    map.context().AddError(*line0, map.ChildPath(out.cert_file->empty() ? "cert_file" : "key_file"),
                           "cert_file and key_file must be set together");
  }
}

void ParseExporters(MapReader map, DaemonConfig* config) {
  if (std::optional<Field> otlp = map.Take("otlp")) {
    exporter::OtlpExporterOptions options;
    ParseOtlp(MapReader(map.context(), otlp->path, otlp->value, otlp->line()), otlp->path,
              otlp->key_line(), &options);
    config->otlp_exporter = std::move(options);
  }
  map.ReportUnknownKeys();
}

}  // namespace tailtrace::config::internal
