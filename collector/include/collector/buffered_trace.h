#pragma once

// How a shard holds the spans of an undecided trace: as serialized bytes, not protobuf objects,
// in a SpanBuffer of two byte streams (SpanRopes of fixed-size blocks from the shard's BlockPool).
// The spans came in groups, one per (request, resource, scope): `groups` holds each group's
// header, naming its interned resource and scope (InternPool entries) and its sizes, followed by
// its spans' SpanFacts (what the scan read of each); `spans` holds the groups' spans as
// `ScopeSpans.spans` field entries, in the same order. Deciding a trace reads only `groups`; a
// kept trace's spans are assembled into TracesData bytes (AssembleSpans), and parsed into
// protobuf objects only when a policy reads them (MaterializeSpans). A buffered span costs about
// its wire size plus its 32 bytes of SpanFacts.
//
// Single-threaded: owned by one shard.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

#include "collector/intern_pool.h"
#include "collector/trace_buffer.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"
#include "proto/otlp_wire.h"

namespace tailtrace::collector {

// Fixed-size heap blocks for buffered span bytes. Freed blocks are kept for reuse (up to
// kMaxFreeBlocks, the rest go back to malloc), so a shard in a steady state does not call
// malloc for span bytes at all; every block is one small malloc of the same size, which keeps
// glibc away from its slow large-chunk paths.
class BlockPool {
 public:
  struct Block {
    Block* next;
    char* data() { return reinterpret_cast<char*>(this + 1); }
    const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  };
  // What one block asks of malloc, and the span bytes it holds.
  static constexpr size_t kAllocBytes = 504;
  static constexpr size_t kDataBytes = kAllocBytes - sizeof(Block);
  // Heap bytes of one block (its malloc chunk).
  static const uint64_t kHeapBytes;
  // Free blocks kept for reuse: 1 MiB of heap.
  static constexpr size_t kMaxFreeBlocks = 2048;

  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool();

  Block* Allocate();
  // Takes back the chain head..tail of `count` blocks.
  void Free(Block* head, Block* tail, size_t count);

  size_t free_blocks() const { return free_count_; }

 private:
  Block* free_ = nullptr;
  size_t free_count_ = 0;
};

// An append-only byte stream in BlockPool blocks. Move-only. Release returns the blocks to the
// pool; a rope destroyed while holding blocks frees them to malloc.
class SpanRope {
 public:
  SpanRope() = default;
  SpanRope(SpanRope&& other) noexcept;
  SpanRope& operator=(SpanRope&& other) noexcept;
  ~SpanRope();

  void Append(const void* data, size_t n, BlockPool* pool);

  void Release(BlockPool* pool);

  size_t blocks() const { return blocks_; }
  bool empty() const { return head_ == nullptr; }
  // Bytes appended.
  size_t size() const {
    return blocks_ == 0 ? 0 : (blocks_ - 1) * BlockPool::kDataBytes + tail_used_;
  }

  // Reads a rope from the start.
  class Reader {
   public:
    explicit Reader(const SpanRope& rope) : rope_(&rope), block_(rope.head_), offset_(0) {}
    // False if fewer than `n` bytes remain (nothing is read then).
    bool Read(void* out, size_t n);
    bool AppendTo(std::string* out, size_t n);
    bool Skip(size_t n);
    bool AtEnd() const;

   private:
    template <typename F>
    bool Consume(size_t n, F&& f);
    const SpanRope* rope_;
    const BlockPool::Block* block_;
    size_t offset_;
    size_t consumed_ = 0;  // bytes read or skipped
  };

 private:
  // Frees the blocks to malloc (not to a pool).
  void FreeBlocks();

