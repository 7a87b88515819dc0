#pragma once

// Private to tailtrace-bench-query (header-only, included by query_bench.cc alone): what the
// benchmark itself asks of the ClickHouse server behind a ClickHouseTraceStore (--backend
// clickhouse), outside the TraceStore interface: dropping the database before a build, merging
// its tables before measuring (the analog of the RocksDB store's full compaction), its size on
// disk, and the server's CPU time.

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "http_client/http_client.h"

namespace tailtrace::bench {

// `text` split at each `sep`, empty pieces left out.
inline std::vector<std::string> SplitNonEmpty(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(sep, begin);
    if (end == std::string_view::npos) end = text.size();
    if (end > begin) out.emplace_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

// Statements to one ClickHouse server over its HTTP interface (POST /, the statement as the
// body), as the default user without a password (the private server bench/run.sh starts).
class ClickHouseAdmin {
 public:
  // `endpoint`: http://host:port[/] (no TLS: the benchmark's server is local).
  static absl::StatusOr<ClickHouseAdmin> Connect(std::string_view endpoint) {
    std::string_view rest = endpoint;
    if (!rest.starts_with("http://")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--clickhouse-endpoint \"", std::string(endpoint), "\": expected http://host:port"));
    }
    rest.remove_prefix(7);
    if (rest.ends_with("/")) rest.remove_suffix(1);
    const size_t colon = rest.rfind(':');
    int port = 0;
    if (colon == std::string_view::npos || colon == 0 ||
        std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port).ptr !=
            rest.data() + rest.size() ||
        port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--clickhouse-endpoint \"", std::string(endpoint), "\": expected http://host:port"));
    }
    std::string host(rest.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    return ClickHouseAdmin(std::move(host), port);
  }

  // The answer's body (TabSeparated unless the statement says otherwise); an error with
  // ClickHouse's message when the server answers other than 200.
  absl::StatusOr<std::string> Query(const std::string& statement, double timeout_s = 600) {
    http_client::HttpRequest request;
    request.target = "/";
    request.body = statement;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    absl::StatusOr<http_client::HttpResponse> response = connection_->RoundTrip(request, deadline);
    if (!response.ok()) return response.status();
    if (response->status != 200) {
      return absl::InternalError(absl::StrCat("ClickHouse answered ", response->status, " to ",
                                              statement.substr(0, 120), ": ",
                                              response->body.substr(0, 400)));
    }
    return std::move(response->body);
  }

  // One number (the first field of the answer).
  absl::StatusOr<double> QueryNumber(const std::string& statement) {
    absl::StatusOr<std::string> body = Query(statement);
    if (!body.ok()) return body.status();
    double v = 0;
    const auto [end, ec] = std::from_chars(body->data(), body->data() + body->size(), v);
    if (ec != std::errc()) {
      return absl::InternalError(
          absl::StrCat("not a number: \"", body->substr(0, 80), "\" from ", statement));
    }
    return v;
  }

  // Waits (up to `timeout_s`) until no merge runs on `database`'s tables in two polls 0.5 s
  // apart. Returns whether it settled.
  bool AwaitMerges(const std::string& database, double timeout_s) {
    const double deadline = WallSeconds() + timeout_s;
    int idle = 0;
    while (WallSeconds() < deadline) {
      absl::StatusOr<double> n = QueryNumber(
          absl::StrCat("SELECT count() FROM system.merges WHERE database = '", database, "'"));
      if (!n.ok()) return false;
      idle = *n == 0 ? idle + 1 : 0;
      if (idle >= 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }

  // The analog of compacting a RocksDB store fully: OPTIMIZE TABLE ... FINAL on every
  // MergeTree table of `database` (each partition merged into one part), once the background
  // merges stopped.
  absl::Status MergeAll(const std::string& database) {
    AwaitMerges(database, 300);
    absl::StatusOr<std::string> tables =
        Query(absl::StrCat("SELECT name FROM system.tables WHERE database = '", database,
                           "' AND engine LIKE '%MergeTree' ORDER BY name"));
    if (!tables.ok()) return tables.status();
    for (const std::string& name : SplitNonEmpty(*tables, '\n')) {
      absl::StatusOr<std::string> done =
          Query(absl::StrCat("OPTIMIZE TABLE ", database, ".`", name, "` FINAL"));
      if (!done.ok()) return done.status();
    }
    return absl::OkStatus();
  }

  // Bytes on disk and active parts of `database`'s tables (system.parts).
  struct Size {
    uint64_t bytes = 0;
    uint64_t parts = 0;
    std::string by_table;  // "spans=123,span_index=45,..." (bytes)
  };
  absl::StatusOr<Size> DiskSize(const std::string& database) {
    absl::StatusOr<std::string> rows = Query(absl::StrCat(
        "SELECT table, sum(bytes_on_disk), count() FROM system.parts WHERE database = '", database,
        "' AND active GROUP BY table ORDER BY table"));
    if (!rows.ok()) return rows.status();
    Size size;
    for (const std::string& line : SplitNonEmpty(*rows, '\n')) {
      const std::vector<std::string> f = SplitNonEmpty(line, '\t');
      if (f.size() != 3) continue;
      uint64_t bytes = 0;
      uint64_t parts = 0;
      std::from_chars(f[1].data(), f[1].data() + f[1].size(), bytes);
      std::from_chars(f[2].data(), f[2].data() + f[2].size(), parts);
      size.bytes += bytes;
      size.parts += parts;
      absl::StrAppend(&size.by_table, size.by_table.empty() ? "" : ",", f[0], "=", bytes);
    }
    return size;
  }

 private:
  ClickHouseAdmin(std::string host, int port)
      : connection_(std::make_unique<http_client::HttpConnection>(
            http_client::HttpConnectionOptions{.host = std::move(host),
                                               .port = port,
                                               .tls = nullptr,
                                               .max_response_body_bytes = 16 << 20})) {}

  std::unique_ptr<http_client::HttpConnection> connection_;
};

// CPU seconds (user + system, all threads) of process `pid` so far, from /proc/PID/stat; -1 when
// it cannot be read. For the ClickHouse server, whose work the benchmark's own CPU time misses.
inline double ProcessCpuSecondsOf(int64_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  // After "(comm) ": state is field 3; utime and stime are fields 14 and 15.
  const std::vector<std::string> f = SplitNonEmpty(std::string_view(stat).substr(paren + 2), ' ');
  if (f.size() < 13) return -1;
  uint64_t utime = 0;
  uint64_t stime = 0;
  std::from_chars(f[11].data(), f[11].data() + f[11].size(), utime);
  std::from_chars(f[12].data(), f[12].data() + f[12].size(), stime);
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace tailtrace::bench
