#include "common/grpc_auth.h"

#include <string_view>

namespace tailtrace::security {

grpc::Status CheckGrpcBearerToken(BearerTokens* tokens, const grpc::ServerContextBase& context) {
  if (tokens == nullptr) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  const std::string_view value = it == metadata.end()
                                     ? std::string_view()
                                     : std::string_view(it->second.data(), it->second.size());
  if (tokens->Check(value)) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "missing or invalid bearer token (metadata authorization: Bearer <token>)");
}

}  // namespace tailtrace::security
