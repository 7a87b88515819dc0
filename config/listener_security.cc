// The tls, auth and cors sections shared by receivers.otlp.protocols.{grpc,http}, query and admin
// (the OpenTelemetry Collector's configtls / bearertokenauth / confighttp cors key names).

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "listener_security_internal.h"
#include "yaml-cpp/yaml.h"

namespace tailtrace::config::internal {
namespace {

constexpr int64_t kMaxCorsMaxAgeSeconds = 86'400 * 365;

// A list of non-empty strings (an empty value is an empty list).
void ReadStringList(ParseContext& ctx, const Field& field, std::string_view example,
                    std::vector<std::string>* out) {
  if (field.value.IsNull()) {
    out->clear();
    return;
  }
  if (!field.value.IsSequence()) {
    ctx.AddError(field.line(), field.path,
                 absl::StrCat("expected a list, e.g. ", AbslView(example)));
    return;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (size_t i = 0; i < field.value.size(); ++i) {
    const Field element{absl::StrCat(field.path, "[", i, "]"), field.key, field.value[i]};
    if (std::optional<std::string> v = ReadNonEmptyString(ctx, element)) {
      values.push_back(*std::move(v));
    } else {
      ok = false;
    }
  }
  if (ok) *out = std::move(values);
}

void ParseTls(MapReader map, security::TlsOptions* out) {
  int line0 = -1;  // of the last file key, for the errors about their combination
  for (auto [key, target] :
       {std::pair{"cert_file", &out->cert_file}, std::pair{"key_file", &out->key_file},
        std::pair{"client_ca_file", &out->client_ca_file}}) {
    if (std::optional<Field> f = map.Take(key)) {
      line0 = f->line();
      if (std::optional<std::string> v = ReadNonEmptyString(map.context(), *f)) *target = *v;
    }
  }
  map.Enum("min_version", {"1.2", "1.3"}, &out->min_version);
  map.Duration("reload_interval", 0, &out->reload_interval_ns);
  map.ReportUnknownKeys();
  const bool has_cert = !out->cert_file.empty();
  const bool has_key = !out->key_file.empty();
  if (has_cert != has_key) {
    map.context().AddError(line0, map.ChildPath(has_cert ? "key_file" : "cert_file"),
                           "cert_file and key_file must be set together");
  }
  if (!has_cert && !out->client_ca_file.empty()) {
    map.context().AddError(line0, map.ChildPath("client_ca_file"),
                           "client_ca_file needs cert_file and key_file (mTLS runs over TLS)");
  }
}

void ParseAuth(MapReader map, security::AuthOptions* out) {
  map.NonEmptyString("bearer_token_file", &out->bearer_token_file);
  map.ReportUnknownKeys();
}

void ParseCors(MapReader map, security::CorsOptions* out) {
  if (std::optional<Field> f = map.Take("allowed_origins")) {
    ReadStringList(map.context(), *f, "[\"https://*.example.com\"]", &out->allowed_origins);
  }
  if (std::optional<Field> f = map.Take("allowed_headers")) {
    ReadStringList(map.context(), *f, "[Authorization, X-Custom]", &out->allowed_headers);
  }
  map.Int("max_age", 0, kMaxCorsMaxAgeSeconds, &out->max_age_s);
  map.ReportUnknownKeys();
}

}  // namespace

void ParseListenerSecurity(MapReader& map, CorsSupport cors, security::ListenerSecurity* out) {
  ParseTls(map.Map("tls"), &out->tls);
  ParseAuth(map.Map("auth"), &out->auth);
  if (cors == CorsSupport::kYes) ParseCors(map.Map("cors"), &out->cors);
}

}  // namespace tailtrace::config::internal
