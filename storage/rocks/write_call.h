#pragma once

// Private to RocksTraceStore's write path: the state of one Write call and its phases. The
// phases that read, index and commit are in rocks_trace_store_write.cc; those that batch the span
// chunks and blocks and the new names in rocks_trace_store_write_chunks.cc.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "proto/wire_traces.h"
#include "rocks_bucket.h"
#include "rocksdb/db.h"
#include "sorted_batch.h"
#include "storage/index/trace_terms_builder.h"
#include "storage/rocks/rocks_trace_store.h"
#include "trace_terms_cache.h"

namespace tailtrace::storage {
namespace write_call {

// A trace's index entry waiting for its batch to be stored.
struct PendingEntry {
  std::shared_ptr<RocksBucket> bucket;
  uint64_t segment = 0;
  int64_t start_ns = 0;
  TraceId trace_id;
  // By its parts from the trace's builder; encoded when recomputed from every chunk.
  std::variant<SegmentEntry, StoredStreams> streams;
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

// One trace while its writes go into the batch.
struct TraceBatch {
  explicit TraceBatch(TraceGroup& g) : group(g), cf(g.bucket->handle()), trace_hex(g.id.Hex()) {}

  TraceGroup& group;
  rocksdb::ColumnFamilyHandle* const cf;
  const std::string trace_hex;
  // The earlier chunks of a stored trace, in write order (read only when needed): their bytes
  // and what they decode to.
  std::vector<std::string> old_chunks;
  std::vector<WireTraces> old_wire;
  bool old_chunks_read = false;
  // The trace's index state; null when it is recomputed from every chunk (repeated span IDs).
  std::unique_ptr<TraceTermsBuilder> builder;
  TraceSummary summary;
  std::variant<SegmentEntry, StoredStreams> streams;
};

}  // namespace write_call

// The phases of one Write call and the state they hand on: the writes grouped by trace, the
// stored traces found, each trace batched (index state, summary and segment marker, chunks,
// names), the batch committed, and what it stored published (names, cached index states, index
// entries).
class RocksTraceStore::WriteCall {
 public:
  using PendingEntry = write_call::PendingEntry;
  using TraceGroup = write_call::TraceGroup;
  using TraceBatch = write_call::TraceBatch;

  WriteCall(RocksTraceStore& store, std::span<const TraceWrite> traces)
      : store_(store), traces_(traces) {}

  // Decodes each write's spans and groups the writes that hold spans by trace ID, counting
  // chunks and spans. InvalidArgument when a write has no spans or they do not decode.
  absl::Status GroupByTrace();
  // The number of writes with spans (each stores one chunk), and of their spans.
  uint64_t chunks() const { return chunks_; }
  uint64_t spans() const { return spans_; }
  std::vector<TraceId> TraceIds() const;
  // Stores the batch; the caller holds the trace IDs. `*new_bucket` tells whether a bucket was
  // created for it.
  absl::Status Store(bool* new_bucket);

 private:
  // Which traces are stored already, and where; the others go to `current`.
  absl::Status FindStoredTraces(const BucketPtr& current);
  absl::Status BatchTrace(TraceGroup& g);
  // The trace's index state before this call: cached, rebuilt from its stored chunks, or new.
  absl::Status LoadIndexState(TraceBatch& t);
  absl::Status ReadOldChunks(TraceBatch& t);
  // Adds the call's writes to the index state: summary, streams and dependency count deltas.
  absl::Status AddToIndexState(TraceBatch& t);
  // Repeated span IDs: the index terms from every chunk.
  absl::Status RecomputeIndexTerms(TraceBatch& t);
  // The summary, and the segment marker of the trace's index entry.
  absl::Status BatchSummaryAndMarker(TraceBatch& t);
  // The chunk of each write, and the names not stored yet.
  void BatchChunks(TraceBatch& t);
  void BatchChunk(TraceBatch& t, size_t write);
  // The SpanChunk fields of a write but its spans, serialized (into value_).
  std::string_view TailOf(size_t write);
  // The chunk of `write` with its spans inline (a SpanChunk), under `seq`.
  void BatchInlineChunk(rocksdb::ColumnFamilyHandle* cf, const TraceId& trace_id, uint64_t seq,
                        size_t write);
  // With StoreOptions::span_blocks: the chunks batched so far go to one span block per bucket
  // (keys.h, "Span blocks"), each chunk's key referring to its spans there.
  absl::Status BatchBlocks();
  struct BlockedChunk {
    BucketPtr bucket;
    TraceId trace_id;
    uint64_t seq = 0;  // the chunk's
    size_t write = 0;  // its index into the Write call's traces
  };
  absl::Status BatchBlock(std::span<const BlockedChunk> chunks);
  absl::Status DecodeWrite(size_t i);
  void BatchNewNames(const TraceBatch& t, const absl::flat_hash_set<std::string>& name_keys);
  // Writes the batch, then Publish.
  absl::Status Commit();
  // What the stored batch makes true in memory: names, cached index states, index entries.
  void Publish();
  // Unpins the segments of the index entries a failed write did not add.
  void UnpinEntries();

  RocksTraceStore& store_;
  const std::span<const TraceWrite> traces_;
  uint64_t chunks_ = 0;
  uint64_t spans_ = 0;
  std::vector<TraceGroup> groups_;
  uint64_t next_seq_ = 0;  // of the next chunk
  SortedBatch batch_;
  // The index entries of this batch's traces, added to their segments once the batch is stored
  // (each pins its segment until then; unpinned if the write fails).
  std::vector<PendingEntry> entries_;
  bool entries_added_ = false;
  // The index state of each trace, cached once the batch is stored.
  std::vector<std::pair<TraceId, TraceTermsCache::Entry>> to_cache_;
  // Names put by this batch, per bucket, to remember once the batch is stored.
  std::map<BucketPtr, absl::flat_hash_set<std::string>> new_names_;
  std::string value_;  // scratch
  // The chunks for BatchBlocks, and the blocks it encoded (alive until the batch is written).
  std::vector<BlockedChunk> to_block_;
  std::deque<std::string> blocks_;
  // Spans serialized here for chunks, alive until the batch is written (a deque: its strings
  // do not move as it grows).
  std::deque<std::string> serialized_spans_;
  // Per write: its spans' wire bytes (spans_bytes, or serialized here) and what they decode to.
  std::vector<std::string_view> bytes_;
  std::vector<WireTraces> wire_;
};

}  // namespace tailtrace::storage
