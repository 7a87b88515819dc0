#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpc_security_internal.h"

namespace tailtrace::collector::internal {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

absl::StatusOr<std::string> ReadPem(const char* key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.", key, " \"", path, "\": cannot read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("tls.", key, " \"", path, "\": not a PEM file"));
  }
  return text.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeGrpcServerCredentials(
    const security::TlsOptions& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadPem("cert_file", tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem("key_file", tls.key_file);
  if (!key.ok()) return key.status();
  std::string ca;
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> read = ReadPem("client_ca_file", tls.client_ca_file);
    if (!read.ok()) return read.status();
    ca = *std::move(read);
  }
  const grpc_ssl_client_certificate_request_type request_type =
      ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                 : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  if (tls.reload_interval_ns <= 0) {
    grpc::SslServerCredentialsOptions options(request_type);
    options.pem_root_certs = ca;
    options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
    return grpc::SslServerCredentials(options);
  }
  const unsigned refresh_s =
      static_cast<unsigned>(std::max<int64_t>(1, tls.reload_interval_ns / kNanosPerSecond));
  auto provider = ca.empty() ? std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                                   tls.key_file, tls.cert_file, refresh_s)
                             : std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                                   tls.key_file, tls.cert_file, tls.client_ca_file, refresh_s);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!ca.empty()) options.watch_root_certs();
  options.set_cert_request_type(request_type);
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace tailtrace::collector::internal