  BlockPool::Block* head_ = nullptr;
  BlockPool::Block* tail_ = nullptr;
  size_t tail_used_ = 0;
  size_t blocks_ = 0;
};

// The header of a group in SpanBuffer::groups; the group's `spans` SpanFacts follow it there, and
// its `span_bytes` of span entries are next in SpanBuffer::spans.
struct GroupHeader {
  // The ResourceSpans wire bytes without scope_spans (resource and schema_url).
  const InternPool::Entry* resource;
  // The ScopeSpans wire bytes without spans (scope and schema_url).
  const InternPool::Entry* scope;
  uint64_t span_bytes;
  uint64_t spans;
};

// What a TraceObserver needs of a buffered span, kept apart from its bytes so that deciding a
// trace reads neither a span message nor the blocks that hold them: the fields of its WireSpan
// (proto/otlp_wire.h) of the same names.
struct SpanFacts {
  uint64_t span_id;
  uint64_t parent_span_id;  // 0: none
  uint64_t start_ns;
  int32_t kind;
  int32_t status_code;

  static SpanFacts Of(const WireSpan& span) {
    return SpanFacts{span.span_id, span.parent_span_id, span.start_ns, span.kind, span.status_code};
  }
};

// A trace's buffered spans (see above). Move-only.
struct SpanBuffer {
  SpanRope groups;
  SpanRope spans;

  size_t blocks() const { return groups.blocks() + spans.blocks(); }
  // Returns the blocks of both ropes to `pool`.
  void Release(BlockPool* pool) {
    groups.Release(pool);
    spans.Release(pool);
  }
};

// An undecided trace as the shard buffers it. `bytes` (TraceFacts) counts its buffer's blocks
// plus its bookkeeping in the shard (its node in the trace map, its deadline and arrival
// entries); the interned resources and scopes are not included: the shard counts each of them
// once.
struct BufferedTrace : TraceFacts {
  // The bytes AssembleSpans makes of the trace, less the resources and scopes: group headers and
  // span entries.
  uint64_t stream_bytes = 0;
  // The oldest write-ahead log record that the trace's spans came from (0: none); the shard holds
  // it until the trace is dropped or written (see ShardCore::oldest_held_lsn).
  uint64_t lsn = 0;
  SpanBuffer buffer;
};

// ---- Wire encoding ----

// Bytes of the `ScopeSpans.spans` entry of a span message of `span_size` bytes.
uint64_t SpanEntryBytes(uint64_t span_size);
// The most bytes WriteSpanEntryHeader writes.
inline constexpr size_t kMaxSpanEntryHeaderBytes = 11;
// Writes the tag and length that precede a span message of `span_size` bytes in its
// `ScopeSpans.spans` entry at `target`; returns how many bytes it wrote.
size_t WriteSpanEntryHeader(uint64_t span_size, char* target);

// Drops the references the groups of `buffer` hold on interned entries.
void ReleaseInterned(const SpanBuffer& buffer, InternPool* pool);

// Calls fn(resource, facts) for every span of `buffer`, in arrival order: `resource` is the
// span's ResourceSpans bytes without scope_spans (its group's interned entry). Reads only
// `buffer.groups`. False if it is not as a shard writes it (not expected); the spans before the
// fault were visited.
bool ForEachSpanFacts(const SpanBuffer& buffer,
                      absl::FunctionRef<void(std::string_view, const SpanFacts&)> fn);

// Sets `*bytes` to the TracesData wire encoding of the groups of `buffer`: one ResourceSpans with
// one ScopeSpans per group, in arrival order. False (and `*bytes` empty) if the buffer ends inside
// a group (not expected).
[[nodiscard]] bool AssembleSpans(const SpanBuffer& buffer, std::string* bytes);

// AssembleSpans, then parses the bytes into `out` (cleared first; objects it already holds are
// reused). False if the bytes do not parse (not expected: they were scanned by
// ScanExportRequest); `out` then holds an unspecified part of them.
[[nodiscard]] bool MaterializeSpans(const SpanBuffer& buffer, std::string* bytes,
                                    opentelemetry::proto::trace::v1::TracesData* out);

}  // namespace tailtrace::collector
