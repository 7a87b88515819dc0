// RocksTraceStore::Write: one WriteBatch per call holding, per trace, its span chunk, merged
// summary, index segment marker, dependency count deltas and the names not stored yet; then each
// trace's complete set of index streams goes to an open index segment of its bucket (keys.h, "The
// search index"), and the segments that are due are sealed (one more WriteBatch each). The index
// state of a trace comes from TraceTermsBuilder (incremental, cached for recent traces); traces
// with repeated span IDs are recomputed from all their chunks with ComputeIndexTerms.
// The batch's operations are sorted by key before they go to RocksDB (SortedBatch).

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "spdlog/spdlog.h"
#include "storage/index/index_segments.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tailtrace/storage/v1/records.pb.h"
#include "trace_terms_cache.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using tailtrace::storage::v1::SpanChunk;

// A SpanChunk is serialized as the TracesData bytes followed by a SpanChunk holding only the
// policy and rate: protobuf parses concatenated messages as one, and both messages keep their
// ResourceSpans in field 1, so the spans are serialized once without being copied (and a stored
// chunk parses as a TracesData too, with the policy and rate as unknown fields).
static_assert(static_cast<int>(TracesData::kResourceSpansFieldNumber) ==
              static_cast<int>(SpanChunk::kResourceSpansFieldNumber));

size_t CountSpans(const TracesData& data) {
  size_t n = 0;
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

// The operations of one Write call, applied to the WriteBatch in key order per column family:
// RocksDB's skiplist memtable remembers where its last insert went, so inserting a batch in key
// order walks far less of the skiplist than inserting it in the order it was built (index keys of
// one trace are spread over the whole index). Operations on the same key keep their order, so
// the batch means the same as the unsorted one.
class SortedBatch {
 public:
  void Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value) {
    Add(Op::kPut, cf, key, value);
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
    Add(Op::kDelete, cf, key, {});
  }
  void Merge(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value) {
    Add(Op::kMerge, cf, key, value);
  }
  // Puts the concatenation of `borrowed` and `tail`. Only `tail` is copied: `borrowed` (a span
  // chunk's bytes, the bulk of a batch) must stay valid until AppendTo.
  void PutConcatenation(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                        std::string_view borrowed, std::string_view tail) {
    Add(Op::kPut, cf, key, tail);
    entries_.back().borrowed = borrowed;
  }

  // Sorts the operations and appends them to `*batch`.
  void AppendTo(rocksdb::WriteBatch* batch) {
    std::vector<uint32_t> order(entries_.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
      const Entry& x = entries_[a];
      const Entry& y = entries_[b];
      if (x.cf_id != y.cf_id) return x.cf_id < y.cf_id;
      const int c = KeyOf(x).compare(KeyOf(y));
      if (c != 0) return c < 0;
      return a < b;  // same key: call order
    });
    for (uint32_t i : order) {
      const Entry& e = entries_[i];
      const std::string_view k = KeyOf(e);
      const rocksdb::Slice key(k.data(), k.size());
      const rocksdb::Slice value(bytes_.data() + e.key_offset + e.key_size, e.value_size);
      switch (e.op) {
        case Op::kPut:
          if (e.borrowed.empty()) {
            batch->Put(e.cf, key, value);
          } else {
            const rocksdb::Slice parts[2] = {rocksdb::Slice(e.borrowed.data(), e.borrowed.size()),
                                             value};
            batch->Put(e.cf, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 2));
          }
          break;
        case Op::kDelete:
          batch->Delete(e.cf, key);
          break;
        case Op::kMerge:
          batch->Merge(e.cf, key, value);
          break;
      }
    }
  }

 private:
  enum class Op : uint8_t { kPut, kDelete, kMerge };
  struct Entry {
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    uint32_t cf_id = 0;
    size_t key_offset = 0;  // into bytes_; the value follows the key
    uint32_t key_size = 0;
    uint32_t value_size = 0;
    Op op = Op::kPut;
    // Not owned: precedes the value (PutConcatenation).
    std::string_view borrowed;
  };

  void Add(Op op, rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value) {
    entries_.push_back(Entry{cf,
                             cf->GetID(),
                             bytes_.size(),
                             static_cast<uint32_t>(key.size()),
                             static_cast<uint32_t>(value.size()),
                             op,
                             {}});
    bytes_.append(key);
    bytes_.append(value);
  }
  std::string_view KeyOf(const Entry& e) const {
    return std::string_view(bytes_.data() + e.key_offset, e.key_size);
  }

  std::vector<Entry> entries_;
  std::string bytes_;
};

