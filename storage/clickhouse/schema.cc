#include "schema.h"

#include "absl/strings/str_cat.h"

namespace tailtrace::storage::clickhouse {
namespace {

// The columns of `input`, as inserted (RowBinary, in this order: clickhouse_rows.cc).
constexpr char kInputColumns[] =
    "day Date, trace_id FixedString(16), write_id UInt64, ordinal UInt32, rs UInt32, ss UInt32, "
    "resource String, scope String, span String, service String, name String, kind UInt8, "
    "status UInt8, span_id String, parent_span_id String, start_ns Int64, duration_ns Int64, "
    "tag_keys Array(String), tag_values Array(String), policy String, rate Float64, "
    "rate_text String";

std::string Table(const std::string& name, const char* columns, const char* engine) {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", name, " (", columns, ") ENGINE = ", engine);
}

std::string View(const std::string& view, const std::string& target, const std::string& select) {
  return absl::StrCat("CREATE MATERIALIZED VIEW IF NOT EXISTS ", view, " TO ", target, " AS ",
                      select);
}

}  // namespace

TableNames TableNamesOf(const ClickHouseOptions& options) {
  const auto name = [&options](const char* base) {
    return absl::StrCat(options.database, ".", options.table_prefix, base);
  };
  return TableNames{
      .input = name("input"),
      .spans = name("spans"),
      .span_index = name("span_index"),
      .traces = name("traces"),
      .operations = name("operations"),
      .dependency_calls = name("dependency_calls"),
      .metric_points = name("metric_points"),
      .archive = name("archive"),
      .spans_view = name("spans_mv"),
      .span_index_view = name("span_index_mv"),
      .traces_view = name("traces_mv"),
      .operations_view = name("operations_mv"),
  };
}

std::vector<std::string> SchemaStatements(const ClickHouseOptions& options) {
  const TableNames t = TableNamesOf(options);
  std::vector<std::string> out;
  out.push_back(absl::StrCat("CREATE DATABASE IF NOT EXISTS ", options.database));
  out.push_back(Table(t.input, kInputColumns, "Null"));
  out.push_back(Table(t.spans,
                      "day Date, trace_id FixedString(16), write_id UInt64, ordinal UInt32, "
                      "rs UInt32, ss UInt32, resource String, scope String, span String",
                      "MergeTree PARTITION BY day ORDER BY (trace_id, write_id, ordinal)"));
  out.push_back(Table(t.span_index,
                      "day Date, service String, name String, start_ns Int64, "
                      "duration_ns Int64, kind UInt8, status UInt8, trace_id FixedString(16), "
                      "span_id String, parent_span_id String, write_id UInt64, ordinal UInt32, "
                      "tag_keys Array(String), tag_values Array(String)",
                      "MergeTree PARTITION BY day ORDER BY (service, name, start_ns)"));
  out.push_back(Table(t.traces,
                      "day Date, trace_id FixedString(16), write_id UInt64, write_start_ns Int64, "
                      "write_end_ns Int64, policy String, rate Float64, rate_text String",
                      "MergeTree PARTITION BY day ORDER BY (trace_id, write_id)"));
  out.push_back(Table(t.operations, "day Date, service String, name String, kind UInt8",
                      "ReplacingMergeTree PARTITION BY day ORDER BY (service, name, kind)"));
  out.push_back(Table(t.dependency_calls,
                      "day Date, slot Int64, parent String, child String, calls UInt64, "
                      "failed UInt64",
                      "SummingMergeTree PARTITION BY day ORDER BY (slot, parent, child)"));
  out.push_back(Table(t.metric_points,
                      "day Date, service String, operation String, span_kind UInt8, "
                      "status_code UInt8, time_ns Int64, write_id UInt64, calls UInt64, "
                      "bounds_ms Array(Float64), counts Array(UInt64), sum_ms Float64",
                      "MergeTree PARTITION BY day ORDER BY (service, time_ns)"));
  out.push_back(Table(t.archive,
                      "trace_id FixedString(16), write_id UInt64, ordinal UInt32, rs UInt32, "
                      "ss UInt32, resource String, scope String, span String, policy String, "
                      "rate Float64",
                      "MergeTree ORDER BY (trace_id, write_id, ordinal)"));
  out.push_back(View(t.spans_view, t.spans,
                     absl::StrCat("SELECT day, trace_id, write_id, ordinal, rs, ss, resource, "
                                  "scope, span FROM ",
                                  t.input)));
  out.push_back(View(t.span_index_view, t.span_index,
                     absl::StrCat("SELECT day, service, name, start_ns, duration_ns, kind, status, "
                                  "trace_id, span_id, parent_span_id, write_id, ordinal, "
                                  "tag_keys, tag_values FROM ",
                                  t.input)));
  out.push_back(
      View(t.traces_view, t.traces,
           absl::StrCat("SELECT day, trace_id, write_id, min(start_ns) AS write_start_ns, "
                        "max(start_ns + duration_ns) AS write_end_ns, "
                        "any(policy) AS policy, "
                        "any(rate) AS rate, any(rate_text) AS rate_text FROM ",
                        t.input, " GROUP BY day, trace_id, write_id")));
  out.push_back(View(t.operations_view, t.operations,
                     absl::StrCat("SELECT DISTINCT day, service, name, kind FROM ", t.input)));
  return out;
}

std::vector<std::string> PartitionedTables(const TableNames& t) {
  return {t.spans, t.span_index, t.traces, t.operations, t.dependency_calls};
}

}  // namespace tailtrace::storage::clickhouse
