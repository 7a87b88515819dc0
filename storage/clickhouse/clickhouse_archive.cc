// ClickHouseTraceStore: the trace archive. Each ArchiveTrace appends the trace's spans as one
// write (rows are never changed); reading folds the writes in order by the archive's merge rule
// (storage/trace_merge.h, MergeIntoArchive), so the copy is their union and archiving is
// idempotent without reading before writing.

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "clickhouse_client.h"
#include "clickhouse_rows.h"
#include "clickhouse_sql.h"
#include "row_binary.h"
#include "schema.h"
#include "storage/clickhouse/clickhouse_trace_store.h"
#include "storage/trace_merge.h"

namespace tailtrace::storage {
namespace {

// One ArchiveTrace's part of the copy, as read back.
struct ArchivedPart {
  clickhouse::TraceAssembler spans;
  std::string policy;
  double rate = 0;
};

absl::Status ParseArchiveRows(std::string_view body, std::map<uint64_t, ArchivedPart>* parts) {
  clickhouse::RowBinaryReader in(body);
  while (!in.done()) {
    clickhouse::TraceAssembler::Row row;
    std::string_view policy;
    double rate = 0;
    if (!in.Fixed(&row.write_id) || !in.Fixed(&row.ordinal) || !in.Fixed(&row.rs) ||
        !in.Fixed(&row.ss) || !in.String(&row.resource) || !in.String(&row.scope) ||
        !in.String(&row.span) || !in.String(&policy) || !in.Fixed(&rate)) {
      return absl::InternalError("ClickHouse answered a malformed archive row");
    }
    ArchivedPart& part = (*parts)[row.write_id];
    part.policy = std::string(policy);
    part.rate = rate;
    if (absl::Status s = part.spans.Add(row); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ClickHouseTraceStore::ArchiveTrace(const StoredTrace& trace) {
  if (absl::Status valid = ValidateArchiveTrace(trace); !valid.ok()) return valid;
  std::string rows;
  if (clickhouse::AppendArchiveRows(trace, NextWriteId(), &rows) == 0) return absl::OkStatus();
  return InsertInto(tables_->archive, rows);
}

absl::StatusOr<std::optional<StoredTrace>> ClickHouseTraceStore::GetArchivedTrace(
    const TraceId& id) {
  absl::StatusOr<std::string> body = Query(
      absl::StrCat("SELECT write_id, ordinal, rs, ss, resource, scope, span, policy, rate FROM ",
                   tables_->archive, " WHERE trace_id = ", clickhouse::TraceIdLiteral(id),
                   " ORDER BY write_id, ordinal FORMAT RowBinary"));
  if (!body.ok()) return body.status();
  std::map<uint64_t, ArchivedPart> parts;
  if (absl::Status s = ParseArchiveRows(*body, &parts); !s.ok()) return s;
  std::optional<StoredTrace> copy;
  for (auto& [write_id, part] : parts) {
    StoredTrace added;
    added.trace_id = id;
    added.data = std::move(part.spans.data());
    added.sampling_policy = std::move(part.policy);
    added.sample_rate = part.rate;
    MergeIntoArchive(added, &copy);
  }
  return copy;
}

}  // namespace tailtrace::storage