// A trace's index entry waiting for its batch to be stored.
struct PendingEntry {
  std::shared_ptr<RocksBucket> bucket;
  uint64_t segment = 0;
  int64_t start_ns = 0;
  TraceId trace_id;
  StoredStreams streams;
};

// The writes of one trace ID within a Write call.
struct TraceGroup {
  TraceId id;
  std::vector<size_t> writes;  // indexes into the Write call's traces, in call order
  std::shared_ptr<RocksBucket> bucket;
  bool existing = false;
  // The sampling decision of the stored trace (from its summary) when `existing`.
  std::string sampling_policy;
  double sample_rate = 0;
};

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

}  // namespace

absl::Status RocksTraceStore::Write(std::span<const TraceWrite> traces) {
  if (absl::Status open = CheckOpen(); !open.ok()) return open;
  if (absl::Status writable = EnsureWritable(); !writable.ok()) return writable;

  std::vector<size_t> span_counts(traces.size(), 0);
  uint64_t chunks = 0;
  uint64_t spans = 0;
  std::vector<TraceGroup> groups;
  absl::flat_hash_map<TraceId, size_t> group_of;
  for (size_t i = 0; i < traces.size(); ++i) {
    if (traces[i].spans == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("TraceWrite[", i, "] for trace ",
                                                     traces[i].trace_id.Hex(), ": spans is null"));
    }
    span_counts[i] = CountSpans(*traces[i].spans);
    spans += span_counts[i];
    // A write without spans stores nothing: GetTrace must not find a trace that has no span.
    if (span_counts[i] == 0) continue;
    ++chunks;
    auto [it, inserted] = group_of.emplace(traces[i].trace_id, groups.size());
    if (inserted) groups.push_back(TraceGroup{.id = traces[i].trace_id});
    groups[it->second].writes.push_back(i);
  }
  if (chunks == 0) return absl::OkStatus();

  std::vector<TraceId> ids;
  ids.reserve(groups.size());
  for (const TraceGroup& g : groups) ids.push_back(g.id);
  AcquireTraces(ids);
  bool new_bucket = false;
  absl::Status status = [&]() -> absl::Status {
    std::shared_lock drop_lock(drop_mu_);
    absl::StatusOr<BucketPtr> current = BucketForNewTraces(clock_->UnixNanos(), &new_bucket);
    if (!current.ok()) return current.status();

    // Which traces are stored already, and where: a summary lookup per live bucket, newest first
    // (the prefix bloom filter answers most misses without reading a block).
    std::vector<BucketPtr> buckets = SnapshotBuckets();
    std::vector<size_t> unresolved(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) unresolved[i] = i;
    for (auto b = buckets.rbegin(); b != buckets.rend() && !unresolved.empty(); ++b) {
      if (!(*b)->has_traces()) continue;
      std::vector<std::string> keys;
      keys.reserve(unresolved.size());
      for (size_t g : unresolved) keys.push_back(SummaryKey(groups[g].id));
      std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
      std::vector<rocksdb::ColumnFamilyHandle*> handles(keys.size(), (*b)->handle());
      std::vector<std::string> values;
      std::vector<rocksdb::Status> found =
          db_->MultiGet(rocksdb::ReadOptions(), handles, slices, &values);
      std::vector<size_t> still;
      for (size_t k = 0; k < unresolved.size(); ++k) {
        if (found[k].ok()) {
          TraceGroup& g = groups[unresolved[k]];
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
                           absl::StrCat("looking up trace ", groups[unresolved[k]].id.Hex(),
                                        " in storage.path ", path_));
        }
      }
      unresolved = std::move(still);
    }
    for (size_t g : unresolved) groups[g].bucket = *current;

    absl::StatusOr<uint64_t> first_seq = AllocateChunkSeqs(chunks);
    if (!first_seq.ok()) return first_seq.status();
    uint64_t seq = *first_seq;

    SortedBatch batch;
    // The index entries of this batch's traces, added to their segments once the batch is stored
    // (each pins its segment until then; unpinned if the write fails).
    std::vector<PendingEntry> entries;
    bool entries_added = false;
    struct Unpinner {
      std::vector<PendingEntry>* entries;
      bool* added;
      ~Unpinner() {
        if (*added) return;
        for (const PendingEntry& e : *entries) e.bucket->segments().Unpin(e.segment);
      }
    } unpinner{&entries, &entries_added};
    // The index state of each trace, cached once the batch is stored.
    std::vector<std::pair<TraceId, TraceTermsCache::Entry>> to_cache;
    // Names put by this batch, per bucket, to remember once the batch is stored.
    std::map<BucketPtr, absl::flat_hash_set<std::string>> new_names;
    std::string value;
    // Spans serialized here for chunks, alive until the batch is written (a deque: its strings
    // do not move as it grows).
    std::deque<std::string> serialized_spans;
    for (TraceGroup& g : groups) {
      RocksBucket& bucket = *g.bucket;
      rocksdb::ColumnFamilyHandle* cf = bucket.handle();
      const std::string trace_hex = g.id.Hex();

      // The earlier chunks of a stored trace, in write order (read only when needed).
      std::vector<TracesData> old_chunks;
      bool old_chunks_read = false;
      auto read_old_chunks = [&]() -> absl::Status {
        old_chunks_read = true;
        trace_rereads_.fetch_add(1, std::memory_order_relaxed);
        rocksdb::ReadOptions ro;
        ro.prefix_same_as_start = true;
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
        const std::string prefix = SpanKeyPrefix(g.id);
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
          TracesData& chunk = old_chunks.emplace_back();
          if (!chunk.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
            return absl::DataLossError(absl::StrCat("trace ", trace_hex, ": a span chunk in ",
                                                    "storage.path ", path_,
                                                    " is not a valid SpanChunk"));
          }
        }
        return FromRocks(it->status(),
                         absl::StrCat("reading trace ", trace_hex, " from storage.path ", path_));
      };

      // The trace's index state: cached, rebuilt from its chunks, or new.
      std::unique_ptr<TraceTermsBuilder> builder;
      if (std::optional<TraceTermsCache::Entry> cached = terms_cache_->Take(g.id)) {
        if (g.existing && cached->bucket == g.bucket) builder = std::move(cached->builder);
      }
      if (builder == nullptr) {
        builder = std::make_unique<TraceTermsBuilder>(g.id, options_.index);
        if (g.existing) {
          if (absl::Status read = read_old_chunks(); !read.ok()) return read;
          TraceTermsBuilder::Delta ignored;
          ignored.recording = TraceTermsBuilder::Delta::Recording::kNone;
          for (const TracesData& chunk : old_chunks) {
            if (!builder->Add(chunk, &ignored)) {
              builder.reset();  // repeated span IDs: the full recomputation below
              break;
            }
          }
        }
      }

      TraceSummary summary;
      StoredStreams streams;
      // Every write stores the trace's complete set of streams, so the delta needs only calls.
      TraceTermsBuilder::Delta delta;
      delta.recording = TraceTermsBuilder::Delta::Recording::kNone;
      for (size_t i : g.writes) {
        if (builder != nullptr && !builder->Add(*traces[i].spans, &delta)) builder.reset();
      }
      if (builder != nullptr) {
        summary = builder->summary();
        builder->AppendStoredStreams(&streams);
        for (const auto& [key, counts] : delta.calls) {
          if (options_.dependencies_from_traces) {
            batch.Merge(cf, DependencyKeyOf(key), EncodeCallCounts(counts));
          }
        }
      } else {
        // Repeated span IDs: recompute the trace from every chunk; the dependency counts change
        // by the difference between the old and the new state.
        if (g.existing && !old_chunks_read) {
          if (absl::Status read = read_old_chunks(); !read.ok()) return read;
        }
        std::vector<const TracesData*> all;
        for (const TracesData& c : old_chunks) all.push_back(&c);
        const size_t old_count = all.size();
        for (size_t i : g.writes) all.push_back(traces[i].spans);
        TraceIndexTerms terms =
            ComputeIndexTerms(g.id, TraceChunks(all.data(), all.size()), options_.index);
        DependencyCounts call_deltas = terms.calls;
        if (old_count > 0) {
          const TraceIndexTerms old_terms =
              ComputeIndexTerms(g.id, TraceChunks(all.data(), old_count), options_.index);
          for (const auto& [key, counts] : old_terms.calls) call_deltas[key] -= counts;
        }
        for (const auto& [key, d] : call_deltas) {
          if (d != CallCounts{} && options_.dependencies_from_traces) {
            batch.Merge(cf, DependencyKeyOf(key), EncodeCallCounts(d));
          }
        }
        streams = StoredStreamsOf(terms);
        summary = std::move(terms.summary);
      }
      SetSamplingDecision(g, traces, &summary);
      // The trace's complete entry goes to an open segment of its start's slot once the batch is
      // stored; the marker lets Open re-index it should the process die before the seal.
      absl::StatusOr<uint64_t> segment =
          bucket.segments().Pin(IndexSlot(summary.start_ns), clock_->UnixNanos(),
                                [this]() { return AllocateChunkSeqs(1); });
      if (!segment.ok()) return segment.status();
      entries.push_back(
          PendingEntry{g.bucket, *segment, summary.start_ns, g.id, std::move(streams)});
      batch.Put(cf, SegmentMarkerKey(*segment, g.id), std::string_view());
      batch.Put(cf, SummaryKey(g.id), EncodeSummary(summary));
      bucket.ExtendStartRange(summary.start_ns);
      if (builder != nullptr)
        to_cache.emplace_back(g.id, TraceTermsCache::Entry{g.bucket, std::move(builder)});

      absl::flat_hash_set<std::string> name_keys;
      for (size_t i : g.writes) {
        const TraceWrite& w = traces[i];
        // The chunk: the serialized spans (as given, or serialized here) and the tail.
        std::string_view serialized = w.spans_bytes;
        if (serialized.empty()) {
          std::string& owned = serialized_spans.emplace_back();
          if (!w.spans->SerializeToString(&owned)) {
            return absl::InvalidArgumentError(
                absl::StrCat("TraceWrite[", i, "] for trace ", trace_hex,
                             ": spans cannot be serialized (missing fields or over 2 GiB)"));
          }
          serialized = owned;
        }
        SpanChunk tail;
        tail.set_sampling_policy(w.sampling_policy);
        tail.set_sample_rate(w.sample_rate);
        value.clear();
        tail.AppendToString(&value);
        batch.PutConcatenation(cf, SpanKey(g.id, seq++), serialized, value);

        for (const auto& rs : w.spans->resource_spans()) {
          const std::string service = ServiceNameOf(rs);
          name_keys.insert(ServiceKey(service));
          for (const auto& ss : rs.scope_spans()) {
            for (const auto& span : ss.spans()) {
              name_keys.insert(OperationKey(service, static_cast<int>(span.kind()), span.name()));
            }
          }
        }
      }
      absl::flat_hash_set<std::string>& queued = new_names[g.bucket];
      for (const std::string& key : name_keys) {
        if (queued.contains(key) || bucket.HasName(key)) continue;
        batch.Put(cf, key, std::string_view());
        queued.insert(key);
      }
    }

    rocksdb::WriteBatch write_batch;
    batch.AppendTo(&write_batch);
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_writes;
    rocksdb::Status s = db_->Write(write_options, &write_batch);
    if (!s.ok()) {
      return FromRocks(s,
                       absl::StrCat("writing ", traces.size(), " traces to storage.path ", path_));
    }
    // Only now are the names stored; a concurrent write may have stored the same ones (harmless).
    for (auto& [bucket, keys] : new_names) {
      for (const std::string& key : keys) bucket->AddName(key);
    }
    for (auto& [id, entry] : to_cache) terms_cache_->Put(id, std::move(entry));
    std::vector<BucketPtr> touched;
    for (const PendingEntry& e : entries) {
      e.bucket->segments().Add(e.segment, e.start_ns, e.trace_id, e.streams);
      if (std::find(touched.begin(), touched.end(), e.bucket) == touched.end()) {
        touched.push_back(e.bucket);
      }
    }
    entries_added = true;
    for (const BucketPtr& b : touched) SealSegments(*b, /*all=*/false);
    return absl::OkStatus();
  }();
  ReleaseTraces(ids);
  if (absl::IsUnavailable(status)) MarkUnwritable(status);
  if (!status.ok()) return status;

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
