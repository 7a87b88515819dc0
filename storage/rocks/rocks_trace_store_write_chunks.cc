// RocksTraceStore::Write's phases that batch span chunks (write_call.h): each chunk as a reference
// into one span block per bucket and call (keys.h, "Span blocks"), or inline without
// StoreOptions::span_blocks; and the service and operation names not stored yet.

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "proto/span_columns.h"
#include "proto/wire_traces.h"
#include "storage/index/keys.h"
#include "tailtrace/storage/v1/records.pb.h"
#include "write_call.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using tailtrace::storage::v1::SpanChunk;

// Spans per span block, at most (unless one chunk has more). Reading a trace reads (and, from
// disk, decompresses) its blocks whole, then decodes from the seek point before its spans
// (proto/span_columns.h), so this bounds what trace by ID pays for the other traces of a block.
// The columns compress better the more spans share a block: 37.6, 34.1 and 31.0 B/span at ZSTD
// level 6 for 512, 1,024 and 2,048 spans (tailtrace-bench-columns --block-requests 1, 2, 4). On
// a 10M-span store 2,048 left trace by ID at p99 1.17 ms and 1,024 at 0.87 ms, for 0.5 B/span
// more (bench/results/profile-notes.md, session 15).
constexpr uint64_t kMaxBlockSpans = 1024;

// A SpanChunk is serialized as the TracesData bytes followed by a SpanChunk holding only the
// policy and rate: protobuf parses concatenated messages as one, and both messages keep their
// ResourceSpans in field 1, so the spans are serialized once without being copied (and a stored
// chunk parses as a TracesData too, with the policy and rate as unknown fields).
static_assert(static_cast<int>(TracesData::kResourceSpansFieldNumber) ==
              static_cast<int>(SpanChunk::kResourceSpansFieldNumber));

// Adds the name keys (service, operation) of the spans of `chunk` to `*keys`.
void CollectNameKeys(const WireTraces& chunk, absl::flat_hash_set<std::string>* keys) {
  for (const WireTraces::Resource& rs : chunk.resources) {
    const std::string_view service = chunk.ServiceName(rs);
    keys->insert(ServiceKey(service));
    for (uint32_t sc = rs.scopes.begin; sc < rs.scopes.end; ++sc) {
      const WireRange spans = chunk.scopes[sc].spans;
      for (uint32_t i = spans.begin; i < spans.end; ++i) {
        const WireTraces::Span& span = chunk.spans[i];
        keys->insert(OperationKey(service, span.kind, span.name));
      }
    }
  }
}

}  // namespace

void RocksTraceStore::WriteCall::BatchChunks(TraceBatch& t) {
  absl::flat_hash_set<std::string> name_keys;
  for (size_t i : t.group.writes) {
    BatchChunk(t, i);
    CollectNameKeys(wire_[i], &name_keys);
  }
  BatchNewNames(t, name_keys);
}

void RocksTraceStore::WriteCall::BatchChunk(TraceBatch& t, size_t write) {
  const uint64_t seq = next_seq_++;
  if (store_.options_.span_blocks) {
    to_block_.push_back(BlockedChunk{t.group.bucket, t.group.id, seq, write});
    return;
  }
  BatchInlineChunk(t.cf, t.group.id, seq, write);
}

void RocksTraceStore::WriteCall::BatchInlineChunk(rocksdb::ColumnFamilyHandle* cf,
                                                  const TraceId& trace_id, uint64_t seq,
                                                  size_t write) {
  // The spans' bytes (as given, or serialized here) and the tail.
  batch_.PutConcatenation(cf, SpanKey(trace_id, seq), bytes_[write], TailOf(write));
}

std::string_view RocksTraceStore::WriteCall::TailOf(size_t write) {
  const TraceWrite& w = traces_[write];
  SpanChunk tail;
  tail.set_sampling_policy(w.sampling_policy);
  tail.set_sample_rate(w.sample_rate);
  value_.clear();
  tail.AppendToString(&value_);
  return value_;
}

absl::Status RocksTraceStore::WriteCall::BatchBlocks() {
  // The chunks by bucket, each bucket's in the order they were batched (trace after trace).
  std::stable_sort(
      to_block_.begin(), to_block_.end(),
      [](const BlockedChunk& a, const BlockedChunk& b) { return a.bucket < b.bucket; });
  // A block ends with its bucket's chunks or before the chunk that would take it past
  // kMaxBlockSpans (a larger chunk gets a block of its own).
  for (size_t begin = 0; begin < to_block_.size();) {
    size_t end = begin + 1;
    uint64_t spans = wire_[to_block_[begin].write].spans.size();
    while (end < to_block_.size() && to_block_[end].bucket == to_block_[begin].bucket) {
      spans += wire_[to_block_[end].write].spans.size();
      if (spans > kMaxBlockSpans) break;
      ++end;
    }
    if (absl::Status batched = BatchBlock(std::span(to_block_).subspan(begin, end - begin));
        !batched.ok()) {
      return batched;
    }
    begin = end;
  }
  return absl::OkStatus();
}

absl::Status RocksTraceStore::WriteCall::BatchBlock(std::span<const BlockedChunk> chunks) {
  rocksdb::ColumnFamilyHandle* cf = chunks.front().bucket->handle();
  std::vector<std::string_view> views;
  views.reserve(chunks.size());
  for (const BlockedChunk& c : chunks) views.push_back(bytes_[c.write]);
  std::string& block = blocks_.emplace_back();
  std::vector<uint64_t> counts;
  if (!EncodeSpanColumns(views, &block, &counts)) {
    // Not expected (the chunks decoded as WireTraces); such chunks are stored inline.
    for (const BlockedChunk& c : chunks) BatchInlineChunk(cf, c.trace_id, c.seq, c.write);
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> block_seq = store_.AllocateChunkSeqs(1);
  if (!block_seq.ok()) return block_seq.status();
  // A chunk that could decode to more than a reader accepts from this block (its spans repeat a
  // large value, which the block holds once) is stored inline; its spans in the block are unused.
  // Its decoded bytes are its wire bytes, give or take a few: half the bound leaves room.
  const uint64_t decodable = SpanColumnsOutputLimit(block.size()) / 2;
  bool referred = false;
  uint64_t first = 0;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const BlockedChunk& c = chunks[k];
    if (bytes_[c.write].size() > decodable) {
      BatchInlineChunk(cf, c.trace_id, c.seq, c.write);
    } else {
      const ChunkRef ref{*block_seq, first, counts[k], TailOf(c.write)};
      batch_.Put(cf, SpanKey(c.trace_id, c.seq), EncodeChunkRef(ref));
      referred = true;
    }
    first += counts[k];
  }
  if (referred) batch_.PutConcatenation(cf, SpanBlockKey(*block_seq), block, std::string_view());
  return absl::OkStatus();
}

void RocksTraceStore::WriteCall::BatchNewNames(const TraceBatch& t,
                                               const absl::flat_hash_set<std::string>& name_keys) {
  absl::flat_hash_set<std::string>& queued = new_names_[t.group.bucket];
  for (const std::string& key : name_keys) {
    if (queued.contains(key) || t.group.bucket->HasName(key)) continue;
    batch_.Put(t.cf, key, std::string_view());
    queued.insert(key);
  }
}

}  // namespace tailtrace::storage
