// RocksTraceStore's trace archive: one SpanChunk per archived trace in the "archive" column
// family (keys.h), which retention never drops. Archiving reads the archived copy, merges the
// trace into it (trace_merge.h) and writes it back, one archive write at a time.

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/index/keys.h"
#include "storage/rocks/rocks_trace_store.h"
#include "storage/trace_merge.h"
#include "tailtrace/storage/v1/records.pb.h"

namespace tailtrace::storage {
namespace {

std::string ArchiveKey(const TraceId& id) { return std::string(id.view()); }

std::string EncodeArchivedTrace(const StoredTrace& trace) {
  tailtrace::storage::v1::SpanChunk chunk;
  *chunk.mutable_resource_spans() = trace.data.resource_spans();
  chunk.set_sampling_policy(trace.sampling_policy);
  chunk.set_sample_rate(trace.sample_rate);
  return chunk.SerializeAsString();
}

}  // namespace

absl::Status RocksTraceStore::ArchiveTrace(const StoredTrace& trace) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  if (absl::Status valid = ValidateArchiveTrace(trace); !valid.ok()) return valid;
  if (SpanCountOf(trace.data) == 0) return absl::OkStatus();
  if (absl::Status writable = EnsureWritable(); !writable.ok()) return writable;
  std::lock_guard lock(archive_mu_);
  absl::StatusOr<std::optional<StoredTrace>> copy = GetArchivedTrace(trace.trace_id);
  if (!copy.ok()) return copy.status();
  if (!MergeIntoArchive(trace, &*copy)) return absl::OkStatus();
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), archive_cf_, ArchiveKey(trace.trace_id),
                               EncodeArchivedTrace(**copy));
  absl::Status status = FromRocks(
      s, absl::StrCat("archiving trace ", trace.trace_id.Hex(), " in storage.path ", path_));
  if (absl::IsUnavailable(status)) MarkUnwritable(status);
  return status;
}

absl::StatusOr<std::optional<StoredTrace>> RocksTraceStore::GetArchivedTrace(const TraceId& id) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), archive_cf_, ArchiveKey(id), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    return FromRocks(
        s, absl::StrCat("reading archived trace ", id.Hex(), " from storage.path ", path_));
  }
  tailtrace::storage::v1::SpanChunk chunk;
  if (!chunk.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("archived trace ", id.Hex(), " in storage.path ", path_,
                                            " is not a valid SpanChunk (", value.size(),
                                            " bytes)"));
  }
  StoredTrace trace;
  trace.trace_id = id;
  trace.data.mutable_resource_spans()->Swap(chunk.mutable_resource_spans());
  trace.sampling_policy = std::move(*chunk.mutable_sampling_policy());
  trace.sample_rate = chunk.sample_rate();
  return trace;
}

}  // namespace tailtrace::storage
