#include "cluster/recent_traces.h"

#include <utility>

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

void RecentTraces::Insert(const TraceId& id) {
  const int64_t now = clock_->MonotonicNanos();
  Shard& shard = ShardOf(id);
  std::lock_guard lock(shard.mu);
  RotateLocked(shard, now);
  shard.current.insert(id);
}

bool RecentTraces::Contains(const TraceId& id) {
  const int64_t now = clock_->MonotonicNanos();
  Shard& shard = ShardOf(id);
  std::lock_guard lock(shard.mu);
  RotateLocked(shard, now);
  return shard.current.contains(id) || shard.previous.contains(id);
}

}  // namespace tailtrace::cluster
