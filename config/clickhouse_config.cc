// storage.backend and storage.clickhouse: where kept traces go, and how tailtraced reaches a
// ClickHouse server over its HTTP interface.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "clickhouse_config_internal.h"
#include "exporters_internal.h"
#include "units_internal.h"

namespace tailtrace::config::internal {
namespace {

constexpr std::string_view kHttp = "http://";
constexpr std::string_view kHttps = "https://";

// A name the backend splices into SQL unquoted (database, table prefix, cluster): what ClickHouse
// accepts as an identifier without quotes, or "" when `allow_empty`.
std::optional<std::string> ReadIdentifier(ParseContext& ctx, const Field& field, bool allow_empty) {
  std::optional<std::string> text =
      allow_empty ? ReadScalar(ctx, field, "a string") : ReadNonEmptyString(ctx, field);
  if (!text || text->empty() || storage::IsClickHouseIdentifier(*text)) return text;
  ReportValueError(ctx, field,
                   absl::StrCat("\"", AbslView(*text),
                                "\" is not a name ClickHouse accepts unquoted: letters, digits "
                                "and _, not starting with a digit (it is spliced into SQL)"));
  return std::nullopt;
}

// The host:port of an http(s)://host:port[/] URL, or what is wrong with the part after the scheme.
absl::StatusOr<std::string_view> Authority(std::string_view rest) {
  const size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  const std::string_view tail = end == std::string_view::npos ? "" : rest.substr(end);
  if (tail.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError("no query or fragment allowed, only http(s)://host:port");
  }
  if (!tail.empty() && tail != "/") {
    return absl::InvalidArgumentError(
        "no path allowed, only http(s)://host:port (the database is storage.clickhouse.database)");
  }
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "no credentials in the URL; set storage.clickhouse.username and password");
  }
  // Said here for ":8123": ParseHostPort's hint for a missing host is about listening.
  if (authority.empty() || (authority.find(':') == 0 && authority.rfind(':') == 0)) {
    return absl::InvalidArgumentError("missing host");
  }
  const size_t colon = authority.rfind(':');
  const size_t bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) {
    return absl::InvalidArgumentError("missing port (ClickHouse's is usually 8123, 8443 with TLS)");
  }
  return authority;
}

// Checks an http(s)://host:port[/] endpoint; the error says what is wrong but not the key.
absl::Status CheckEndpoint(std::string_view url) {
  const auto error = [url](std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid endpoint \"", AbslView(url), "\": ", AbslView(what)));
  };
  std::string_view rest = url;
  if (rest.starts_with(kHttp)) {
    rest.remove_prefix(kHttp.size());
  } else if (rest.starts_with(kHttps)) {
    rest.remove_prefix(kHttps.size());
  } else if (const size_t end = url.find("://"); end != std::string_view::npos) {
    const std::string scheme = absl::AsciiStrToLower(std::string(url.substr(0, end)));
    return error(scheme == "http" || scheme == "https"
                     ? std::string("write the scheme in lower case: http:// or https://")
                     : absl::StrCat("unsupported scheme \"", AbslView(url.substr(0, end)),
                                    "\" (ClickHouse's HTTP interface: http:// or https://)"));
  } else {
    return error("expected http://host:port or https://host:port, e.g. \"http://127.0.0.1:8123\"");
  }
  absl::StatusOr<std::string_view> authority = Authority(rest);
  if (!authority.ok()) return error(std::string(authority.status().message()));
  absl::StatusOr<HostPort> parsed = ParseHostPort(*authority);
  if (!parsed.ok()) {
    const std::string message(parsed.status().message());
    std::string_view what = message;
    const std::string prefix = absl::StrCat("invalid endpoint \"", AbslView(*authority), "\": ");
    if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
    return error(what);
  }
  if (parsed->port == 0) return error("port 0 cannot be dialled");
  return absl::OkStatus();
}

// storage.clickhouse.endpoint; returns whether a valid one is in `*out` (given or the default).
bool ReadClickHouseEndpoint(MapReader& map, std::string* out) {
  std::optional<Field> f = map.Take("endpoint");
  if (!f) return true;
  std::optional<std::string> text = ReadNonEmptyString(map.context(), *f);
  if (!text) return false;
  if (absl::Status status = CheckEndpoint(*text); !status.ok()) {
    ReportValueError(map.context(), *f, std::string(status.message()));
    return false;
  }
  *out = *std::move(text);
  return true;
}

