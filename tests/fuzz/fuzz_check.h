#pragma once

// FUZZ_CHECK(cond): a harness's invariant. A failure prints the condition and aborts, which
// libFuzzer reports as a crash (and the corpus replay in `make test` as a failed test).

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
