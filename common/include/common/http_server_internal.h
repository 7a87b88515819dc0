#pragma once

// Private to common/: request parsing and endpoint helpers shared by http_server.cc and
// http_request.cc. Pulls in Boost.Asio, so it must not be included from public headers.

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/http_server.h"

namespace tailtrace::http::internal {

// Decodes %XX escapes (a malformed escape is kept as is) and, for query strings, '+' as space.
std::string PercentDecode(std::string_view in, bool plus_is_space);

// Splits a request target into the decoded path and the query parameters. An absolute-form target
// ("http://host/path?q") is reduced to its path and query.
void ParseTarget(std::string_view target, Request* req);

// The error bodies the server produces itself are JSON google.rpc.Status messages, which is also
// what OTLP/HTTP clients expect in a JSON error response.
std::string ErrorBody(int rpc_code, std::string_view message);

// Parses "host:port", "[v6]:port", "localhost:port", ":port" into an endpoint.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ResolveEndpoint(const std::string& endpoint);

}  // namespace tailtrace::http::internal