// storage.clickhouse.tls; returns the line to report a misplaced tls key at.
int ParseTls(MapReader& map, storage::ClickHouseTlsOptions* out) {
  std::optional<Field> f = map.Take("tls");
  if (!f) return -1;
  int line0 = f->line();  // a file key's own line, once ReadClientTls meets one
  MapReader tls(map.context(), f->path, f->value, f->line());
  ReadClientTls(tls, {&out->ca_file, &out->cert_file, &out->key_file, &out->insecure_skip_verify},
                &line0);
  tls.ReportUnknownKeys();
  return line0;
}

// TLS settings with an http:// endpoint would be ignored: refused, naming the first one set.
void CheckTlsNeedsHttps(MapReader& map, const storage::ClickHouseOptions& out, int tls_line0) {
  if (out.endpoint.starts_with(kHttps)) return;
  const storage::ClickHouseTlsOptions& tls = out.tls;
  const char* set = !tls.ca_file.empty()       ? "ca_file"
                    : !tls.cert_file.empty()   ? "cert_file"
                    : !tls.key_file.empty()    ? "key_file"
                    : tls.insecure_skip_verify ? "insecure_skip_verify"
                                               : nullptr;
  if (set == nullptr) return;
  map.context().AddError(
      tls_line0, map.ChildPath(absl::StrCat("tls.", set)),
      absl::StrCat("is set but the endpoint \"", AbslView(out.endpoint),
                   "\" is http://, which never uses TLS; use an https:// endpoint or remove it"));
}

// The names and credentials: database, username, password, table_prefix, cluster.
void ParseNames(MapReader& map, storage::ClickHouseOptions* out) {
  ParseContext& ctx = map.context();
  if (std::optional<Field> f = map.Take("database")) {
    if (std::optional<std::string> v = ReadIdentifier(ctx, *f, false)) out->database = *v;
  }
  map.NonEmptyString("username", &out->username);
  if (std::optional<Field> f = map.Take("password")) {
    if (std::optional<std::string> v = ReadScalar(ctx, *f, "a string")) out->password = *v;
  }
  if (std::optional<Field> f = map.Take("table_prefix")) {
    if (std::optional<std::string> v = ReadIdentifier(ctx, *f, true)) out->table_prefix = *v;
  }
  if (std::optional<Field> f = map.Take("cluster")) {
    if (std::optional<std::string> v = ReadIdentifier(ctx, *f, true)) out->cluster = *v;
  }
}

// insert_quorum counts the replicas of a shard: meaningless without cluster (ParseNames first).
void ParseInsertQuorum(MapReader& map, storage::ClickHouseOptions* out) {
  std::optional<Field> f = map.Take("insert_quorum");
  if (!f) return;
  std::optional<int64_t> v = ReadInt(map.context(), *f, 0, 100);
  if (!v) return;
  if (*v > 0 && out->cluster.empty()) {
    ReportValueError(map.context(), *f,
                     "needs storage.clickhouse.cluster: a quorum counts the replicas of a "
                     "shard's replicated tables");
    return;
  }
  out->insert_quorum = static_cast<uint32_t>(*v);
}

void ParseClickHouse(MapReader map, storage::ClickHouseOptions* out) {
  const bool endpoint_ok = ReadClickHouseEndpoint(map, &out->endpoint);
  ParseNames(map, out);
  map.Duration("ttl", 0, &out->ttl_ns);
  map.Int("batch_size", 1, std::numeric_limits<uint32_t>::max(), &out->batch_size);
  map.Duration("flush_interval", 0, &out->flush_interval_ns);
  map.Duration("timeout", 1, &out->timeout_ns);
  const int tls_line0 = ParseTls(map, &out->tls);
  map.Bool("create_schema", &out->create_schema);
  ParseInsertQuorum(map, out);
  map.ReportUnknownKeys();
  if (endpoint_ok) CheckTlsNeedsHttps(map, *out, tls_line0);
}

}  // namespace

void ParseStorageBackend(MapReader& map, storage::StoreOptions* out) {
  std::string backend = "rocksdb";
  map.Enum("backend", {"rocksdb", "clickhouse"}, &backend);
  out->backend = backend == "clickhouse" ? storage::StorageBackend::kClickHouse
                                         : storage::StorageBackend::kRocksDb;
  ParseClickHouse(map.Map("clickhouse"), &out->clickhouse);
}

}  // namespace tailtrace::config::internal
