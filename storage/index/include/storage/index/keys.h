#pragma once

// Key and value encoding of the RocksDB trace store. Pure functions, no RocksDB types.
//
// ---- Column families ----
//
// "default" (store bookkeeping, string keys):
//
//   "format_version"      ->  decimal layout version (kStoreFormatVersion)
//   "chunk_seq_reserved"  ->  8 bytes big-endian: every chunk_seq handed out is <= this value.
//
// "span_metrics": the span metrics history, one key per series and time slot (metric_keys.h).
//
// "archive" (kArchiveColumnFamily): the archived copies of traces (trace_store.h, "Archive
// semantics"), one key per trace, never dropped by retention or max_disk_bytes:
//
//   trace_id(16)  ->  SpanChunk (serialized): the whole archived copy, its sampling policy and rate
//
// "bucket-<start_ns>-<end_ns>" (BucketColumnFamilyName): one per retention bucket, holding every
// record of the traces first written while the clock was in [start_ns, end_ns). Late spans of a
// trace go to the bucket that already holds it, so a trace lives and dies with one bucket, and
// retention drops whole column families (DropColumnFamily) instead of deleting keys. The fixed
// 17-byte prefix extractor (tag + trace ID) with a prefix bloom filter makes a lookup of a trace
// that is not in a bucket cheap.
//
// ---- Keys inside a bucket (the first byte is the key-space tag) ----
//
//   'T' | trace_id(16) | chunk_seq(8 BE)                   ->  EncodeChunkRef, or SpanChunk
//       One key per write of a trace's spans ("chunk"); late spans add a chunk, nothing is
//       rewritten. chunk_seq is unique and increasing per store (also across restarts), so a prefix
//       scan over 'T' | trace_id returns the chunks in write order. The value refers to the
//       chunk's spans in a span block (below), or holds them inline (the SpanChunk serialized):
//       stores of format version 3 hold every chunk so, and later ones a chunk that could decode
//       to more than a reader accepts from its block (SpanColumnsOutputLimit). Both are read.
//   'B' | block_seq(8 BE)                                  ->  a span block (proto/span_columns.h)
//       "Span blocks": the spans of every chunk one Write call puts in this bucket, column by
//       column, trace after trace, in a block of their own (block_seq comes from the chunk
//       sequence). The block's columns compress several times better than the chunks' wire bytes,
//       and compactions move its few bytes instead of every span's wire bytes.
//   'S' | trace_id(16)                                     ->  EncodeSummary(TraceSummary)
//   's' | service                                          ->  "" (service name exists)
//   'o' | varint32 len(service) | service | kind(1) | name ->  "" (operation name exists)
//   'I' | stream | slot(8 BE) | segment(8 BE)              ->  EncodePosting (see below)
//   'G' | slot(8 BE) | segment(8 BE)                       ->  the segment's trace table
//   'U' | segment(8 BE) | trace_id(16)                     ->  "" (trace not yet in a sealed
//                                                              segment)
//   'D' | slot(8 BE) | varint32 len(parent) | parent | child  ->  EncodeCallCounts: calls, int64
//       8 bytes BE, then failed calls, int64 8 bytes BE, left out when 0 (so values written
//       before failed calls were stored read as 0 failed); summed by the bucket's merge operator
//       (slot = child span start / kDependencySlotNs).
//
// ---- The search index: posting lists per index segment ----
//
// Traces are indexed in segments. A segment collects, in memory, the traces written (first or
// again) within a short time whose start falls in one index slot (start / kIndexSlotNs): their
// positions (start, trace ID) and, per index stream, the list of its traces that have the stream.
// When a segment is sealed (full, old, or on Flush/Close) it is written once: its trace table
// ('G': the positions sorted newest first; a trace's ordinal is its index there) and one posting
// list per stream ('I': the ordinals of the traces with that stream, ascending, i.e. newest
// first). So a stream costs one key per segment, not one per trace, and the keys of a sealed
// segment go to RocksDB in key order. Each trace write also puts a marker 'U' | segment | trace;
// the seal deletes the segment's markers (one range deletion), and Open re-indexes the traces of
// the markers left by a crash.
//
// An entry holds the trace's complete set of streams at the time of the write. A late write of a
// trace adds a new, complete entry (to the open segment of its possibly earlier start); the older
// entries stay. They are subsets of the newest one (a trace only gains streams), so they never
// make a trace match that does not; an entry whose start is no longer the trace's start (the
// summary's) is skipped by the search. Within one segment only the newest entry of a trace is
// written.
//
// Streams are self-delimiting (every variable field is length-prefixed), so no stream is a prefix
// of another. One entry per distinct value per trace:
//
//   'I' 't'                                      time: every trace
//   'I' 's' | v(service)                         the trace has spans of service
//   'I' 'o' | v(service) | v(operation)          ... a span of service named operation
//   'I' 'A' | v(key) | v(value)                  ... any span with tag key=value
//   ('I' 'a' | v(service) | v(key) | v(value), a span of service with tag key=value, is a stream
//   of the index model (TraceTermsBuilder, SegmentEntry) that segments store inside the 'A'
//   postings, below; 'I' 'd' and 'I' 'e', the duration-class streams, are not stored.)
//
// Services in a segment (format 5): a segment numbers its services (0, 1, ... in the order it
// met them; those new in one entry in the byte order of their streams), and each entry of an 'A'
// posting carries the services whose spans have the tag in that trace: a service mask (bit n, of
// byte n / 8, is the service numbered n; trailing zero bytes are left out). A search for a tag on
// the spans of a service keeps the entries with the service's bit. The seal also writes one key per
// (service, tag key) the segment holds:
//   'I' 'k' | v(service) | v(key) | slot(8 BE) | segment(8 BE)  ->  v32(the service's number)
// from which searches learn a service's number (no key: the service has no such tag there) and
// suggestions the tag keys of a service. Segments of format 4 have no service masks and no 'k'
// keys but an 'a' posting per (service, tag): those are read as they are.
// Tag suggestions (SuggestTags) read the keys and values of the 'A' streams from their posting
// keys (TagKeysPrefix, TagValuesPrefix), those of a service's tags from the 'k' keys and the
// service masks of the 'A' postings (and the 'a' keys of format 4; rocks_trace_store_tags.cc).
//
// Durations are not streams of their own: the postings of the time, service and operation streams
// carry, per trace, the range [min, max] of the durations of the spans of that scope (every span;
// the spans of the service; the spans of the service with that name), EncodeDurationRange. A
// search with only a lower (upper) duration bound is decided by max (min) alone; one with both
// bounds, when min < lower and max > upper, reads the trace to look for a span in between.
//   v(x) = varint32 length of x, then x.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/otlp_ids.h"
#include "storage/index/trace_analysis.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

