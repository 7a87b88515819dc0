// ClickHouseClient over http_client/: POST /?query=...&database=...&<settings>, a pool of
// kept-alive HttpConnections, and ClickHouse's errors ("Code: N, ...") told apart into
// transient, refused and wrong.
//
// Authentication is HTTP basic authentication (Authorization: Basic): ClickHouse 18.16 and
// current releases accept it, and it keeps the password out of the URL (which servers and proxies
// log), unlike the user/password URL parameters.

#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clickhouse_client.h"
#include "http_client/gzip.h"
#include "http_client/http_client.h"

namespace tailtrace::storage::clickhouse {
namespace {

// Request bodies larger than this go gzip-compressed (Content-Encoding: gzip, which ClickHouse
// decompresses, 18.16 included).
constexpr size_t kGzipMinBytes = 4 << 10;
// Largest response body read: a query's whole result.
constexpr uint64_t kMaxResponseBodyBytes = 256ull << 20;
// Longest excerpt of ClickHouse's error text in a status.
constexpr size_t kMaxQuotedBytes = 400;

struct Endpoint {
  bool https = false;
  std::string host;  // an IPv6 address without its brackets
  int port = 0;
};

// http(s)://host:port[/], as the config accepts it (config/clickhouse_config.cc).
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url) {
  const auto bad = [url](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("storage.clickhouse.endpoint: \"",
                                                   std::string(url), "\": ", std::string(what)));
  };
  Endpoint out;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    out.https = true;
    rest.remove_prefix(8);
  } else {
    return bad("expected http://host:port or https://host:port");
  }
  if (rest.ends_with("/")) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad("expected only http(s)://host:port, without a path, query or credentials");
  }
  const size_t colon = rest.rfind(':');
  std::string_view host = colon == std::string_view::npos ? "" : rest.substr(0, colon);
  if (host.starts_with("[") && host.ends_with("]") && host.size() > 2) {
    host = host.substr(1, host.size() - 2);
  } else if (host.empty() || host.find_first_of(":[]") != std::string_view::npos) {
    return bad("expected host:port (an IPv6 address in brackets)");
  }
  const std::string_view port = rest.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || end != port.data() + port.size() || out.port < 1 || out.port > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  out.host = std::string(host);
  return out;
}

