#pragma once

// Private to storage/clickhouse/: spans as rows of the backend's tables (schema.h), and back.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "storage/options.h"
#include "storage/trace_store.h"

namespace tailtrace::storage::clickhouse {

inline constexpr int64_t kDayNs = 86'400ll * 1'000'000'000;

// The day (days since 1970-01-01, ClickHouse's Date) of a time; times before 1970 count as day 0.
uint16_t DayOf(int64_t unix_ns);

// The partition ID ClickHouse gives the partition of a day ("YYYYMMDD", in every version), so
// that partitions compare by day as strings.
std::string PartitionIdOf(uint16_t day);

// What every row of one trace write shares.
struct WriteRowsContext {
  uint16_t day = 0;       // the write's day (its partition)
  uint64_t write_id = 0;  // unique per write, increasing with time (the write order of a trace)
  const IndexOptions* index = nullptr;
};

// Appends one `input` row per span of `data` (a write of `write.trace_id`), in RowBinary, and
// returns how many. The rows hold each span's bytes with those of its resource and scope, the
// fields searches filter on, the indexed tags (IsIndexedTag under ctx.index, each distinct
// (key, value) once per span) and the write's sampling decision.
uint64_t AppendInputRows(const TraceWrite& write,
                         const opentelemetry::proto::trace::v1::TracesData& data,
                         const WriteRowsContext& ctx, std::string* out);

// Appends one `archive` row per span of `trace` (RowBinary): its bytes with those of its resource
// and scope, and the trace's sampling decision. Returns how many.
uint64_t AppendArchiveRows(const StoredTrace& trace, uint64_t write_id, std::string* out);

// Rebuilds a trace from its `spans` rows, read in (write_id, ordinal) order: each write's
// resources and scopes as they were written, in write order. A row with the write_id and ordinal
// of the row before it is a copy of it (an INSERT retried after it had succeeded) and is skipped.
class TraceAssembler {
 public:
  struct Row {
    uint64_t write_id = 0;
    uint32_t ordinal = 0;
    uint32_t rs = 0;
    uint32_t ss = 0;
    std::string_view resource;
    std::string_view scope;
    std::string_view span;
  };
  // DataLoss when a row's bytes do not parse (naming the trace).
  [[nodiscard]] absl::Status Add(const Row& row);
  uint64_t spans() const { return spans_; }
  opentelemetry::proto::trace::v1::TracesData& data() { return data_; }

 private:
  opentelemetry::proto::trace::v1::TracesData data_;
  bool any_ = false;
  uint64_t write_id_ = 0;
  uint32_t ordinal_ = 0;
  uint32_t rs_ = 0;
  uint32_t ss_ = 0;
  uint64_t spans_ = 0;
};

// Adds the `spans` rows of `body` (RowBinary: trace_id, write_id, ordinal, rs, ss, resource,
// scope, span, in (trace_id, write_id, ordinal) order) to an assembler per trace. Internal for a
// malformed row, DataLoss for bytes that do not parse.
[[nodiscard]] absl::Status AssembleSpanRows(std::string_view body,
                                            std::map<TraceId, TraceAssembler>* traces);

}  // namespace tailtrace::storage::clickhouse