inline constexpr int kStoreFormatVersion = 5;
// Stores of this version on are opened (and then marked kStoreFormatVersion): version 3 only
// lacks span blocks, version 4 the service masks (its segments are read as they are).
inline constexpr int kOldestReadableFormatVersion = 3;

inline constexpr char kFormatVersionKey[] = "format_version";
inline constexpr char kChunkSeqReservedKey[] = "chunk_seq_reserved";

inline constexpr char kArchiveColumnFamily[] = "archive";

// Key-space tags of a bucket column family.
inline constexpr char kSpanTag = 'T';
inline constexpr char kSpanBlockTag = 'B';
inline constexpr char kSummaryTag = 'S';
inline constexpr char kServiceTag = 's';
inline constexpr char kOperationTag = 'o';
inline constexpr char kIndexTag = 'I';
inline constexpr char kDependencyTag = 'D';
inline constexpr char kSegmentTableTag = 'G';
inline constexpr char kSegmentMarkerTag = 'U';

// Index stream types (the byte after kIndexTag).
inline constexpr char kTimeIndex = 't';
inline constexpr char kServiceIndex = 's';
inline constexpr char kOperationIndex = 'o';
inline constexpr char kServiceTagIndex = 'a';
inline constexpr char kTagIndex = 'A';
inline constexpr char kServiceKeyIndex = 'k';
inline constexpr char kDurationIndex = 'd';
inline constexpr char kFineDurationIndex = 'e';

