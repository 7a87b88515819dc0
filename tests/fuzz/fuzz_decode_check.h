#pragma once

// The invariant of every bounded decoder of compressed bytes (gzip, deflate, LZ4 frames): the
// output fits the bound, and a failure is InvalidArgument (bad input) or ResourceExhausted (the
// bound was reached).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tests/fuzz/fuzz_check.h"

inline void CheckBoundedDecode(const absl::StatusOr<std::string>& out, uint64_t limit) {
  if (out.ok()) {
    FUZZ_CHECK(out->size() <= limit);
  } else {
    FUZZ_CHECK(absl::IsInvalidArgument(out.status()) || absl::IsResourceExhausted(out.status()));
  }
}
