#include "schema.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tailtrace::storage::clickhouse {
namespace {

// The columns of `input`, as inserted (RowBinary, in this order: clickhouse_rows.cc).
constexpr char kInputColumns[] =
    "day Date, trace_id FixedString(16), write_id UInt64, ordinal UInt32, rs UInt32, ss UInt32, "
    "resource String, scope String, span String, service String, name String, kind UInt8, "
    "status UInt8, span_id String, parent_span_id String, start_ns Int64, duration_ns Int64, "
    "tag_keys Array(String), tag_values Array(String), policy String, rate Float64, "
    "rate_text String";

// Rows of a trace go to the shard its ID hashes to, so that a shard answers for its traces
// alone: searches and dependencies join tables on the trace ID shard by shard
// (distributed_product_mode=local, SessionSettings).
constexpr char kByTrace[] = "cityHash64(trace_id)";
// Tables not keyed by trace spread their rows evenly.
constexpr char kAnyShard[] = "rand()";

// A table of the schema. `engine` is a MergeTree family member ("" for Null), `keys` its
// PARTITION BY / ORDER BY clause.
struct TableSpec {
  const char* base;  // the name without database and prefix
  const char* columns;
  const char* engine;
  const char* keys;
  const char* sharding_key;
};

constexpr TableSpec kTables[] = {
    {"input", kInputColumns, "", "", kByTrace},
    {"spans",
     "day Date, trace_id FixedString(16), write_id UInt64, ordinal UInt32, rs UInt32, ss UInt32, "
     "resource String, scope String, span String",
     "MergeTree", "PARTITION BY day ORDER BY (trace_id, write_id, ordinal)", kByTrace},
    {"span_index",
     "day Date, service String, name String, start_ns Int64, duration_ns Int64, kind UInt8, "
     "status UInt8, trace_id FixedString(16), span_id String, parent_span_id String, "
     "write_id UInt64, ordinal UInt32, tag_keys Array(String), tag_values Array(String)",
     "MergeTree", "PARTITION BY day ORDER BY (service, name, start_ns)", kByTrace},
    {"traces",
     "day Date, trace_id FixedString(16), write_id UInt64, write_start_ns Int64, "
     "write_end_ns Int64, policy String, rate Float64, rate_text String",
     "MergeTree", "PARTITION BY day ORDER BY (trace_id, write_id)", kByTrace},
    {"operations", "day Date, service String, name String, kind UInt8", "ReplacingMergeTree",
     "PARTITION BY day ORDER BY (service, name, kind)", kAnyShard},
    {"dependency_calls",
     "day Date, slot Int64, parent String, child String, calls UInt64, failed UInt64",
     "SummingMergeTree", "PARTITION BY day ORDER BY (slot, parent, child)", kAnyShard},
    {"metric_points",
     "day Date, service String, operation String, span_kind UInt8, status_code UInt8, "
     "time_ns Int64, write_id UInt64, calls UInt64, bounds_ms Array(Float64), "
     "counts Array(UInt64), sum_ms Float64",
     "MergeTree", "PARTITION BY day ORDER BY (service, time_ns)", kAnyShard},
    {"archive",
     "trace_id FixedString(16), write_id UInt64, ordinal UInt32, rs UInt32, ss UInt32, "
     "resource String, scope String, span String, policy String, rate Float64",
     "MergeTree", "ORDER BY (trace_id, write_id, ordinal)", kByTrace},
};

// The materialized views from `input`: {view, target table, SELECT list and clauses after FROM}.
struct ViewSpec {
  const char* base;
  const char* target;
  const char* select;
  const char* after;
};

constexpr ViewSpec kViews[] = {
    {"spans_mv", "spans", "day, trace_id, write_id, ordinal, rs, ss, resource, scope, span", ""},
    {"span_index_mv", "span_index",
     "day, service, name, start_ns, duration_ns, kind, status, trace_id, span_id, "
     "parent_span_id, write_id, ordinal, tag_keys, tag_values",
     ""},
    {"traces_mv", "traces",
     "day, trace_id, write_id, min(start_ns) AS write_start_ns, "
     "max(start_ns + duration_ns) AS write_end_ns, any(policy) AS policy, any(rate) AS rate, "
     "any(rate_text) AS rate_text",
     " GROUP BY day, trace_id, write_id"},
    {"operations_mv", "operations", "DISTINCT day, service, name, kind", ""},
};

class SchemaWriter {
 public:
  explicit SchemaWriter(const ClickHouseOptions& o) : o_(o) {}

  // "db.prefix_base", and "db.prefix_base_local" for the table holding the rows on a cluster.
  std::string Name(const char* base) const {
    return absl::StrCat(o_.database, ".", o_.table_prefix, base);
  }
  std::string StoredName(const char* base) const {
    return absl::StrCat(Name(base), o_.cluster.empty() ? "" : "_local");
  }

