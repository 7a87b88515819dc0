// RocksTraceStore reads: a trace is one prefix scan of "spans"; services and operations are
// prefix scans of "meta".

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/keys.h"
#include "storage/rocks_trace_store.h"
#include "tailtrace/storage/v1/records.pb.h"

namespace tailtrace::storage {

absl::StatusOr<std::optional<StoredTrace>> RocksTraceStore::GetTrace(const TraceId& id) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;

  // The prefix extractor lets the bloom filters skip every file that has no chunk of this trace.
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  ro.total_order_seek = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, spans_cf_));

  const std::string_view prefix = SpanKeyPrefix(id);
  const rocksdb::Slice prefix_slice(prefix.data(), prefix.size());
  std::optional<StoredTrace> trace;
  bool have_policy = false;
  tailtrace::storage::v1::SpanChunk chunk;
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
      have_policy = !chunk.sampling_policy().empty();
    } else if (!have_policy && !chunk.sampling_policy().empty()) {
      trace->sampling_policy = chunk.sampling_policy();
      trace->sample_rate = chunk.sample_rate();
      have_policy = true;
    }
    auto* out = trace->data.mutable_resource_spans();
    for (auto& rs : *chunk.mutable_resource_spans()) out->Add(std::move(rs));
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(),
                     absl::StrCat("reading trace ", id.Hex(), " from storage.path ", path_));
  }
  return trace;
}

absl::StatusOr<std::vector<std::string>> RocksTraceStore::GetServices() {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  const std::string prefix = ServiceKeyPrefix();
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, meta_cf_));

  std::vector<std::string> services;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::optional<std::string> service = DecodeServiceKey(it->key().ToStringView());
    if (service) services.push_back(std::move(*service));
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), absl::StrCat("reading services from storage.path ", path_));
  }
  // Keys sort bytewise, which is already the order of the names.
  return services;
}

absl::StatusOr<std::vector<Operation>> RocksTraceStore::GetOperations(const std::string& service,
                                                                      int span_kind) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  std::vector<Operation> ops;
  // Kinds outside a byte are never stored (they are stored as 0), so none can match.
  if (span_kind > 255) return ops;
  const std::string prefix = OperationKeyPrefix(service, span_kind < 0 ? -1 : span_kind);
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, meta_cf_));

  const rocksdb::Slice prefix_slice(prefix);
  for (it->Seek(prefix_slice); it->Valid() && it->key().starts_with(prefix_slice); it->Next()) {
    std::optional<OperationKeyParts> parts = DecodeOperationKey(it->key().ToStringView());
    if (!parts || parts->service != service) continue;
    ops.push_back(Operation{std::move(parts->name), parts->span_kind});
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), absl::StrCat("reading operations of service '", service,
                                                "' from storage.path ", path_));
  }
  // Keys sort by kind then name; the API promises name then kind.
  std::sort(ops.begin(), ops.end());
  return ops;
}

}  // namespace tailtrace::storage
