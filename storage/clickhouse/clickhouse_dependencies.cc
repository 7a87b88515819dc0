// ClickHouseTraceStore: dependency calls, counted from the stored spans at query time (one join
// of the window's child spans with their parents) and added by the service graph
// (WriteDependencyCalls, the dependency_calls table). See trace_store.h, "Dependency semantics".

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
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

// The calls whose child span started in slots [first, last], per edge, from the spans: each
// child (a copy of a retried INSERT counted once) joined with the parent its span ID names.
// A parent's service is the smallest among the spans with its ID; it fails its calls when one
// of those spans of that service is a CLIENT (3) or PRODUCER (4) span with status ERROR (2).
std::string CallsFromSpans(const clickhouse::TableNames& t, int64_t first, int64_t last) {
  const int64_t lo = first <= std::numeric_limits<int64_t>::min() / kDependencySlotNs
                         ? std::numeric_limits<int64_t>::min()
                         : first * kDependencySlotNs;
  const int64_t hi = last >= std::numeric_limits<int64_t>::max() / kDependencySlotNs - 1
                         ? std::numeric_limits<int64_t>::max()
                         : (last + 1) * kDependencySlotNs - 1;
  const std::string window = absl::StrCat("start_ns >= ", lo, " AND start_ns <= ", hi);
  const std::string children = absl::StrCat(
      "SELECT trace_id, parent_span_id AS span_id, service AS child, status = 2 AS child_fails "
      "FROM ",
      t.span_index, " WHERE parent_span_id != '' AND ", window,
      " LIMIT 1 BY trace_id, write_id, ordinal");
  const std::string parents = absl::StrCat(
      "SELECT trace_id, span_id, min(service) AS parent, arrayExists(x -> x.1 = parent AND x.2 = "
      "1, groupArray((service, toUInt8(kind IN (3, 4) AND status = 2)))) AS parent_fails FROM ",
      t.span_index, " WHERE span_id != '' AND trace_id IN (SELECT trace_id FROM ", t.span_index,
      " WHERE parent_span_id != '' AND ", window, ") GROUP BY trace_id, span_id");
  return absl::StrCat("SELECT parent, child, count(), sum(child_fails OR parent_fails) FROM (",
                      children, ") ALL INNER JOIN (", parents,
                      ") USING (trace_id, span_id) WHERE parent != child GROUP BY parent, child "
                      "FORMAT RowBinary");
}

std::string AddedCalls(const clickhouse::TableNames& t, int64_t first, int64_t last) {
  return absl::StrCat("SELECT parent, child, sum(calls), sum(failed) FROM ", t.dependency_calls,
                      " WHERE slot >= ", first, " AND slot <= ", last,
                      " GROUP BY parent, child FORMAT RowBinary");
}

absl::Status AddEdges(std::string_view body, EdgeCounts* sums) {
  RowBinaryReader in(body);
  while (!in.done()) {
    std::string_view parent, child;
    uint64_t calls = 0, failed = 0;
    if (!in.String(&parent) || !in.String(&child) || !in.Fixed(&calls) || !in.Fixed(&failed)) {
      return absl::InternalError("ClickHouse answered a malformed dependency row");
    }
    (*sums)[{std::string(parent), std::string(child)}] +=
        CallCounts{static_cast<int64_t>(calls), static_cast<int64_t>(failed)};
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<DependencyLink>> ClickHouseTraceStore::GetDependencies(
    int64_t end_ns, int64_t lookback_ns) {
  absl::StatusOr<DependencySlots> slots = DependencySlotsOf(end_ns, lookback_ns);
  if (!slots.ok()) return slots.status();
  const int64_t first = slots->first;
  const int64_t last = slots->last;
  EdgeCounts sums;
  if (options_.dependencies_from_traces) {
    absl::StatusOr<std::string> body = Query(CallsFromSpans(*tables_, first, last));
    if (!body.ok()) return body.status();
    if (absl::Status s = AddEdges(*body, &sums); !s.ok()) return s;
  }
  absl::StatusOr<std::string> added = Query(AddedCalls(*tables_, first, last));
  if (!added.ok()) return added.status();
  if (absl::Status s = AddEdges(*added, &sums); !s.ok()) return s;
  return LinksOf(sums);
}

absl::Status ClickHouseTraceStore::WriteDependencyCalls(std::span<const DependencyCalls> calls) {
  if (absl::Status valid = ValidateDependencyCalls(calls); !valid.ok()) return valid;
  if (calls.empty()) return absl::OkStatus();
  std::string rows;
  clickhouse::RowBinaryWriter w(&rows);
  const uint16_t day = clickhouse::DayOf(clock_->UnixNanos());
  for (const DependencyCalls& c : calls) {
    w.UInt16(day);
    w.Int64(DependencySlot(c.time_ns));
    w.String(c.parent);
    w.String(c.child);
    w.UInt64(c.calls);
    w.UInt64(c.failed);
  }
  // Two writes may count the same calls of the same slot and edge: replicated tables must not
  // take the second block for a copy of the first.
  return InsertInto(tables_->dependency_calls, rows, {{"insert_deduplicate", "0"}});
}

}  // namespace tailtrace::storage
