#pragma once

// Private to storage/clickhouse/: ClickHouse's HTTP interface (POST, one statement a request),
// over a small pool of kept-alive connections (http_client/), with TLS, HTTP basic
// authentication, and gzip for the request bodies.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/options.h"

namespace tailtrace::storage::clickhouse {

// Thread-safe: concurrent calls use different connections (a new one when every pooled one is
// busy; at most `max_idle_connections` are kept between calls).
class ClickHouseClient {
 public:
  // ClickHouse settings sent as URL parameters: {name, value}.
  using Settings = std::vector<std::pair<std::string, std::string>>;

  // InvalidArgument naming the key (storage.clickhouse.endpoint, .tls.*) for an endpoint that is
  // not http(s)://host:port[/] or TLS files that cannot be loaded. Connects lazily: a server that
  // is down fails the first Execute, not Create. `session_settings` go with every request,
  // before each call's own.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClickHouseClient>> Create(
      const ClickHouseOptions& options, int max_idle_connections = 4,
      Settings session_settings = {});
  virtual ~ClickHouseClient() = default;

  // Runs one statement and returns the response body (the statement's output in the format it
  // names; "" for DDL and INSERT). With `data` empty the statement is the request body; else
  // the statement goes in the URL's `query` parameter and `data` is the body (INSERT ... FORMAT
  // RowBinary), gzip-compressed when it is larger than a few KiB. `settings` become URL
  // parameters (ClickHouse settings such as max_execution_time). Runs in `database` when it is
  // not "" (the URL's `database` parameter), else in the user's default database.
  //
  // Errors: Unavailable when the request may succeed later (connecting, sending or reading
  // failed or timed out, HTTP 429/502/503/504, and ClickHouse errors that are transient:
  // timeouts, too many parts or queries, memory limits, ZooKeeper and replicas, network errors
  // between servers); InvalidArgument for ClickHouse's other errors (the statement is wrong for
  // this server: syntax, unknown table or column) and for a result over 256 MiB;
  // PermissionDenied for authentication failures and refused access (unknown user, wrong
  // password, a read-only user). The message names the server and quotes ClickHouse's own
  // ("Code: 60, e.displayText() = ..."), on one line, cut to a few hundred bytes. A statement
  // with `data` must not end in SETTINGS (its data would be parsed as text): pass `settings`.
  // Each attempt has options.timeout_ns. Nothing is retried here, except a request on a
  // kept-alive connection that the server had closed meanwhile (once, at once, on a new one).
  [[nodiscard]] virtual absl::StatusOr<std::string> Execute(std::string_view statement,
                                                            std::string_view data = {},
                                                            const Settings& settings = {},
                                                            std::string_view database = {}) = 0;

  // The ClickHouse error code in a status Execute returned (the number after "Code: "), or 0.
  static int ErrorCode(const absl::Status& status);
};

}  // namespace tailtrace::storage::clickhouse
