#pragma once

// Reading a trace's chunks as RocksTraceStore keeps them (keys.h, "Span blocks"): each chunk's
// value is a reference into a span block of its bucket, or (stores of format version 3) the
// chunk's SpanChunk bytes themselves. Readers see SpanChunk bytes either way.

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "proto/otlp_ids.h"
#include "rocksdb/db.h"

namespace tailtrace::storage {

// Calls `fn` with the SpanChunk bytes and chunk sequence of each chunk of trace `id` in the bucket
// `cf`, in write order, until `fn` returns false. The bytes stay valid only during the call.
// DataLoss naming the trace and chunk when a chunk value or its block is malformed or missing;
// `where` names the store in errors ("storage.path ...").
absl::Status ForEachChunk(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const TraceId& id,
                          std::string_view where,
                          absl::FunctionRef<bool(std::string_view chunk, uint64_t seq)> fn);

}  // namespace tailtrace::storage
