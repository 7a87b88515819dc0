#pragma once

// Numbers the distinct trace IDs met in one batch of spans 0, 1, 2, ... in order of first
// appearance: an open-addressing table that is emptied in O(1) (by a generation counter) and
// keeps its memory between batches, so a shard pays no allocation per request for grouping
// spans by trace.
//
// Single-threaded.

#include <cstdint>
#include <utility>
#include <vector>

#include "proto/otlp_ids.h"

namespace tailtrace::collector {

class TraceIndex {
 public:
  // Forgets every ID and prepares for up to `max_ids` distinct ones.
  void Reset(size_t max_ids);

  // The number of `id` in this batch, and whether this call gave it (first appearance).
  // At most `max_ids` distinct IDs may be added after Reset.
  std::pair<uint32_t, bool> FindOrAdd(const TraceId& id) {
    uint64_t h = id.Low64() ^ (id.Low64() >> 29) ^ HighBits(id);
    h *= 0x9E3779B97F4A7C15ull;
    for (size_t i = static_cast<size_t>(h >> 32) & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.generation != generation_) {
        slot.id = id;
        slot.generation = generation_;
        slot.number = size_;
        return {size_++, true};
      }
      if (slot.id == id) return {slot.number, false};
    }
  }

  // Distinct IDs since Reset.
  uint32_t size() const { return size_; }

 private:
  struct Slot {
    TraceId id;
    uint32_t generation = 0;
    uint32_t number = 0;
  };
  static uint64_t HighBits(const TraceId& id) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = (v << 8) | id.bytes[i];
    return v;
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint32_t generation_ = 0;
  uint32_t size_ = 0;
};

}  // namespace tailtrace::collector
