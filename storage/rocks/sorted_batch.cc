#include "sorted_batch.h"

#include <algorithm>

namespace tailtrace::storage {

void SortedBatch::AppendTo(rocksdb::WriteBatch* batch) {
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

}  // namespace tailtrace::storage
