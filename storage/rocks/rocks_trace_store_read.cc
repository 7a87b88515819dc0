// RocksTraceStore reads: a trace is one prefix scan in the bucket that holds it (buckets are
// probed newest first; the prefix bloom filter skips the others cheaply), and a read of each span
// block its chunks refer to (span_blocks.h); service and operation names come from the buckets'
// in-memory name sets.

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "span_blocks.h"
#include "storage/index/keys.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tailtrace/storage/v1/records.pb.h"

namespace tailtrace::storage {
namespace {

// Adds the spans and sampling decision of `chunk` (moved from) to `*trace`, which it creates for
// the trace's first chunk, and counts its spans into `*spans`.
void AddChunk(const TraceId& id, tailtrace::storage::v1::SpanChunk& chunk,
              std::optional<StoredTrace>* trace, uint64_t* spans) {
  if (!*trace) {
    trace->emplace();
    (*trace)->trace_id = id;
    (*trace)->sampling_policy = chunk.sampling_policy();
    (*trace)->sample_rate = chunk.sample_rate();
  } else {
    MergeSamplingDecision(chunk.sampling_policy(), chunk.sample_rate(), &(*trace)->sampling_policy,
                          &(*trace)->sample_rate);
  }
  auto* out = (*trace)->data.mutable_resource_spans();
  for (auto& rs : *chunk.mutable_resource_spans()) {
    for (const auto& ss : rs.scope_spans()) *spans += static_cast<uint64_t>(ss.spans_size());
    out->Add(std::move(rs));
  }
}

}  // namespace

absl::StatusOr<std::optional<StoredTrace>> RocksTraceStore::GetTrace(const TraceId& id) {
  return GetTraceUpTo(id, 0);
}

absl::StatusOr<std::optional<StoredTrace>> RocksTraceStore::GetTraceUpTo(const TraceId& id,
                                                                         uint64_t max_spans) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  const std::vector<BucketPtr> buckets = SnapshotBuckets();
  const std::string where = absl::StrCat("storage.path ", path_);
  tailtrace::storage::v1::SpanChunk chunk;
  for (auto b = buckets.rbegin(); b != buckets.rend(); ++b) {
    if (!(*b)->has_traces()) continue;
    std::optional<StoredTrace> trace;
    uint64_t spans = 0;
    absl::Status bad_chunk;
    absl::Status read =
        ForEachChunk(db_, (*b)->handle(), id, where, [&](std::string_view bytes, uint64_t seq) {
          chunk.Clear();
          if (!chunk.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
            bad_chunk = absl::DataLossError(
                absl::StrCat("trace ", id.Hex(), ": span chunk ", seq, " in ", where,
                             " is not a valid SpanChunk (", bytes.size(), " bytes)"));
            return false;
          }
          AddChunk(id, chunk, &trace, &spans);
          if (max_spans > 0 && spans > max_spans) {
            trace->truncated = true;
            return false;
          }
          return true;
        });
    if (!read.ok()) return read;
    if (!bad_chunk.ok()) return bad_chunk;
    // A trace lives in one bucket.
    if (trace) return trace;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<std::string>> RocksTraceStore::GetServices() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  std::set<std::string> services;
  for (const BucketPtr& b : SnapshotBuckets()) {
    b->ForEachName([&](const std::string& key) {
      if (std::optional<std::string> service = DecodeServiceKey(key)) {
        services.insert(std::move(*service));
      }
    });
  }
  return std::vector<std::string>(services.begin(), services.end());
}

absl::StatusOr<std::vector<Operation>> RocksTraceStore::GetOperations(const std::string& service,
                                                                      int span_kind) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  std::set<Operation> ops;
  // Kinds outside a byte are never stored (they are stored as 0), so none can match.
  if (span_kind > 255) return std::vector<Operation>();
  const std::string prefix = OperationKeyPrefix(service, span_kind < 0 ? -1 : span_kind);
  for (const BucketPtr& b : SnapshotBuckets()) {
    b->ForEachName([&](const std::string& key) {
      if (!key.starts_with(prefix)) return;
      std::optional<OperationKeyParts> parts = DecodeOperationKey(key);
      if (!parts || parts->service != service) return;
      ops.insert(Operation{std::move(parts->name), parts->span_kind});
    });
  }
  // std::set orders by name then kind, as the API promises.
  return std::vector<Operation>(ops.begin(), ops.end());
}

}  // namespace tailtrace::storage
