#pragma once

// A block of spans written column by column: how the RocksDB store keeps the spans of each write
// (storage/index/include/storage/index/keys.h, "Span blocks").
//
// EncodeSpanColumns reads TracesData wire bytes and writes each span's fields to their own
// column: resource and scope, trace and span IDs, start time (as a delta from the previous span),
// duration, name, kind, status, and the attributes as key and value indexes into the block's
// dictionaries. Whatever does not fit a column (events, links, dropped counts, a field sent twice,
// an unusual encoding) is kept as the span's remaining wire bytes, so every TracesData comes back
// as protobuf would parse it: DecodeSpanColumns gives wire bytes that parse to the same spans, in
// the same order, with the same resources and scopes.
//
// Layout: a version byte, the span count, then the columns, the dictionaries and a seek table,
// each a varint length and its bytes (span_columns_internal.h has the list). A block is not
// compressed here; its columns are laid out for a general-purpose compressor.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"

namespace tailtrace {

// Appends the spans of `chunks` (each the wire bytes of a TracesData), in order, to a new block
// in `*block`; `*spans_per_chunk`, when given, gets each chunk's span count (the block's spans
// are the chunks' in order). False when a chunk is not a TracesData.
[[nodiscard]] bool EncodeSpanColumns(std::span<const std::string_view> chunks, std::string* block,
                                     std::vector<uint64_t>* spans_per_chunk = nullptr);

// The number of spans in `block`; false when its header is malformed.
[[nodiscard]] bool CountSpanColumns(std::string_view block, uint64_t* spans);

// The most bytes DecodeSpanColumns and DecodeSpanColumnRange write from a block of `block_bytes`
// bytes (256 times the block, plus 1 MiB); a block that decodes to more is refused as malformed, so
// that a corrupt one cannot make its decoder allocate without bound. A block keeps one copy of a
// repeated value, so spans that repeat a large value can exceed it: a writer that must read its
// spans back checks their size against it.
uint64_t SpanColumnsOutputLimit(uint64_t block_bytes);

// Writes the spans of `block` whose trace ID `keep` accepts, in block order, as one TracesData's
// wire bytes to `*traces_data`: consecutive spans of one resource and scope share a ResourceSpans
// and a ScopeSpans. False when the block is malformed, or decodes to more than
// SpanColumnsOutputLimit: any input is safe to decode.
[[nodiscard]] bool DecodeSpanColumns(std::string_view block,
                                     absl::FunctionRef<bool(std::string_view trace_id)> keep,
                                     std::string* traces_data);

// Writes the spans [first, first + count) of `block` as DecodeSpanColumns does. Reading starts at
// the block's seek point before them (one every 256 spans): the spans from there to `first` are
// read but not built, and those after the range not read. False when the range is not in the
// block or the block is malformed.
[[nodiscard]] bool DecodeSpanColumnRange(std::string_view block, uint64_t first, uint64_t count,
                                         std::string* traces_data);

}  // namespace tailtrace
