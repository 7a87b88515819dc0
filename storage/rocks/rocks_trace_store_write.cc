// RocksTraceStore::Write: one WriteBatch per call holding, per trace, its span chunks (references
// into one span block per bucket, keys.h "Span blocks"), merged summary, index segment marker,
// dependency count deltas and the names not stored yet; then each
// trace's complete set of index streams goes to an open index segment of its bucket (keys.h, "The
// search index"), and the segments that are due are sealed (one more WriteBatch each). The index
// state of a trace comes from TraceTermsBuilder (incremental, cached for recent traces); traces
// with repeated span IDs are recomputed from all their chunks with ComputeIndexTerms.
// The batch's operations are sorted by key before they go to RocksDB (SortedBatch, sorted_batch.h).
// The call's state is declared in write_call.h; its chunks and names are batched in
// rocks_trace_store_write_chunks.cc.

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "proto/wire_traces.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "sorted_batch.h"
#include "span_blocks.h"
#include "spdlog/spdlog.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tailtrace/storage/v1/records.pb.h"
#include "trace_terms_cache.h"
#include "write_call.h"

namespace tailtrace::storage {
namespace {

using write_call::TraceGroup;

using opentelemetry::proto::trace::v1::TracesData;

// The sampling decision of `g` after its writes (trace_store.h, "Sampling decision"), into
// `*summary`.
void SetSamplingDecision(const TraceGroup& g, std::span<const TraceWrite> traces,
                         TraceSummary* summary) {
  size_t next = 0;
  if (g.existing) {
    summary->sampling_policy = g.sampling_policy;
    summary->sample_rate = g.sample_rate;
  } else {
    summary->sampling_policy = traces[g.writes[0]].sampling_policy;
    summary->sample_rate = traces[g.writes[0]].sample_rate;
    next = 1;
  }
  for (; next < g.writes.size(); ++next) {
    const TraceWrite& w = traces[g.writes[next]];
    MergeSamplingDecision(w.sampling_policy, w.sample_rate, &summary->sampling_policy,
                          &summary->sample_rate);
  }
}

// The objects `bytes` parse to, for ComputeIndexTerms.
absl::StatusOr<TracesData> ParseChunk(std::string_view bytes, const std::string& what) {
  TracesData data;
  if (!data.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat(what, " does not parse as TracesData"));
  }
  return data;
}

}  // namespace

