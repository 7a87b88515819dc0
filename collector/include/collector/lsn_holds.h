#pragma once

// Which write-ahead log records are still needed, counted: a record (named by its LSN) may be
// deleted once nothing holds it or anything older. Used by the span log (requests not yet taken by
// the shards) and by each shard (records of its buffered and unwritten traces).

#include <cstdint>

#include "absl/container/btree_map.h"

namespace tailtrace::collector {

// LSN 0 never names a record: "no record".
inline constexpr uint64_t kNoLsn = 0;
// The oldest LSN held when none is.
inline constexpr uint64_t kNothingHeld = UINT64_MAX;

// A multiset of LSNs. Not thread-safe.
class LsnHolds {
 public:
  // Hold and Release ignore kNoLsn; a Release without its Hold is ignored.
  void Hold(uint64_t lsn) {
    if (lsn != kNoLsn) ++counts_[lsn];
  }
  void Release(uint64_t lsn) {
    auto it = counts_.find(lsn);
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
  }
  uint64_t oldest() const { return counts_.empty() ? kNothingHeld : counts_.begin()->first; }

 private:
  // LSN -> holders.
  absl::btree_map<uint64_t, uint32_t> counts_;
};

}  // namespace tailtrace::collector