// Tag + trace ID: the prefix of span and summary keys, and the bucket prefix extractor's length.
inline constexpr size_t kTracePrefixBytes = 1 + kTraceIdBytes;
inline constexpr size_t kSpanKeyBytes = kTracePrefixBytes + 8;
// start_ns(8) + trace_id(16): a trace's position in the index (trace table records).
inline constexpr size_t kIndexPositionBytes = 8 + kTraceIdBytes;
// Width of an index slot: a segment holds traces whose start lies in one slot.
inline constexpr int64_t kIndexSlotNs = 10ll * 1'000'000'000;

// ---- Big-endian and varint helpers ----

// Appends `v` as 8 bytes, most significant first (so byte order equals numeric order).
void PutFixed64BE(std::string* dst, uint64_t v);
// Reads 8 big-endian bytes; requires src.size() >= 8.
uint64_t DecodeFixed64BE(std::string_view src);
// Appends `v` as a LEB128 varint (1..5 bytes).
void PutVarint32(std::string* dst, uint32_t v);
// Reads a varint from the front of `*src` and advances it; false if truncated or too long.
bool GetVarint32(std::string_view* src, uint32_t* v);
// The same for 64-bit values (1..10 bytes).
void PutVarint64(std::string* dst, uint64_t v);
bool GetVarint64(std::string_view* src, uint64_t* v);
// varint32 length, then the bytes.
void PutLengthPrefixed(std::string* dst, std::string_view s);
bool GetLengthPrefixed(std::string_view* src, std::string_view* s);

// The smallest key greater than every key starting with `prefix` (for an iterator upper bound);
// "" when none exists (prefix empty or all 0xff bytes).
std::string PrefixSuccessor(std::string_view prefix);

// ---- Bucket column family names ----

std::string BucketColumnFamilyName(int64_t start_ns, int64_t end_ns);
struct BucketRange {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};
// nullopt unless `name` is a well-formed bucket name with start < end.
std::optional<BucketRange> ParseBucketColumnFamilyName(std::string_view name);

// ---- Spans and summaries ----

std::string SpanKey(const TraceId& trace_id, uint64_t chunk_seq);
// The 17-byte prefix shared by every chunk of `trace_id`.
std::string SpanKeyPrefix(const TraceId& trace_id);

struct SpanKeyParts {
  TraceId trace_id;
  uint64_t chunk_seq = 0;
};
// nullopt unless `key` is a span key (tag and exactly kSpanKeyBytes long).
std::optional<SpanKeyParts> DecodeSpanKey(std::string_view key);

std::string SpanBlockKey(uint64_t block_seq);

// A chunk held in a span block: spans [first_span, first_span + spans) of block `block_seq` of
// the same bucket, and the chunk's own fields but its spans (the SpanChunk's sampling policy and
// rate, serialized: `tail`).
struct ChunkRef {
  uint64_t block_seq = 0;
  uint64_t first_span = 0;
  uint64_t spans = 0;
  std::string_view tail;
};
// 0x00 (a serialized SpanChunk cannot start with it) | varint64 block_seq | varint64 first_span |
// varint64 spans | tail.
std::string EncodeChunkRef(const ChunkRef& ref);
// Whether a span key's value is a ChunkRef (else it is a SpanChunk).
bool IsChunkRef(std::string_view value);
// nullopt unless `value` is a well-formed ChunkRef (its tail is a view into `value`).
std::optional<ChunkRef> DecodeChunkRef(std::string_view value);

