#include "memory_estimate.h"

namespace tailtrace::collector {

uint64_t StringHeapBytes(const std::string& s) {
  // libstdc++ keeps up to 15 characters inline; a larger capacity is one heap block with the
  // terminating NUL.
  return s.capacity() > 15 ? MallocBytes(s.capacity() + 1) : 0;
}

}  // namespace tailtrace::collector
