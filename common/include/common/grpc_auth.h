#pragma once

// The bearer-token check of every gRPC service tailtraced serves (the OTLP trace service and the
// cluster's query service on the same port), so that they accept the same callers and answer
// the same error. The token file itself is security::BearerTokens (listener_security.h).

#include <grpcpp/grpcpp.h>

#include "common/listener_security.h"

namespace tailtrace::security {

// OK when `tokens` is null (no auth.bearer_token_file) or the call carries the metadata
// "authorization: Bearer <a token of the file>"; else UNAUTHENTICATED saying what is expected.
// Thread-safe as BearerTokens is.
grpc::Status CheckGrpcBearerToken(BearerTokens* tokens, const grpc::ServerContextBase& context);

}  // namespace tailtrace::security
