// RocksTraceStore reads: a trace is one prefix scan in the bucket that holds it (buckets are
// probed newest first; the prefix bloom filter skips the others cheaply); service and operation
// names come from the buckets' in-memory name sets.

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/index/keys.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tailtrace/storage/v1/records.pb.h"

namespace tailtrace::storage {

absl::StatusOr<std::optional<StoredTrace>> RocksTraceStore::GetTrace(const TraceId& id) {
  return GetTraceUpTo(id, 0);
}

absl::StatusOr<std::optional<StoredTrace>> RocksTraceStore::GetTraceUpTo(const TraceId& id,
                                                                         uint64_t max_spans) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  const std::vector<BucketPtr> buckets = SnapshotBuckets();
  const std::string prefix = SpanKeyPrefix(id);
  const rocksdb::Slice prefix_slice(prefix);
  // The first key after every key starting with `prefix`. With it as the iterator's upper bound,
  // RocksDB stops at the index entry of the block after the trace's last chunk instead of
  // reading (and decompressing) that block to find its first key is past the prefix.
  const std::string upper = PrefixSuccessor(prefix);  // never empty: the prefix starts with 'T'
  const rocksdb::Slice upper_slice(upper);
  tailtrace::storage::v1::SpanChunk chunk;
  for (auto b = buckets.rbegin(); b != buckets.rend(); ++b) {
    if (!(*b)->has_traces()) continue;
    // The prefix extractor lets the bloom filters skip every file that has no chunk of this trace.
    rocksdb::ReadOptions ro;
    ro.prefix_same_as_start = true;
    ro.total_order_seek = false;
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, (*b)->handle()));
    std::optional<StoredTrace> trace;
    uint64_t spans = 0;
    for (it->Seek(prefix_slice); it->Valid() && it->key().starts_with(prefix_slice); it->Next()) {
      const rocksdb::Slice value = it->value();
      chunk.Clear();
      if (!chunk.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        const std::optional<SpanKeyParts> key = DecodeSpanKey(it->key().ToStringView());
        return absl::DataLossError(absl::StrCat(
            "trace ", id.Hex(), ": span chunk ", key ? absl::StrCat(key->chunk_seq) : "?",
            " in storage.path ", path_, " is not a valid SpanChunk (", value.size(), " bytes)"));
      }
      if (!trace) {
        trace.emplace();
        trace->trace_id = id;
        trace->sampling_policy = chunk.sampling_policy();
        trace->sample_rate = chunk.sample_rate();
      } else {
        MergeSamplingDecision(chunk.sampling_policy(), chunk.sample_rate(), &trace->sampling_policy,
                              &trace->sample_rate);
      }
      auto* out = trace->data.mutable_resource_spans();
      for (auto& rs : *chunk.mutable_resource_spans()) {
        for (const auto& ss : rs.scope_spans()) spans += static_cast<uint64_t>(ss.spans_size());
        out->Add(std::move(rs));
      }
      if (max_spans > 0 && spans > max_spans) {
        trace->truncated = true;
        break;
      }
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(),
                       absl::StrCat("reading trace ", id.Hex(), " from storage.path ", path_));
    }
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
