#pragma once

// Private to RocksTraceStore's write path (rocks_trace_store_write.cc).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace tailtrace::storage {

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
  void AppendTo(rocksdb::WriteBatch* batch);

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

}  // namespace tailtrace::storage
