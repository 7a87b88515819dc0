#pragma once

// Private to storage/clickhouse/: the SQL text of the backend's queries. ClickHouse 18.16 has no
// query parameters, so values are spliced in as literals, always through Quote (strings) or
// numbers formatted here; nothing a client sent reaches a statement any other way.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proto/otlp_ids.h"
#include "schema.h"
#include "storage/trace_store.h"

namespace tailtrace::storage::clickhouse {

// A ClickHouse string literal holding exactly the bytes of `s`: quoted, with backslash and quote
// escaped (every other byte stands for itself).
std::string Quote(std::string_view s);

// unhex('...'): compares equal to a FixedString(16) column holding `id`.
std::string TraceIdLiteral(const TraceId& id);

// "(d1, d2, ...)" of Date values (days since 1970-01-01), for `day IN ...`; requires days.
std::string DayList(std::span<const uint16_t> days);

// The traces matching `query` (which ValidateTraceQuery accepted), newest first, at most
// query.limit, one RowBinary row each: trace_id FixedString(16), start Int64, end Int64, and the
// sampling decision: policy String, rate Float64, rate_text String; then days Array(Date) (the
// days the trace lies in). See trace_store.h,
// "Search semantics", for what matches.
std::string SearchStatement(const TableNames& tables, const TraceQuery& query);

}  // namespace tailtrace::storage::clickhouse
