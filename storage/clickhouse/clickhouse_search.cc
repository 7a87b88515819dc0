// ClickHouseTraceStore::FindTraces: the matching traces come from one statement
// (clickhouse_sql.h, SearchStatement); their summaries are computed from their spans, read in a
// second one, by the function every store uses (ComputeSummary).

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

struct Found {
  TraceId id;
  std::string policy;
  double rate = 0;
};

// The rows of SearchStatement: the traces in order, and every day they lie in.
absl::Status ParseFound(std::string_view body, std::vector<Found>* found,
                        std::set<uint16_t>* days) {
  RowBinaryReader in(body);
  while (!in.done()) {
    std::string_view id, policy, rate_text;
    int64_t start = 0, end = 0;
    double rate = 0;
    uint64_t n = 0;
    if (!in.FixedString(16, &id) || !in.Fixed(&start) || !in.Fixed(&end) || !in.String(&policy) ||
        !in.Fixed(&rate) || !in.String(&rate_text) || !in.Length(&n)) {
      return absl::InternalError("ClickHouse answered a malformed search result");
    }
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t day = 0;
      if (!in.Fixed(&day)) return absl::InternalError("ClickHouse answered a malformed day list");
      days->insert(day);
    }
    found->push_back(Found{TraceId::FromBytes(id), std::string(policy), rate});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<TraceSummary>> ClickHouseTraceStore::FindTraces(
    const TraceQuery& query) {
  if (absl::Status valid = ValidateTraceQuery(query, options_.index); !valid.ok()) return valid;
  absl::StatusOr<std::string> body = Query(clickhouse::SearchStatement(*tables_, query));
  if (!body.ok()) return body.status();
  std::vector<Found> found;
  std::set<uint16_t> days;
  if (absl::Status s = ParseFound(*body, &found, &days); !s.ok()) return s;
  if (found.empty()) return std::vector<TraceSummary>();
  std::vector<std::string> ids;
  for (const Found& f : found) ids.push_back(clickhouse::TraceIdLiteral(f.id));
  const std::vector<uint16_t> day_list(days.begin(), days.end());
  absl::StatusOr<std::string> spans = Query(absl::StrCat(
      "SELECT trace_id, write_id, ordinal, rs, ss, resource, scope, span FROM ", tables_->spans,
      " WHERE day IN ", clickhouse::DayList(day_list), " AND trace_id IN (",
      absl::StrJoin(ids, ", "), ") ORDER BY trace_id, write_id, ordinal FORMAT RowBinary"));
  if (!spans.ok()) return spans.status();
  std::map<TraceId, TraceAssembler> traces;
  if (absl::Status s = clickhouse::AssembleSpanRows(*spans, &traces); !s.ok()) return s;
  std::vector<TraceSummary> out;
  for (const Found& f : found) {
    auto it = traces.find(f.id);
    if (it == traces.end() || it->second.spans() == 0) continue;
    const opentelemetry::proto::trace::v1::TracesData* data = &it->second.data();
    TraceSummary& summary = out.emplace_back(ComputeSummary(f.id, TraceChunks(&data, 1)));
    summary.sampling_policy = f.policy;
    summary.sample_rate = f.rate;
  }
  return out;
}

}  // namespace tailtrace::storage
