#pragma once

// Key encoding of the RocksDB trace store. Pure functions, no RocksDB types.
//
// Column family "spans" (span data; fixed 16-byte prefix extractor + prefix bloom filter):
//
//   trace_id (16 raw bytes) | chunk_seq (8 bytes, big-endian)   ->  SpanChunk (serialized)
//
//   One key per write of a trace's spans ("chunk"); late spans add a chunk, nothing is rewritten.
//   chunk_seq is unique and increasing per store (also across restarts), so a prefix scan over
//   trace_id returns the chunks in write order. chunk_seq is an ordering, not a timestamp.
//
// Column family "meta" (names for the query API's dropdowns). The first byte is a key-space tag so
// that further key spaces can be added to this column family without collisions:
//
//   'S' | service                                                     ->  "" (service exists)
//   'O' | varint32 len(service) | service | span_kind (1 byte) | name ->  "" (operation exists)
//
//   The length prefix keeps services that are prefixes of each other apart ("a" vs "ab"); a span
//   kind outside 0..255 is stored as 0 (unspecified). The operation name is the key's remainder.
//
// Column family "default" (store bookkeeping, string keys):
//
//   "format_version"      ->  decimal layout version (kStoreFormatVersion)
//   "chunk_seq_reserved"  ->  8 bytes big-endian: every chunk_seq handed out is <= this value.
//
// Search indexes, trace summaries and time-bucketed retention add their own column families or
// key-space tags later.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/otlp_ids.h"

namespace tailtrace::storage {

inline constexpr int kStoreFormatVersion = 1;

inline constexpr char kSpansColumnFamily[] = "spans";
inline constexpr char kMetaColumnFamily[] = "meta";

inline constexpr char kFormatVersionKey[] = "format_version";
inline constexpr char kChunkSeqReservedKey[] = "chunk_seq_reserved";

// Key-space tags of the "meta" column family.
inline constexpr char kServiceTag = 'S';
inline constexpr char kOperationTag = 'O';

inline constexpr size_t kSpanKeyBytes = kTraceIdBytes + 8;

// ---- Big-endian and varint helpers ----

// Appends `v` as 8 bytes, most significant first (so byte order equals numeric order).
void PutFixed64BE(std::string* dst, uint64_t v);
// Reads 8 big-endian bytes; requires src.size() >= 8.
uint64_t DecodeFixed64BE(std::string_view src);
// Appends `v` as a LEB128 varint (1..5 bytes).
void PutVarint32(std::string* dst, uint32_t v);
// Reads a varint from the front of `*src` and advances it; false if truncated or too long.
bool GetVarint32(std::string_view* src, uint32_t* v);

// The smallest key greater than every key starting with `prefix` (for an iterator upper bound);
// "" when none exists (prefix empty or all 0xff bytes).
std::string PrefixSuccessor(std::string_view prefix);

// ---- "spans" ----

std::string SpanKey(const TraceId& trace_id, uint64_t chunk_seq);
// The 16-byte prefix shared by every chunk of `trace_id`.
std::string_view SpanKeyPrefix(const TraceId& trace_id);

struct SpanKeyParts {
  TraceId trace_id;
  uint64_t chunk_seq = 0;
};
// nullopt unless `key` is exactly kSpanKeyBytes long.
std::optional<SpanKeyParts> DecodeSpanKey(std::string_view key);

// ---- "meta" ----

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

}  // namespace tailtrace::storage
