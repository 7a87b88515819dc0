#include "clickhouse_sql.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tailtrace::storage::clickhouse {
namespace {

// The sampling decision of a trace from its `traces` rows (trace_store.h, "Sampling decision"):
// the first write with a policy decides; without one, the first write's rate and no policy.
constexpr char kDecisionColumns[] =
    "if(countIf(policy != '') > 0, argMinIf(policy, write_id, policy != ''), '') AS dpolicy, "
    "if(countIf(policy != '') > 0, argMinIf(rate, write_id, policy != ''), "
    "argMin(rate, write_id)) AS drate, "
    "if(countIf(policy != '') > 0, argMinIf(rate_text, write_id, policy != ''), "
    "argMin(rate_text, write_id)) AS drate_text";

// The conditions on spans, over the span_index rows of the trace's scope spans.
std::vector<std::string> SpanConditions(const TraceQuery& q) {
  std::vector<std::string> out;
  const std::string name = Quote(q.operation);
  if (!q.operation.empty()) out.push_back(absl::StrCat("max(name = ", name, ") = 1"));
  if (q.duration_min_ns || q.duration_max_ns) {
    std::string cond = "1";
    if (!q.operation.empty()) absl::StrAppend(&cond, " AND name = ", name);
    if (q.duration_min_ns) absl::StrAppend(&cond, " AND duration_ns >= ", *q.duration_min_ns);
    if (q.duration_max_ns) absl::StrAppend(&cond, " AND duration_ns <= ", *q.duration_max_ns);
    out.push_back(absl::StrCat("max(", cond, ") = 1"));
  }
  for (const auto& [key, value] : q.attributes) {
    if (IsSamplingTag(key)) continue;
    out.push_back(absl::StrCat("max(arrayExists((k, v) -> k = ", Quote(key),
                               " AND v = ", Quote(value), ", tag_keys, tag_values)) = 1"));
  }
  return out;
}

// The traces that have scope spans satisfying every span condition, or "" when the query has
// no condition on spans (every trace qualifies).
std::string SpanFilter(const TableNames& t, const TraceQuery& q) {
  const std::vector<std::string> having = SpanConditions(q);
  if (q.service.empty() && having.empty()) return "";
  std::vector<std::string> where = {"1"};
  if (!q.service.empty()) where.push_back(absl::StrCat("service = ", Quote(q.service)));
  // Every span of a trace starts at or after the trace's start.
  if (q.start_time_min_ns) where.push_back(absl::StrCat("start_ns >= ", *q.start_time_min_ns));
  std::string sql = absl::StrCat("SELECT trace_id FROM ", t.span_index, " WHERE ",
                                 absl::StrJoin(where, " AND "), " GROUP BY trace_id");
  if (!having.empty()) absl::StrAppend(&sql, " HAVING ", absl::StrJoin(having, " AND "));
  return sql;
}

// The conditions on whole traces: the time window and the sampling decision.
std::vector<std::string> TraceConditions(const TraceQuery& q) {
  std::vector<std::string> out = {"1"};
  if (q.start_time_min_ns) out.push_back(absl::StrCat("trace_start >= ", *q.start_time_min_ns));
  if (q.start_time_max_ns) out.push_back(absl::StrCat("trace_start <= ", *q.start_time_max_ns));
  for (const auto& [key, value] : q.attributes) {
    if (key == kSamplingPolicyTag) {
      out.push_back(absl::StrCat("(dpolicy != '' AND dpolicy = ", Quote(value), ")"));
    } else if (key == kSamplingRateTag) {
      out.push_back(absl::StrCat("(drate > 0 AND drate_text = ", Quote(value), ")"));
    }
  }
  return out;
}

}  // namespace

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  for (char c : s) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string TraceIdLiteral(const TraceId& id) { return absl::StrCat("unhex('", id.Hex(), "')"); }

std::string DayList(std::span<const uint16_t> days) {
  return absl::StrCat("(", absl::StrJoin(days, ", "), ")");
}

std::string SearchStatement(const TableNames& t, const TraceQuery& q) {
  std::vector<std::string> where;
  // A trace starts in the window only if one of its writes starts there.
  if (q.start_time_min_ns || q.start_time_max_ns) {
    std::vector<std::string> window = {"1"};
    if (q.start_time_min_ns)
      window.push_back(absl::StrCat("write_start_ns >= ", *q.start_time_min_ns));
    if (q.start_time_max_ns)
      window.push_back(absl::StrCat("write_start_ns <= ", *q.start_time_max_ns));
    where.push_back(absl::StrCat("trace_id IN (SELECT trace_id FROM ", t.traces, " WHERE ",
                                 absl::StrJoin(window, " AND "), ")"));
  }
  if (const std::string spans = SpanFilter(t, q); !spans.empty()) {
    where.push_back(absl::StrCat("trace_id IN (", spans, ")"));
  }
  if (where.empty()) where.push_back("1");
  return absl::StrCat(
      "SELECT trace_id, min(write_start_ns) AS trace_start, max(write_end_ns) AS trace_end, ",
      kDecisionColumns, ", groupUniqArray(day) AS days FROM ", t.traces, " WHERE ",
      absl::StrJoin(where, " AND "), " GROUP BY trace_id HAVING ",
      absl::StrJoin(TraceConditions(q), " AND "),
      " ORDER BY trace_start DESC, trace_id DESC LIMIT ", q.limit, " FORMAT RowBinary");
}

}  // namespace tailtrace::storage::clickhouse
