// ForEachChunk (span_blocks.h): one prefix scan over the trace's chunk keys; a chunk held in a
// span block is decoded from the block (read once per block and scan) and followed by its tail.

#include "span_blocks.h"

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "proto/span_columns.h"
#include "rocks_options_internal.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "storage/index/keys.h"

namespace tailtrace::storage {
namespace {

// Resolves chunk references of one trace, keeping the last block read.
class ChunkResolver {
 public:
  ChunkResolver(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}

  // The SpanChunk bytes `ref` refers to; an error message when they cannot be read.
  absl::Status Resolve(const ChunkRef& ref, std::string_view* chunk) {
    if (!block_seq_ || *block_seq_ != ref.block_seq) {
      block_seq_.reset();
      block_.Reset();
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), cf_, SpanBlockKey(ref.block_seq), &block_);
      if (s.IsNotFound()) {
        return absl::DataLossError(absl::StrCat("its span block ", ref.block_seq, " is missing"));
      }
      if (!s.ok()) return FromRocksStatus(s, absl::StrCat("reading span block ", ref.block_seq));
      block_seq_ = ref.block_seq;
    }
    if (!DecodeSpanColumnRange(block_.ToStringView(), ref.first_span, ref.spans, &chunk_)) {
      return absl::DataLossError(absl::StrCat("its spans ", ref.first_span, "+", ref.spans,
                                              " in span block ", ref.block_seq, " do not decode"));
    }
    chunk_.append(ref.tail);
    *chunk = chunk_;
    return absl::OkStatus();
  }

 private:
  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  std::optional<uint64_t> block_seq_;
  rocksdb::PinnableSlice block_;
  std::string chunk_;
};

}  // namespace

absl::Status ForEachChunk(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const TraceId& id,
                          std::string_view where,
                          absl::FunctionRef<bool(std::string_view chunk, uint64_t seq)> fn) {
  const std::string prefix = SpanKeyPrefix(id);
  // The first key after every key starting with `prefix`. With it as the iterator's upper bound,
  // RocksDB stops at the index entry of the block after the trace's last chunk instead of
  // reading (and decompressing) that block to find its first key is past the prefix.
  const std::string upper = PrefixSuccessor(prefix);  // never empty: the prefix starts with 'T'
  const rocksdb::Slice upper_slice(upper);
  // The prefix extractor lets the bloom filters skip every file that has no chunk of this trace.
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  ro.total_order_seek = false;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  ChunkResolver resolver(db, cf);
  const absl::string_view store(where.data(), where.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::optional<SpanKeyParts> key = DecodeSpanKey(it->key().ToStringView());
    const uint64_t seq = key ? key->chunk_seq : 0;
    std::string_view chunk = it->value().ToStringView();
    if (IsChunkRef(chunk)) {
      const std::optional<ChunkRef> ref = DecodeChunkRef(chunk);
      absl::Status resolved =
          ref ? resolver.Resolve(*ref, &chunk) : absl::DataLossError("its reference is malformed");
      if (!resolved.ok()) {
        return absl::Status(resolved.code(), absl::StrCat("trace ", id.Hex(), ": span chunk ", seq,
                                                          " in ", store, ": ", resolved.message()));
      }
    }
    if (!fn(chunk, seq)) break;
  }
  return FromRocksStatus(it->status(), absl::StrCat("reading trace ", id.Hex(), " from ", store));
}

}  // namespace tailtrace::storage
