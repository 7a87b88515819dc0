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
// "bucket-<start_ns>-<end_ns>" (BucketColumnFamilyName): one per retention bucket, holding every
// record of the traces first written while the clock was in [start_ns, end_ns). Late spans of a
// trace go to the bucket that already holds it, so a trace lives and dies with one bucket, and
// retention drops whole column families (DropColumnFamily) instead of deleting keys. The fixed
// 17-byte prefix extractor (tag + trace ID) with a prefix bloom filter makes a lookup of a trace
// that is not in a bucket cheap.
//
// ---- Keys inside a bucket (the first byte is the key-space tag) ----
//
//   'T' | trace_id(16) | chunk_seq(8 BE)                   ->  SpanChunk (serialized)
//       One key per write of a trace's spans ("chunk"); late spans add a chunk, nothing is
//       rewritten. chunk_seq is unique and increasing per store (also across restarts), so a prefix
//       scan over 'T' | trace_id returns the chunks in write order.
//   'S' | trace_id(16)                                     ->  EncodeSummary(TraceSummary)
//   's' | service                                          ->  "" (service name exists)
//   'o' | varint32 len(service) | service | kind(1) | name ->  "" (operation name exists)
//   'I' | stream | start_ns(8 BE) | trace_id(16)           ->  index entry (see below)
//   'D' | slot(8 BE) | varint32 len(parent) | parent | child  ->  calls, int64 8 bytes BE, summed
//       by the bucket's merge operator (slot = child span start / kDependencySlotNs).
//
// Index streams: every index entry of a trace ends with the trace's start time (big-endian, so
// byte order is time order) and its trace ID; a stream (the bytes before them) is therefore
// sorted by (trace start, trace ID), and a reverse scan of a stream yields newest first. Streams
// are self-delimiting (every variable field is length-prefixed), so no stream is a prefix of
// another. One entry per distinct value per trace:
//
//   'I' 't'                                      time: every trace
//   'I' 's' | v(service)                         the trace has spans of service
//   'I' 'o' | v(service) | v(operation)          ... a span of service named operation
//   'I' 'a' | v(service) | v(key) | v(value)     ... a span of service with tag key=value
//   'I' 'A' | v(key) | v(value)                  ... any span with tag key=value
//   'I' 'd' | scope | [v(service) [| v(op)]] | class(1)  ... spans of the scope whose duration is
//   in
//       coarse duration class `class` (trace_analysis.h); scope '*' = every span, 's' = one service
//       (with v(service)), 'o' = one operation (with v(service) and v(op)). No value.
//   'I' 'e' | scope | [v(service) [| v(op)]] | class(1)  the same for a fine duration class; the
//       value is EncodeDurations: the distinct span durations of that scope and fine class,
//       ascending, so a search checks its exact bounds in the fine classes at the edges of its
//       range (and reads the coarse classes strictly inside it without looking at values).
//   v(x) = varint32 length of x, then x.
//
// When a late chunk changes what a trace indexes, the writer deletes the trace's entries that are
// no longer produced (all of them when the trace start moved) and puts the new ones.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/otlp_ids.h"
#include "storage/trace_analysis.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

inline constexpr int kStoreFormatVersion = 2;

inline constexpr char kFormatVersionKey[] = "format_version";
inline constexpr char kChunkSeqReservedKey[] = "chunk_seq_reserved";

// Key-space tags of a bucket column family.
inline constexpr char kSpanTag = 'T';
inline constexpr char kSummaryTag = 'S';
inline constexpr char kServiceTag = 's';
inline constexpr char kOperationTag = 'o';
inline constexpr char kIndexTag = 'I';
inline constexpr char kDependencyTag = 'D';

// Index stream types (the byte after kIndexTag).
inline constexpr char kTimeIndex = 't';
inline constexpr char kServiceIndex = 's';
inline constexpr char kOperationIndex = 'o';
inline constexpr char kServiceTagIndex = 'a';
inline constexpr char kTagIndex = 'A';
inline constexpr char kDurationIndex = 'd';
inline constexpr char kFineDurationIndex = 'e';

// Tag + trace ID: the prefix of span and summary keys, and the bucket prefix extractor's length.
inline constexpr size_t kTracePrefixBytes = 1 + kTraceIdBytes;
inline constexpr size_t kSpanKeyBytes = kTracePrefixBytes + 8;
// start_ns(8) + trace_id(16) at the end of every index key.
inline constexpr size_t kIndexPositionBytes = 8 + kTraceIdBytes;

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

std::string SummaryKey(const TraceId& trace_id);

// A versioned, compact binary encoding of a summary (the trace ID is in the key, not here).
std::string EncodeSummary(const TraceSummary& summary);
// nullopt when `value` is not a summary this build can read.
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
std::string DurationStream(const DurationTerm& term);

// start_ns (clamped at 0) big-endian, then the trace ID: the sort position within a stream.
std::string IndexPosition(int64_t start_ns, const TraceId& trace_id);
std::string IndexKey(std::string_view stream, int64_t start_ns, const TraceId& trace_id);

struct IndexPositionParts {
  int64_t start_ns = 0;
  TraceId trace_id;
};
// The position at the end of an index key (or of a bare 24-byte position); nullopt if too short.
std::optional<IndexPositionParts> DecodeIndexPosition(std::string_view key);

std::string EncodeDurations(const std::vector<int64_t>& ascending_durations_ns);
// false when `value` is malformed.
bool DecodeDurations(std::string_view value, std::vector<int64_t>* out);

// ---- Dependencies ----

std::string DependencyKeyOf(const DependencyKey& key);
// The first key of a slot (every key of slots >= `slot` sorts at or after it). Negative slots
// are clamped to 0.
std::string DependencySlotPrefix(int64_t slot);
std::optional<DependencyKey> DecodeDependencyKey(std::string_view key);
std::string EncodeCount(int64_t count);
// nullopt unless `value` is 8 bytes.
std::optional<int64_t> DecodeCount(std::string_view value);

}  // namespace tailtrace::storage