  std::vector<std::string> Statements() const {
    std::vector<std::string> out;
    out.push_back(absl::StrCat("CREATE DATABASE IF NOT EXISTS ", o_.database, OnCluster(o_)));
    for (const TableSpec& t : kTables) {
      out.push_back(Create(StoredName(t.base), t.columns, StoredEngine(t)));
      if (!o_.cluster.empty()) out.push_back(Create(Name(t.base), t.columns, Distributed(t)));
    }
    for (const ViewSpec& v : kViews) {
      out.push_back(absl::StrCat("CREATE MATERIALIZED VIEW IF NOT EXISTS ", Name(v.base),
                                 OnCluster(o_), " TO ", StoredName(v.target), " AS SELECT ",
                                 v.select, " FROM ", StoredName("input"), v.after));
    }
    return out;
  }

 private:
  std::string Create(const std::string& name, const char* columns,
                     const std::string& engine) const {
    return absl::StrCat("CREATE TABLE IF NOT EXISTS ", name, OnCluster(o_), " (", columns,
                        ") ENGINE = ", engine);
  }

  // One server: the engine as it is. A cluster: its Replicated variant, one replica of the
  // shard's table per server, named by the server's {shard} and {replica} macros.
  std::string StoredEngine(const TableSpec& t) const {
    if (*t.engine == '\0') return "Null";
    if (o_.cluster.empty()) return absl::StrCat(t.engine, " ", t.keys);
    return absl::StrCat("Replicated", t.engine, "('/clickhouse/tables/{shard}/", o_.database, ".",
                        o_.table_prefix, t.base, "', '{replica}') ", t.keys);
  }

  std::string Distributed(const TableSpec& t) const {
    return absl::StrCat("Distributed(", o_.cluster, ", ", o_.database, ", ", o_.table_prefix,
                        t.base, "_local, ", t.sharding_key, ")");
  }

  const ClickHouseOptions& o_;
};

}  // namespace

TableNames TableNamesOf(const ClickHouseOptions& options) {
  const SchemaWriter w(options);
  return TableNames{
      .input = w.Name("input"),
      .spans = w.Name("spans"),
      .span_index = w.Name("span_index"),
      .traces = w.Name("traces"),
      .operations = w.Name("operations"),
      .dependency_calls = w.Name("dependency_calls"),
      .metric_points = w.Name("metric_points"),
      .archive = w.Name("archive"),
      .partitioned_by_trace_ttl = {w.StoredName("spans"), w.StoredName("span_index"),
                                   w.StoredName("traces"), w.StoredName("operations"),
                                   w.StoredName("dependency_calls")},
      .stored_metric_points = w.StoredName("metric_points"),
  };
}

std::vector<std::string> SchemaStatements(const ClickHouseOptions& options) {
  return SchemaWriter(options).Statements();
}

std::vector<std::string> SchemaObjectNames(const ClickHouseOptions& options) {
  const SchemaWriter w(options);
  std::vector<std::string> out;
  const auto add = [&out, &options](const std::string& qualified) {
    out.push_back(qualified.substr(options.database.size() + 1));
  };
  for (const TableSpec& t : kTables) {
    add(w.StoredName(t.base));
    if (!options.cluster.empty()) add(w.Name(t.base));
  }
  for (const ViewSpec& v : kViews) add(w.Name(v.base));
  return out;
}

std::string OnCluster(const ClickHouseOptions& options) {
  return options.cluster.empty() ? "" : absl::StrCat(" ON CLUSTER ", options.cluster);
}

std::string PartsTable(const ClickHouseOptions& options) {
  return options.cluster.empty() ? "system.parts"
                                 : absl::StrCat("cluster('", options.cluster, "', system, parts)");
}

std::vector<std::pair<std::string, std::string>> SessionSettings(const ClickHouseOptions& options) {
  if (options.cluster.empty()) return {};
  std::vector<std::pair<std::string, std::string>> out = {
      // A write is acknowledged once every shard stored its rows, not when they are queued on
      // the server that took the INSERT.
      {"insert_distributed_sync", "1"},
      // Subqueries and joins over Distributed tables run shard by shard on the local tables:
      // every table keyed by trace is sharded by trace ID, so each shard holds whole traces.
      {"distributed_product_mode", "local"},
  };
  if (options.insert_quorum > 0) {
    out.emplace_back("insert_quorum", std::to_string(options.insert_quorum));
    // A write whose quorum does not come fails within half the request's timeout, with the
    // server's own error ("Timeout while waiting for quorum") rather than a cut connection.
    const int64_t quorum_ms = std::max<int64_t>(options.timeout_ns / 2'000'000, 1000);
    out.emplace_back("insert_quorum_timeout", std::to_string(quorum_ms));
  }
  return out;
}

}  // namespace tailtrace::storage::clickhouse
