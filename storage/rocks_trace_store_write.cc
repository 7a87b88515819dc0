// RocksTraceStore::Write: one WriteBatch per call with a span chunk per trace and the service and
// operation keys not stored yet.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/in_memory_trace_store.h"
#include "storage/keys.h"
#include "storage/rocks_trace_store.h"
#include "tailtrace/storage/v1/records.pb.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using tailtrace::storage::v1::SpanChunk;

// A SpanChunk is serialized as the TracesData bytes followed by a SpanChunk holding only the
// policy and rate: protobuf parses concatenated messages as one, and both messages keep their
// ResourceSpans in field 1, so the spans are serialized once without being copied.
static_assert(static_cast<int>(TracesData::kResourceSpansFieldNumber) ==
              static_cast<int>(SpanChunk::kResourceSpansFieldNumber));

size_t CountSpans(const TracesData& data) {
  size_t n = 0;
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

}  // namespace

absl::Status RocksTraceStore::Write(std::span<const TraceWrite> traces) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;

  std::vector<size_t> span_counts(traces.size(), 0);
  uint64_t chunks = 0;
  uint64_t spans = 0;
  for (size_t i = 0; i < traces.size(); ++i) {
    if (traces[i].spans == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("TraceWrite[", i, "] for trace ",
                                                     traces[i].trace_id.Hex(), ": spans is null"));
    }
    span_counts[i] = CountSpans(*traces[i].spans);
    spans += span_counts[i];
    // A write without spans stores nothing: GetTrace must not find a trace that has no span.
    if (span_counts[i] > 0) ++chunks;
  }
  if (chunks == 0) return absl::OkStatus();

  absl::StatusOr<uint64_t> first_seq = AllocateChunkSeqs(chunks);
  if (!first_seq.ok()) return first_seq.status();
  uint64_t seq = *first_seq;

  rocksdb::WriteBatch batch;
  absl::flat_hash_set<std::string> meta_keys;
  std::string value;
  for (size_t i = 0; i < traces.size(); ++i) {
    if (span_counts[i] == 0) continue;
    const TraceWrite& w = traces[i];
    value.clear();
    if (!w.spans->AppendToString(&value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("TraceWrite[", i, "] for trace ", w.trace_id.Hex(),
                       ": spans cannot be serialized (missing fields or over 2 GiB)"));
    }
    SpanChunk tail;
    tail.set_sampling_policy(w.sampling_policy);
    tail.set_sample_rate(w.sample_rate);
    tail.AppendToString(&value);
    rocksdb::Status s = batch.Put(spans_cf_, SpanKey(w.trace_id, seq++), value);
    if (!s.ok()) return FromRocks(s, absl::StrCat("batching trace ", w.trace_id.Hex()));

    for (const auto& rs : w.spans->resource_spans()) {
      const std::string service = ServiceNameOf(rs);
      meta_keys.insert(ServiceKey(service));
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) {
          meta_keys.insert(OperationKey(service, static_cast<int>(span.kind()), span.name()));
        }
      }
    }
  }

  std::vector<std::string> new_meta_keys;
  {
    std::lock_guard lock(meta_mu_);
    for (const std::string& key : meta_keys) {
      if (!known_meta_keys_.contains(key)) new_meta_keys.push_back(key);
    }
  }
  for (const std::string& key : new_meta_keys) {
    rocksdb::Status s = batch.Put(meta_cf_, key, rocksdb::Slice());
    if (!s.ok()) return FromRocks(s, "batching service and operation names");
  }

  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) {
    return FromRocks(s, absl::StrCat("writing ", traces.size(), " traces to storage.path ", path_));
  }
  // Only now are the keys stored; a concurrent write may have stored the same ones (harmless).
  {
    std::lock_guard lock(meta_mu_);
    for (std::string& key : new_meta_keys) known_meta_keys_.insert(std::move(key));
  }
  traces_written_.fetch_add(chunks, std::memory_order_relaxed);
  spans_written_.fetch_add(spans, std::memory_order_relaxed);
  return absl::OkStatus();
}

}  // namespace tailtrace::storage
