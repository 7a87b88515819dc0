#pragma once

// Names the calling thread, as `top`, `perf report --sort comm` and /proc/PID/task/*/comm show it,
// so each thread's CPU can be told apart (sampler shards, the store's writers, listeners, ...).

#include <string_view>

namespace tailtrace {

// Linux keeps 15 bytes of a thread's name: a longer `name` keeps its first 15. Best effort: a
// failure leaves the name as it was.
void SetCurrentThreadName(std::string_view name);

}  // namespace tailtrace
