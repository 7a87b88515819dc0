#pragma once

// Private to collector/: the gRPC receiver's TLS credentials (its bearer-token check is
// common/grpc_auth.h, shared with the cluster's query service).

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "common/listener_security.h"

namespace tailtrace::collector::internal {

// Insecure credentials without tls.cert_file; otherwise TLS from the files (read now, so a
// missing or bad file is a start-up error naming it), with required and verified client
// certificates when client_ca_file is set. With reload_interval > 0 the files are watched by
// gRPC's FileWatcherCertificateProvider (checked every reload_interval, at least 1 s).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeGrpcServerCredentials(
    const security::TlsOptions& tls);

}  // namespace tailtrace::collector::internal