std::string SummaryKey(const TraceId& trace_id);

// A versioned, compact binary encoding of a summary (the trace ID is in the key, not here).
std::string EncodeSummary(const TraceSummary& summary);
// nullopt when `value` is not a summary this build can read. Summaries of the earlier version
// (without the sampling decision) decode with an empty policy and rate 0.
std::optional<TraceSummary> DecodeSummary(const TraceId& trace_id, std::string_view value);

// ---- Names ----

std::string ServiceKey(std::string_view service);
// The prefix of every service key.
std::string ServiceKeyPrefix();
// The service of a service key; nullopt if `key` is not one.
std::optional<std::string> DecodeServiceKey(std::string_view key);

// Span kinds outside 0..255 are stored as 0.
std::string OperationKey(std::string_view service, int span_kind, std::string_view name);
// The prefix of every operation key of `service`; with `span_kind` >= 0, only those of that kind.
std::string OperationKeyPrefix(std::string_view service, int span_kind = -1);

struct OperationKeyParts {
  std::string service;
  int span_kind = 0;
  std::string name;
};
// nullopt if `key` is not a well-formed operation key.
std::optional<OperationKeyParts> DecodeOperationKey(std::string_view key);

// ---- Index ----

std::string TimeStream();
std::string ServiceStream(std::string_view service);
std::string OperationStream(std::string_view service, std::string_view operation);
std::string ServiceTagStream(std::string_view service, std::string_view key,
                             std::string_view value);
std::string TagStream(std::string_view key, std::string_view value);
// The prefix shared by the tag streams of `service` (ServiceTagStream; TagStream when `service`
// is empty): v(key) | v(value) follows it.
std::string TagKeysPrefix(std::string_view service);
// ... and by those with key `key`: v(value) follows it.
std::string TagValuesPrefix(std::string_view service, std::string_view key);
std::string DurationStream(const DurationTerm& term);

// 'I' 'k' | v(service) | v(key): the prefix of the segments' keys of a service's tag key.
std::string ServiceKeyStream(std::string_view service, std::string_view key);
// The prefix shared by the 'k' keys of `service`: v(key) follows it.
std::string ServiceKeysPrefix(std::string_view service);
// The parts of a 'k' key's stream (ServiceKeyStream); nullopt when `stream` is not one.
std::optional<std::pair<std::string_view, std::string_view>> DecodeServiceKeyStream(
    std::string_view stream);
// The same for a tag stream (TagStream): its key and value.
std::optional<std::pair<std::string_view, std::string_view>> DecodeTagStream(
    std::string_view stream);

// A service mask (see "Services in a segment"): appends the bytes of the set whose bit n is bit
// n % 64 of words[n / 64], without trailing zero bytes.
void AppendServiceMask(std::string* dst, const uint64_t* words, size_t count);
// Whether service number `n` is in `mask`.
inline bool ServiceMaskHas(std::string_view mask, uint32_t n) {
  return n / 8 < mask.size() && ((static_cast<uint8_t>(mask[n / 8]) >> (n % 8)) & 1) != 0;
}

// A trace's position in the index (a trace table record): start (clamped at 0, 8 bytes
// big-endian) then trace ID, so that the bytewise (unsigned) order is the order by (start,
// trace ID).
using IndexPos = std::array<uint8_t, kIndexPositionBytes>;
IndexPos MakeIndexPos(int64_t start_ns, const TraceId& trace_id);
int64_t IndexPosStart(const IndexPos& pos);
TraceId IndexPosTraceId(const IndexPos& pos);

// The index slot of a trace start (start clamped at 0).
int64_t IndexSlot(int64_t start_ns);

