#include "cluster/recent_traces.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace tailtrace::cluster {

void RecentTraces::RotateLocked(Shard& shard, int64_t now_ns) {
  if (shard.current_since_ns == 0) shard.current_since_ns = now_ns;
  if (now_ns - shard.current_since_ns < window_ns_) return;
  // Two windows without a rotation (no insert for a long time): both generations are stale.
  if (now_ns - shard.current_since_ns >= 2 * window_ns_) {
    shard.current.clear();
  }
  shard.previous = std::move(shard.current);
  shard.current = absl::flat_hash_set<TraceId>();
  shard.current_since_ns = now_ns;
}

void RecentTraces::Insert(std::span<const TraceId> ids) {
  if (ids.empty()) return;
  const int64_t now = clock_->MonotonicNanos();
  // Counting sort of the IDs by shard, then each shard locked once.
  std::array<uint32_t, kShards + 1> start{};
  for (const TraceId& id : ids) ++start[ShardIndex(id) + 1];
  for (size_t s = 1; s <= kShards; ++s) start[s] += start[s - 1];
  thread_local std::vector<const TraceId*> by_shard;
  by_shard.resize(ids.size());
  std::array<uint32_t, kShards> next{};
  std::copy_n(start.begin(), kShards, next.begin());
  for (const TraceId& id : ids) by_shard[next[ShardIndex(id)]++] = &id;
  for (size_t s = 0; s < kShards; ++s) {
    if (start[s] == start[s + 1]) continue;
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mu);
    RotateLocked(shard, now);
    for (uint32_t k = start[s]; k < start[s + 1]; ++k) shard.current.insert(*by_shard[k]);
  }
}

bool RecentTraces::Contains(const TraceId& id) {
  const int64_t now = clock_->MonotonicNanos();
  Shard& shard = ShardOf(id);
  std::lock_guard lock(shard.mu);
  RotateLocked(shard, now);
  return shard.current.contains(id) || shard.previous.contains(id);
}

}  // namespace tailtrace::cluster
