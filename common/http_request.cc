// Request accessors, request-target parsing, error bodies and endpoint parsing for the HTTP
// server (see http_server_internal.h).

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http_server.h"
#include "common/http_server_internal.h"
#include "common/utf8.h"

namespace tailtrace::http {

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

std::optional<std::string_view> Request::Param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::vector<std::string_view> Request::Params(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [key, value] : query) {
    if (key == name) out.emplace_back(value);
  }
  return out;
}

namespace internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string key = PercentDecode(part.substr(0, eq), /*plus_is_space=*/true);
    std::string value = eq == std::string_view::npos
                            ? std::string()
                            : PercentDecode(part.substr(eq + 1), /*plus_is_space=*/true);
    out->emplace_back(std::move(key), std::move(value));
  }
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

}  // namespace

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void ParseTarget(std::string_view target, Request* req) {
  if (const size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (const size_t scheme = target.find("://");
      scheme != std::string_view::npos && target.substr(0, 1) != "/") {
    const size_t path_start = target.find('/', scheme + 3);
    target =
        path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
  }
  const size_t q = target.find('?');
  req->path = PercentDecode(target.substr(0, q), /*plus_is_space=*/false);
  if (q != std::string_view::npos) ParseQuery(target.substr(q + 1), &req->query);
}

std::string ErrorBody(int rpc_code, std::string_view message) {
  return absl::StrCat("{\"code\":", rpc_code, ",\"message\":\"", JsonEscape(SanitizeUtf8(message)),
                      "\"}");
}

absl::StatusOr<boost::asio::ip::tcp::endpoint> ResolveEndpoint(const std::string& endpoint) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  std::string host;
  std::string port_str;
  if (endpoint.empty()) return absl::InvalidArgumentError("endpoint is empty; expected host:port");
  if (endpoint[0] == '[') {
    const size_t close = endpoint.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint \"", endpoint, "\": missing ']' after the IPv6 address"));
    }
    if (close + 1 >= endpoint.size() || endpoint[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint \"", endpoint, "\": expected \":port\" after ']'"));
    }
    host = endpoint.substr(1, close - 1);
    port_str = endpoint.substr(close + 2);
  } else {
    const size_t colon = endpoint.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint \"", endpoint, "\": missing \":port\" (expected host:port)"));
    }
    host = endpoint.substr(0, colon);
    port_str = endpoint.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "endpoint \"", endpoint, "\": an IPv6 address must be in brackets, e.g. [::1]:4318"));
    }
  }
  uint32_t port = 0;
  if (port_str.empty() ||
      !std::all_of(port_str.begin(), port_str.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(port_str, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", endpoint, "\": port \"", port_str,
                                                   "\" is not a number in 0..65535"));
  }
  const auto port16 = static_cast<uint16_t>(port);
  if (host.empty() || host == "*") return tcp::endpoint(asio::ip::address_v4::any(), port16);
  if (host == "localhost") return tcp::endpoint(asio::ip::address_v4::loopback(), port16);

  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port16);

  // A host name: resolve it (first result wins).
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, port_str, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", endpoint, "\": cannot resolve \"",
                                                   host, "\": ", ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

}  // namespace internal
}  // namespace tailtrace::http