// Percent-encoding of everything but RFC 3986's unreserved characters.
std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// ClickHouse's error text on one line, cut (at a character boundary) to kMaxQuotedBytes.
std::string Quote(std::string_view body) {
  while (!body.empty() && static_cast<unsigned char>(body.back()) <= ' ') body.remove_suffix(1);
  std::string out;
  for (const char c : body.substr(0, kMaxQuotedBytes)) {
    out += static_cast<unsigned char>(c) < ' ' ? ' ' : c;
  }
  if (body.size() > kMaxQuotedBytes) {
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  return out;
}

// The positive number `text` starts with, or 0.
int LeadingNumber(std::string_view text) {
  int number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  return ec == std::errc() && number > 0 ? number : 0;
}

// The number after the first "Code: " in `text`, or 0.
int ParseCode(std::string_view text) {
  constexpr std::string_view kCode = "Code: ";
  const size_t at = text.find(kCode);
  return at == std::string_view::npos ? 0 : LeadingNumber(text.substr(at + kCode.size()));
}

// What a ClickHouse error code means for the caller (the names are those of ClickHouse's
// src/Common/ErrorCodes.cpp): may succeed later, refused for these credentials, or wrong.
absl::StatusCode KindOfErrorCode(int code) {
  switch (code) {
    case 164:  // READONLY: the user may not write
    case 192:  // UNKNOWN_USER
    case 193:  // WRONG_PASSWORD
    case 194:  // REQUIRED_PASSWORD
    case 195:  // IP_ADDRESS_NOT_ALLOWED
    case 291:  // DATABASE_ACCESS_DENIED
    case 497:  // ACCESS_DENIED
    case 516:  // AUTHENTICATION_FAILED
      return absl::StatusCode::kPermissionDenied;
    case 159:  // TIMEOUT_EXCEEDED
    case 173:  // CANNOT_ALLOCATE_MEMORY
    case 201:  // QUOTA_EXPIRED
    case 202:  // TOO_MANY_SIMULTANEOUS_QUERIES
    case 203:  // NO_FREE_CONNECTION
    case 209:  // SOCKET_TIMEOUT
    case 210:  // NETWORK_ERROR
    case 225:  // NO_ZOOKEEPER
    case 241:  // MEMORY_LIMIT_EXCEEDED
    case 242:  // TABLE_IS_READ_ONLY (a replica without ZooKeeper)
    case 243:  // NOT_ENOUGH_SPACE
    case 244:  // UNEXPECTED_ZOOKEEPER_ERROR
    case 252:  // TOO_MANY_PARTS
    case 254:  // NO_ACTIVE_REPLICAS
    case 279:  // ALL_CONNECTION_TRIES_FAILED
    case 285:  // TOO_FEW_LIVE_REPLICAS
    case 286:  // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    case 319:  // UNKNOWN_STATUS_OF_INSERT
    case 364:  // RECEIVED_ERROR_TOO_MANY_REQUESTS
    case 369:  // ALL_REPLICAS_ARE_STALE
    case 394:  // QUERY_WAS_CANCELLED (e.g. by a server shutting down)
    case 415:  // ALL_REPLICAS_LOST
    case 439:  // CANNOT_SCHEDULE_TASK (a full thread pool)
    case 473:  // DEADLOCK_AVOIDED
    case 999:  // KEEPER_EXCEPTION (ZooKeeper, ClickHouse Keeper)
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInvalidArgument;
  }
}

// The kind of a failed answer: a proxy's or the server's overload first, then ClickHouse's code,
// then the HTTP status.
absl::StatusCode KindOfAnswer(int http_status, int code) {
  if (http_status == 502 || http_status == 503 || http_status == 504 || http_status == 429) {
    return absl::StatusCode::kUnavailable;
  }
  if (code != 0) return KindOfErrorCode(code);
  if (http_status == 401 || http_status == 403) return absl::StatusCode::kPermissionDenied;
  return http_status >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kInvalidArgument;
}

std::string_view TrimTrailingSpace(std::string_view text) {
  while (!text.empty() && static_cast<unsigned char>(text.back()) <= ' ') text.remove_suffix(1);
  return text;
}

class HttpClickHouseClient final : public ClickHouseClient {
 public:
  HttpClickHouseClient(const ClickHouseOptions& options, const Endpoint& endpoint,
                       std::shared_ptr<const http_client::ClientTls> tls, int max_idle_connections,
                       Settings session_settings)
      : timeout_ns_(options.timeout_ns),
        max_idle_(max_idle_connections < 0 ? 0 : static_cast<size_t>(max_idle_connections)),
        session_settings_(std::move(session_settings)) {
    connection_options_.host = endpoint.host;
    connection_options_.port = endpoint.port;
    connection_options_.tls = std::move(tls);
    connection_options_.max_response_body_bytes = kMaxResponseBodyBytes;
    if (!options.username.empty()) {
      authorization_ = absl::StrCat(
          "Basic ", absl::Base64Escape(absl::StrCat(options.username, ":", options.password)));
    }
  }

  absl::StatusOr<std::string> Execute(std::string_view statement, std::string_view data,
                                      const Settings& settings,
                                      std::string_view database) override {
    const http_client::HttpRequest request = BuildRequest(statement, data, settings, database);
    const http_client::Deadline deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns_);
    std::unique_ptr<http_client::HttpConnection> connection = Acquire();
    absl::StatusOr<http_client::HttpResponse> response = connection->RoundTrip(request, deadline);
    const std::string authority = connection->authority();
    Release(std::move(connection));
    if (!response.ok()) return NetworkError(response.status());
    if (response->status >= 200 && response->status < 300) return std::move(response->body);
    return AnswerError(*response, authority);
  }

 private:
  http_client::HttpRequest BuildRequest(std::string_view statement, std::string_view data,
                                        const Settings& settings, std::string_view database) const {
    http_client::HttpRequest request;
    request.method = "POST";
    std::string target = "/";
    const auto add = [&target](std::string_view key, std::string_view value) {
      absl::StrAppend(&target, target.size() == 1 ? "?" : "&", UrlEncode(key), "=",
                      UrlEncode(value));
    };
    std::string_view body = statement;
    if (!data.empty()) {
      // The server puts a line feed between the query and the body, and the data starts after
      // it: a line feed of the statement's own would be read as data.
      add("query", TrimTrailingSpace(statement));
      body = data;
    }
    if (!database.empty()) add("database", database);
    for (const auto& [key, value] : session_settings_) add(key, value);
    for (const auto& [key, value] : settings) add(key, value);
    request.target = std::move(target);
    request.headers.emplace_back("User-Agent", absl::StrCat("tailtraced/", TAILTRACE_VERSION));
    if (!authorization_.empty()) request.headers.emplace_back("Authorization", authorization_);
    if (body.size() > kGzipMinBytes) {
      request.headers.emplace_back("Content-Encoding", "gzip");
      request.body = http_client::GzipFast(body);
    } else {
      request.body = std::string(body);
    }
    return request;
  }

  // A pooled connection, or a new one when every pooled one is busy.
  std::unique_ptr<http_client::HttpConnection> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        std::unique_ptr<http_client::HttpConnection> connection = std::move(idle_.back());
        idle_.pop_back();
        return connection;
      }
    }
    return std::make_unique<http_client::HttpConnection>(connection_options_);
  }

  // Keeps an open connection for the next call, up to max_idle_ (the most recent used first).
  void Release(std::unique_ptr<http_client::HttpConnection> connection) {
    if (!connection->connected()) return;
    absl::MutexLock lock(&mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
  }

  static absl::Status NetworkError(const absl::Status& status) {
    const std::string message = absl::StrCat("ClickHouse: ", status.message());
    if (status.code() == absl::StatusCode::kResourceExhausted) {
      return absl::InvalidArgumentError(absl::StrCat(message, " (the result is too large)"));
    }
    return absl::UnavailableError(message);
  }

  static absl::Status AnswerError(const http_client::HttpResponse& response,
                                  const std::string& authority) {
    std::string text = Quote(response.body);
    int code = ParseCode(text);
    if (code == 0) {
      // Current releases also name the code in a header.
      code = LeadingNumber(response.Header("X-ClickHouse-Exception-Code"));
      if (code != 0) text = absl::StrCat("Code: ", code, ", ", text);
    }
    std::string message = absl::StrCat("ClickHouse at ", authority, ": HTTP ", response.status);
    if (!response.reason.empty()) absl::StrAppend(&message, " ", response.reason);
    if (!text.empty()) absl::StrAppend(&message, ": ", text);
    return absl::Status(KindOfAnswer(response.status, code), message);
  }

  const int64_t timeout_ns_;
  const size_t max_idle_;
  const Settings session_settings_;
  http_client::HttpConnectionOptions connection_options_;
  std::string authorization_;  // the Authorization header's value; "" without a username

  absl::Mutex mu_;
  std::vector<std::unique_ptr<http_client::HttpConnection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<ClickHouseClient>> ClickHouseClient::Create(
    const ClickHouseOptions& options, int max_idle_connections, Settings session_settings) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(options.endpoint);
  if (!endpoint.ok()) return endpoint.status();
  std::shared_ptr<const http_client::ClientTls> tls;
  if (endpoint->https) {
    http_client::ClientTlsOptions tls_options;
    tls_options.ca_file = options.tls.ca_file;
    tls_options.cert_file = options.tls.cert_file;
    tls_options.key_file = options.tls.key_file;
    tls_options.insecure_skip_verify = options.tls.insecure_skip_verify;
    absl::StatusOr<std::shared_ptr<const http_client::ClientTls>> made =
        http_client::ClientTls::Create(tls_options, "storage.clickhouse.tls");
    if (!made.ok()) return made.status();
    tls = *std::move(made);
  }
  return std::make_unique<HttpClickHouseClient>(options, *endpoint, std::move(tls),
                                                max_idle_connections, std::move(session_settings));
}

int ClickHouseClient::ErrorCode(const absl::Status& status) {
  return ParseCode(std::string_view(status.message().data(), status.message().size()));
}

}  // namespace tailtrace::storage::clickhouse
