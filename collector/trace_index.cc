#include "collector/trace_index.h"

namespace tailtrace::collector {

void TraceIndex::Reset(size_t max_ids) {
  size_t capacity = 16;
  while (capacity < 2 * max_ids) capacity *= 2;  // at most half full: short probes
  // Keep the table unless it is too small, or far too large for batches like this one.
  if (slots_.size() < capacity || slots_.size() > 16 * capacity || generation_ == UINT32_MAX) {
    slots_.assign(capacity, Slot{});  // generation 0 marks every slot empty
    generation_ = 0;
  }
  mask_ = slots_.size() - 1;
  ++generation_;
  size_ = 0;
}

}  // namespace tailtrace::collector