// slot(8 BE) | segment(8 BE): where a segment sorts within a stream.
std::string SegmentSuffix(int64_t slot, uint64_t segment);
struct SegmentRef {
  int64_t slot = 0;
  uint64_t segment = 0;
  friend auto operator<=>(const SegmentRef&, const SegmentRef&) = default;
  friend bool operator==(const SegmentRef&, const SegmentRef&) = default;
};
// The segment at the end of a posting or trace table key; nullopt if too short.
std::optional<SegmentRef> DecodeSegmentSuffix(std::string_view key);

std::string PostingKey(std::string_view stream, int64_t slot, uint64_t segment);
std::string SegmentTableKey(int64_t slot, uint64_t segment);
std::string SegmentMarkerKey(uint64_t segment, const TraceId& trace_id);
// The first marker key of `segment` (every marker of later segments sorts at or after the next).
std::string SegmentMarkerPrefix(uint64_t segment);
// nullopt unless `key` is a well-formed marker key.
std::optional<std::pair<uint64_t, TraceId>> DecodeSegmentMarkerKey(std::string_view key);

// Whether `stream` carries a value per trace in the index model (TraceTermsBuilder, SegmentEntry,
// StoredStreams): the duration range of the time, service and operation streams.
bool StreamHasValues(std::string_view stream);
// Whether the postings a segment stores for `stream` carry a value per trace: those of the
// streams with values, and the service masks of the tag ('A') streams.
bool PostingHasValues(std::string_view stream);

// A duration index value is approximate: one byte per duration, naming the bucket that holds it.
// Durations 0..15 ns have a bucket each; above, a bucket covers a quarter of a power of two
// ([4+m, 5+m) << (e-2) for a duration of bit width e+1), so it is at most 25% wide.
struct DurationBucket {
  int64_t lo = 0;  // inclusive
  int64_t hi = 0;  // inclusive
};
uint8_t DurationBucketCode(int64_t duration_ns);  // negative durations count as 0
DurationBucket DurationBucketOf(uint8_t code);

// The durations of a scope's spans, min <= max: the buckets of min and max (2 bytes).
std::array<char, 2> DurationRangeBytes(int64_t min_ns, int64_t max_ns);
// The same as a string.
std::string EncodeDurationRange(int64_t min_ns, int64_t max_ns);
// false when `value` is malformed.
bool DecodeDurationRange(std::string_view value, DurationBucket* min, DurationBucket* max);

// A posting list: strictly ascending ordinals, and (for streams with values) one value each.
std::string EncodePosting(const std::vector<uint32_t>& ordinals,
                          const std::vector<std::string_view>* values);
// false when `value` is malformed; `values` (views into `value`) only when not null. `rest`, when
// not null, gets what follows the ordinals (and the values when read): an 'A' posting of format
// 4 has nothing there.
bool DecodePosting(std::string_view value, std::vector<uint32_t>* ordinals,
                   std::vector<std::string_view>* values, std::string_view* rest = nullptr);
// Reads `n` length-prefixed values (views) from the front of `*src` into `*out` and advances it;
// false when they are not all there.
bool GetLengthPrefixedList(std::string_view* src, size_t n, std::vector<std::string_view>* out);

std::string EncodeDurations(const std::vector<int64_t>& ascending_durations_ns);
// false when `value` is malformed.
bool DecodeDurations(std::string_view value, std::vector<int64_t>* out);

// ---- Dependencies ----

std::string DependencyKeyOf(const DependencyKey& key);
// The first key of a slot (every key of slots >= `slot` sorts at or after it). Negative slots
// are clamped to 0.
std::string DependencySlotPrefix(int64_t slot);
std::optional<DependencyKey> DecodeDependencyKey(std::string_view key);
// 8 bytes (calls) when counts.failed is 0, else 16 (calls, failed).
std::string EncodeCallCounts(const CallCounts& counts);
// nullopt unless `value` is 8 or 16 bytes; 8 bytes are calls only (0 failed).
std::optional<CallCounts> DecodeCallCounts(std::string_view value);

}  // namespace tailtrace::storage