absl::Status RocksTraceStore::WriteCall::GroupByTrace() {
  absl::flat_hash_map<TraceId, size_t> group_of;
  bytes_.resize(traces_.size());
  wire_.resize(traces_.size());
  for (size_t i = 0; i < traces_.size(); ++i) {
    if (absl::Status decoded = DecodeWrite(i); !decoded.ok()) return decoded;
    const size_t span_count = wire_[i].spans.size();
    spans_ += span_count;
    // A write without spans stores nothing: GetTrace must not find a trace that has no span.
    if (span_count == 0) continue;
    ++chunks_;
    auto [it, inserted] = group_of.emplace(traces_[i].trace_id, groups_.size());
    if (inserted) groups_.emplace_back().id = traces_[i].trace_id;
    groups_[it->second].writes.push_back(i);
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::DecodeWrite(size_t i) {
  const TraceWrite& w = traces_[i];
  auto invalid = [&](const char* problem) {
    return absl::InvalidArgumentError(
        absl::StrCat("TraceWrite[", i, "] for trace ", w.trace_id.Hex(), ": ", problem));
  };
  bytes_[i] = w.spans_bytes;
  if (bytes_[i].empty() && w.spans == nullptr) {
    return invalid("spans is null and spans_bytes empty");
  }
  if (bytes_[i].empty()) {
    std::string& owned = serialized_spans_.emplace_back();
    if (!w.spans->SerializeToString(&owned)) {
      return invalid("spans cannot be serialized (missing fields or over 2 GiB)");
    }
    bytes_[i] = owned;
  }
  if (!DecodeWireTraces(bytes_[i], &wire_[i])) return invalid("spans_bytes is not a TracesData");
  return absl::OkStatus();
}

std::vector<TraceId> RocksTraceStore::WriteCall::TraceIds() const {
  std::vector<TraceId> ids;
  ids.reserve(groups_.size());
  for (const TraceGroup& g : groups_) ids.push_back(g.id);
  return ids;
}

absl::Status RocksTraceStore::WriteCall::Store(bool* new_bucket) {
  std::shared_lock drop_lock(store_.drop_mu_);
  absl::StatusOr<BucketPtr> current =
      store_.BucketForNewTraces(store_.clock_->UnixNanos(), new_bucket);
  if (!current.ok()) return current.status();
  if (absl::Status found = FindStoredTraces(*current); !found.ok()) return found;
  absl::StatusOr<uint64_t> first_seq = store_.AllocateChunkSeqs(chunks_);
  if (!first_seq.ok()) return first_seq.status();
  next_seq_ = *first_seq;

  absl::Status status = absl::OkStatus();
  for (TraceGroup& g : groups_) {
    status = BatchTrace(g);
    if (!status.ok()) break;
  }
  if (status.ok()) status = BatchBlocks();
  if (status.ok()) status = Commit();
  if (!entries_added_) UnpinEntries();
  return status;
}

absl::Status RocksTraceStore::WriteCall::FindStoredTraces(const BucketPtr& current) {
  // A summary lookup per live bucket, newest first (the prefix bloom filter answers most misses
  // without reading a block).
  std::vector<BucketPtr> buckets = store_.SnapshotBuckets();
  std::vector<size_t> unresolved(groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) unresolved[i] = i;
  for (auto b = buckets.rbegin(); b != buckets.rend() && !unresolved.empty(); ++b) {
    if (!(*b)->has_traces()) continue;
    std::vector<std::string> keys;
    keys.reserve(unresolved.size());
    for (size_t g : unresolved) keys.push_back(SummaryKey(groups_[g].id));
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::ColumnFamilyHandle*> handles(keys.size(), (*b)->handle());
    std::vector<std::string> values;
    std::vector<rocksdb::Status> found =
        store_.db_->MultiGet(rocksdb::ReadOptions(), handles, slices, &values);
    std::vector<size_t> still;
    for (size_t k = 0; k < unresolved.size(); ++k) {
      if (found[k].ok()) {
        TraceGroup& g = groups_[unresolved[k]];
        g.bucket = *b;
        g.existing = true;
        // A summary that does not decode is rewritten below; its decision is taken as unknown.
        if (std::optional<TraceSummary> stored = DecodeSummary(g.id, values[k])) {
          g.sampling_policy = std::move(stored->sampling_policy);
          g.sample_rate = stored->sample_rate;
        }
      } else if (found[k].IsNotFound()) {
        still.push_back(unresolved[k]);
      } else {
        return FromRocks(found[k],
                         absl::StrCat("looking up trace ", groups_[unresolved[k]].id.Hex(),
                                      " in storage.path ", store_.path_));
      }
    }
    unresolved = std::move(still);
  }
  for (size_t g : unresolved) groups_[g].bucket = current;
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::BatchTrace(TraceGroup& g) {
  TraceBatch t(g);
  if (absl::Status loaded = LoadIndexState(t); !loaded.ok()) return loaded;
  if (absl::Status added = AddToIndexState(t); !added.ok()) return added;
  if (absl::Status marked = BatchSummaryAndMarker(t); !marked.ok()) return marked;
  BatchChunks(t);
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::LoadIndexState(TraceBatch& t) {
  const TraceGroup& g = t.group;
  if (std::optional<TraceTermsCache::Entry> cached = store_.terms_cache_->Take(g.id)) {
    if (g.existing && cached->bucket == g.bucket) t.builder = std::move(cached->builder);
  }
  if (t.builder != nullptr) return absl::OkStatus();
  t.builder = std::make_unique<TraceTermsBuilder>(g.id, store_.options_.index);
  if (!g.existing) return absl::OkStatus();
  if (absl::Status read = ReadOldChunks(t); !read.ok()) return read;
  TraceTermsBuilder::Delta ignored;
  ignored.recording = TraceTermsBuilder::Delta::Recording::kNone;
  for (const WireTraces& chunk : t.old_wire) {
    if (!t.builder->Add(chunk, &ignored)) {
      t.builder.reset();  // repeated span IDs: RecomputeIndexTerms
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::ReadOldChunks(TraceBatch& t) {
  t.old_chunks_read = true;
  store_.trace_rereads_.fetch_add(1, std::memory_order_relaxed);
  absl::Status read =
      ForEachChunk(store_.db_, t.cf, t.group.id, absl::StrCat("storage.path ", store_.path_),
                   [&](std::string_view chunk, uint64_t) {
                     t.old_chunks.emplace_back(chunk);
                     return true;
                   });
  if (!read.ok()) return read;
  // Decoded once all are read: the views point into the strings, which no longer move.
  t.old_wire.resize(t.old_chunks.size());
  for (size_t k = 0; k < t.old_chunks.size(); ++k) {
    if (!DecodeWireTraces(t.old_chunks[k], &t.old_wire[k])) {
      return absl::DataLossError(absl::StrCat("trace ", t.trace_hex, ": a span chunk in ",
                                              "storage.path ", store_.path_,
                                              " is not a valid SpanChunk"));
    }
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::AddToIndexState(TraceBatch& t) {
  // Every write stores the trace's complete set of streams, so the delta needs only calls.
  TraceTermsBuilder::Delta delta;
  delta.recording = TraceTermsBuilder::Delta::Recording::kNone;
  for (size_t i : t.group.writes) {
    if (t.builder != nullptr && !t.builder->Add(wire_[i], &delta)) t.builder.reset();
  }
  if (t.builder == nullptr) return RecomputeIndexTerms(t);
  t.summary = t.builder->summary();
  t.builder->GetSegmentEntry(&t.streams.emplace<SegmentEntry>());
  for (const auto& [key, counts] : delta.calls) {
    if (store_.options_.dependencies_from_traces) {
      batch_.Merge(t.cf, DependencyKeyOf(key), EncodeCallCounts(counts));
    }
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::RecomputeIndexTerms(TraceBatch& t) {
  const TraceGroup& g = t.group;
  // The dependency counts change by the difference between the old and the new state.
  if (g.existing && !t.old_chunks_read) {
    if (absl::Status read = ReadOldChunks(t); !read.ok()) return read;
  }
  // The objects ComputeIndexTerms reads (a rare path: repeated span IDs).
  std::vector<TracesData> parsed;
  parsed.reserve(t.old_chunks.size() + g.writes.size());
  for (const std::string& c : t.old_chunks) {
    absl::StatusOr<TracesData> chunk = ParseChunk(
        c, absl::StrCat("trace ", t.trace_hex, ": a span chunk in storage.path ", store_.path_));
    if (!chunk.ok()) return chunk.status();
    parsed.push_back(*std::move(chunk));
  }
  const size_t old_count = parsed.size();
  for (size_t i : g.writes) {
    absl::StatusOr<TracesData> chunk =
        ParseChunk(bytes_[i], absl::StrCat("TraceWrite[", i, "] for trace ", t.trace_hex));
    if (!chunk.ok()) return absl::InvalidArgumentError(chunk.status().message());
    parsed.push_back(*std::move(chunk));
  }
  std::vector<const TracesData*> all;
  for (const TracesData& c : parsed) all.push_back(&c);
  const IndexOptions& index = store_.options_.index;
  TraceIndexTerms terms = ComputeIndexTerms(g.id, TraceChunks(all.data(), all.size()), index);
  DependencyCounts call_deltas = terms.calls;
  if (old_count > 0) {
    const TraceIndexTerms old_terms =
        ComputeIndexTerms(g.id, TraceChunks(all.data(), old_count), index);
    for (const auto& [key, counts] : old_terms.calls) call_deltas[key] -= counts;
  }
  for (const auto& [key, d] : call_deltas) {
    if (d != CallCounts{} && store_.options_.dependencies_from_traces) {
      batch_.Merge(t.cf, DependencyKeyOf(key), EncodeCallCounts(d));
    }
  }
  t.streams = StoredStreamsOf(terms);
  t.summary = std::move(terms.summary);
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::BatchSummaryAndMarker(TraceBatch& t) {
  const TraceGroup& g = t.group;
  SetSamplingDecision(g, traces_, &t.summary);
  // The trace's complete entry goes to an open segment of its start's slot once the batch is
  // stored; the marker lets Open re-index it should the process die before the seal.
  RocksBucket& bucket = *g.bucket;
  absl::StatusOr<uint64_t> segment =
      bucket.segments().Pin(IndexSlot(t.summary.start_ns), store_.clock_->UnixNanos(),
                            [this]() { return store_.AllocateChunkSeqs(1); });
  if (!segment.ok()) return segment.status();
  entries_.push_back(
      PendingEntry{g.bucket, *segment, t.summary.start_ns, g.id, std::move(t.streams)});
  batch_.Put(t.cf, SegmentMarkerKey(*segment, g.id), std::string_view());
  batch_.Put(t.cf, SummaryKey(g.id), EncodeSummary(t.summary));
  bucket.ExtendStartRange(t.summary.start_ns);
  if (t.builder != nullptr) {
    to_cache_.emplace_back(g.id, TraceTermsCache::Entry{g.bucket, std::move(t.builder)});
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::Commit() {
  rocksdb::WriteBatch write_batch;
  batch_.AppendTo(&write_batch);
  rocksdb::WriteOptions write_options;
  write_options.sync = store_.options_.sync_writes;
  rocksdb::Status s = store_.db_->Write(write_options, &write_batch);
  if (!s.ok()) {
    return FromRocks(
        s, absl::StrCat("writing ", traces_.size(), " traces to storage.path ", store_.path_));
  }
  Publish();
  return absl::OkStatus();
}

void RocksTraceStore::WriteCall::Publish() {
  // Only now are the names stored; a concurrent write may have stored the same ones (harmless).
  for (auto& [bucket, keys] : new_names_) {
    for (const std::string& key : keys) bucket->AddName(key);
  }
  for (auto& [id, entry] : to_cache_) store_.terms_cache_->Put(id, std::move(entry));
  std::vector<BucketPtr> touched;
  for (const PendingEntry& e : entries_) {
    std::visit(
        [&e](const auto& streams) {
          e.bucket->segments().Add(e.segment, e.start_ns, e.trace_id, streams);
        },
        e.streams);
    if (std::find(touched.begin(), touched.end(), e.bucket) == touched.end()) {
      touched.push_back(e.bucket);
    }
  }
  entries_added_ = true;
  for (const BucketPtr& b : touched) store_.SealSegments(*b, /*all=*/false);
}

void RocksTraceStore::WriteCall::UnpinEntries() {
  for (const PendingEntry& e : entries_) e.bucket->segments().Unpin(e.segment);
}

absl::Status RocksTraceStore::Write(std::span<const TraceWrite> traces) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  if (absl::Status writable = EnsureWritable(); !writable.ok()) return writable;
  uint64_t chunks = 0;
  uint64_t spans = 0;
  bool new_bucket = false;
  {
    // Destroyed (its batch released) before retention may run below.
    WriteCall call(*this, traces);
    if (absl::Status grouped = call.GroupByTrace(); !grouped.ok()) return grouped;
    if (call.chunks() == 0) return absl::OkStatus();
    const std::vector<TraceId> ids = call.TraceIds();
    AcquireTraces(ids);
    absl::Status status = call.Store(&new_bucket);
    ReleaseTraces(ids);
    if (absl::IsUnavailable(status)) MarkUnwritable(status);
    if (!status.ok()) return status;
    chunks = call.chunks();
    spans = call.spans();
  }

  traces_written_.fetch_add(chunks, std::memory_order_relaxed);
  spans_written_.fetch_add(spans, std::memory_order_relaxed);
  if (new_bucket) {
    absl::StatusOr<int> dropped = EnforceRetention();
    if (!dropped.ok()) {
      spdlog::error("storage: enforcing retention: {}", dropped.status().ToString());
    }
  }
  return absl::OkStatus();
}

void RocksTraceStore::SealSegments(RocksBucket& bucket, bool all) {
  for (SealedSegment& sealed : bucket.segments().TakeDue(clock_->UnixNanos(), all)) {
    rocksdb::WriteBatch batch;
    rocksdb::ColumnFamilyHandle* cf = bucket.handle();
    for (const auto& [key, value] : sealed.puts) batch.Put(cf, key, value);
    batch.DeleteRange(cf, sealed.marker_begin, sealed.marker_end);
    rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (s.ok()) {
      bucket.segments().Sealed(sealed.ref);
      segments_sealed_.fetch_add(1, std::memory_order_relaxed);
    } else {
      // The segment stays searchable in memory and its markers stay on disk; a later seal retries.
      bucket.segments().SealFailed(sealed.ref);
      spdlog::warn("storage: sealing index segment {} of bucket {} failed: {}", sealed.ref.segment,
                   cf->GetName(), s.ToString());
    }
  }
}

absl::Status RocksTraceStore::WriteDependencyCalls(std::span<const DependencyCalls> calls) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  if (absl::Status valid = ValidateDependencyCalls(calls); !valid.ok()) return valid;
  if (absl::Status writable = EnsureWritable(); !writable.ok()) return writable;
  bool new_bucket = false;
  absl::Status status = [&]() -> absl::Status {
    std::shared_lock drop_lock(drop_mu_);
    absl::StatusOr<BucketPtr> bucket = BucketForNewTraces(clock_->UnixNanos(), &new_bucket);
    if (!bucket.ok()) return bucket.status();
    rocksdb::WriteBatch batch;
    for (const DependencyCalls& c : calls) {
      const DependencyKey key{DependencySlot(c.time_ns), c.parent, c.child};
      rocksdb::Status s =
          batch.Merge((*bucket)->handle(), DependencyKeyOf(key), EncodeCallCounts(CountsOf(c)));
      if (!s.ok()) return FromRocks(s, "batching dependency calls");
    }
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync_writes;
    rocksdb::Status s = db_->Write(wo, &batch);
    if (!s.ok()) {
      absl::Status failed =
          FromRocks(s, absl::StrCat("writing dependency calls to storage.path ", path_));
      if (absl::IsUnavailable(failed)) MarkUnwritable(failed);
      return failed;
    }
    return absl::OkStatus();
  }();
  if (new_bucket) {
    absl::StatusOr<int> dropped = EnforceRetention();
    if (!dropped.ok())
      spdlog::error("storage: enforcing retention: {}", dropped.status().ToString());
  }
  return status;
}

}  // namespace tailtrace::storage
