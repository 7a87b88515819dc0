// ClickHouseTraceStore::SuggestTags: the distinct tag keys (or values of one key) of the spans of
// the traces that start in the window's index slots (trace_store.h, "Tag suggestion semantics"),
// filtered by the index options as they are now.

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clickhouse_client.h"
#include "clickhouse_sql.h"
#include "row_binary.h"
#include "schema.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "storage/index/keys.h"

namespace tailtrace::storage {
namespace {

// Whether a tag is indexed under `o` now (IsIndexedTag), as a condition on k and v.
std::string IndexedNow(const IndexOptions& o) {
  std::string cond = absl::StrCat("k != '' AND length(k) <= ", o.max_value_length,
                                  " AND length(v) <= ", o.max_value_length);
  std::vector<std::string> excluded;
  for (const std::string& key : o.exclude_keys) excluded.push_back(clickhouse::Quote(key));
  excluded.push_back(clickhouse::Quote(kSamplingPolicyTag));
  excluded.push_back(clickhouse::Quote(kSamplingRateTag));
  absl::StrAppend(&cond, " AND k NOT IN (", absl::StrJoin(excluded, ", "), ")");
  return cond;
}

std::string SuggestionStatement(const clickhouse::TableNames& t, const IndexOptions& o,
                                const TagSuggestionQuery& q) {
  // The window's whole slots: trace starts are never negative.
  const int64_t lo = IndexSlot(q.start_time_min_ns) * kIndexSlotNs;
  const int64_t last_slot = IndexSlot(q.start_time_max_ns);
  const int64_t hi = last_slot >= std::numeric_limits<int64_t>::max() / kIndexSlotNs
                         ? std::numeric_limits<int64_t>::max()
                         : (last_slot + 1) * kIndexSlotNs - 1;
  const std::string window = absl::StrCat(" BETWEEN ", lo, " AND ", hi);
  const std::string traces = absl::StrCat(
      "SELECT trace_id FROM ", t.traces, " WHERE trace_id IN (SELECT trace_id FROM ", t.traces,
      " WHERE write_start_ns", window, ") GROUP BY trace_id HAVING min(write_start_ns)", window);
  std::vector<std::string> where = {absl::StrCat("start_ns >= ", lo),
                                    absl::StrCat("trace_id IN (", traces, ")"), IndexedNow(o)};
  if (!q.service.empty()) where.push_back(absl::StrCat("service = ", clickhouse::Quote(q.service)));
  if (!q.key.empty()) where.push_back(absl::StrCat("k = ", clickhouse::Quote(q.key)));
  const char* name = q.key.empty() ? "k" : "v";
  // GROUP BY, not DISTINCT: 18.16's DISTINCT after an ARRAY JOIN repeats names.
  return absl::StrCat("SELECT ", name, " AS name FROM ", t.span_index,
                      " ARRAY JOIN tag_keys AS k, tag_values AS v WHERE ",
                      absl::StrJoin(where, " AND "), " GROUP BY name ORDER BY name LIMIT ", q.limit,
                      " FORMAT RowBinary");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ClickHouseTraceStore::SuggestTags(
    const TagSuggestionQuery& query) {
  if (absl::Status valid = ValidateTagSuggestionQuery(query, options_.index); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<std::string> body = Query(SuggestionStatement(*tables_, options_.index, query));
  if (!body.ok()) return body.status();
  std::vector<std::string> out;
  clickhouse::RowBinaryReader in(*body);
  while (!in.done()) {
    std::string_view name;
    if (!in.String(&name)) return absl::InternalError("ClickHouse answered a malformed name list");
    out.emplace_back(name);
  }
  return out;
}

}  // namespace tailtrace::storage
