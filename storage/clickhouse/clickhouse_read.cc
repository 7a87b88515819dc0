// ClickHouseTraceStore: reading traces, services, operations and searches.

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clickhouse_client.h"
#include "clickhouse_rows.h"
#include "clickhouse_sql.h"
#include "row_binary.h"
#include "schema.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "storage/index/trace_analysis.h"

namespace tailtrace::storage {
namespace {

using clickhouse::RowBinaryReader;
using clickhouse::TraceAssembler;

absl::Status Malformed(const char* what) {
  return absl::InternalError(absl::StrCat("ClickHouse answered a malformed ", what));
}

// What a trace's `traces` rows say: the days it lies in and its sampling decision.
struct TraceRows {
  std::vector<uint16_t> days;
  std::string policy;
  double rate = 1.0;
};

absl::StatusOr<std::optional<TraceRows>> ParseTraceRows(std::string_view body) {
  RowBinaryReader in(body);
  std::set<uint16_t> days;
  TraceRows out;
  bool first = true;
  while (!in.done()) {
    uint16_t day = 0;
    uint64_t write_id = 0;
    std::string_view policy;
    double rate = 0;
    if (!in.Fixed(&day) || !in.Fixed(&write_id) || !in.String(&policy) || !in.Fixed(&rate)) {
      return Malformed("trace lookup");
    }
    days.insert(day);
    if (first) {
      out.policy = std::string(policy);
      out.rate = rate;
      first = false;
    } else {
      MergeSamplingDecision(policy, rate, &out.policy, &out.rate);
    }
  }
  if (first) return std::nullopt;
  out.days.assign(days.begin(), days.end());
  return out;
}

}  // namespace

absl::StatusOr<std::optional<StoredTrace>> ClickHouseTraceStore::GetTrace(const TraceId& id) {
  return ReadTrace(id, 0);
}

absl::StatusOr<std::optional<StoredTrace>> ClickHouseTraceStore::GetTraceUpTo(const TraceId& id,
                                                                              uint64_t max_spans) {
  return ReadTrace(id, max_spans);
}

absl::StatusOr<std::optional<StoredTrace>> ClickHouseTraceStore::ReadTrace(const TraceId& id,
                                                                           uint64_t max_spans) {
  const std::string literal = clickhouse::TraceIdLiteral(id);
  absl::StatusOr<std::string> lookup =
      Query(absl::StrCat("SELECT day, write_id, policy, rate FROM ", tables_->traces,
                         " WHERE trace_id = ", literal, " ORDER BY write_id FORMAT RowBinary"));
  if (!lookup.ok()) return lookup.status();
  absl::StatusOr<std::optional<TraceRows>> rows = ParseTraceRows(*lookup);
  if (!rows.ok()) return rows.status();
  if (!rows->has_value()) return std::nullopt;
  std::string statement =
      absl::StrCat("SELECT trace_id, write_id, ordinal, rs, ss, resource, scope, span FROM ",
                   tables_->spans, " WHERE day IN ", clickhouse::DayList((*rows)->days),
                   " AND trace_id = ", literal, " ORDER BY write_id, ordinal");
  // One more than asked for tells a truncated trace (copies of a retried INSERT aside).
  if (max_spans > 0) absl::StrAppend(&statement, " LIMIT ", max_spans + 1);
  absl::StatusOr<std::string> body = Query(statement + " FORMAT RowBinary");
  if (!body.ok()) return body.status();
  std::map<TraceId, TraceAssembler> assembled;
  if (absl::Status s = clickhouse::AssembleSpanRows(*body, &assembled); !s.ok()) return s;
  if (assembled.empty()) return std::nullopt;
  StoredTrace trace;
  trace.trace_id = id;
  trace.data = std::move(assembled.begin()->second.data());
  trace.sampling_policy = std::move((*rows)->policy);
  trace.sample_rate = (*rows)->rate;
  trace.truncated = max_spans > 0 && SpanCountOf(trace.data) > max_spans;
  return trace;
}

absl::StatusOr<std::vector<std::string>> ClickHouseTraceStore::GetServices() {
  absl::StatusOr<std::string> body = Query(absl::StrCat(
      "SELECT DISTINCT service FROM ", tables_->operations, " ORDER BY service FORMAT RowBinary"));
  if (!body.ok()) return body.status();
  std::vector<std::string> out;
  RowBinaryReader in(*body);
  while (!in.done()) {
    std::string_view service;
    if (!in.String(&service)) return Malformed("service list");
    out.emplace_back(service);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<Operation>> ClickHouseTraceStore::GetOperations(
    const std::string& service, int span_kind) {
  std::string statement = absl::StrCat("SELECT DISTINCT name, kind FROM ", tables_->operations,
                                       " WHERE service = ", clickhouse::Quote(service));
  if (span_kind >= 0) absl::StrAppend(&statement, " AND kind = ", span_kind);
  absl::StatusOr<std::string> body = Query(statement + " FORMAT RowBinary");
  if (!body.ok()) return body.status();
  std::vector<Operation> out;
  RowBinaryReader in(*body);
  while (!in.done()) {
    std::string_view name;
    uint8_t kind = 0;
    if (!in.String(&name) || !in.Fixed(&kind)) return Malformed("operation list");
    out.push_back(Operation{std::string(name), kind});
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tailtrace::storage
