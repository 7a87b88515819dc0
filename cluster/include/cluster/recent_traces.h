#pragma once

// The traces this node took as their owner lately: what a member that lost ownership of traces
// (a member joined, or one came back) consults while handing them over — spans of a trace it
// took in the last `window` stay with it, so that a trace buffered here is decided here on all
// of its spans (cluster/span_router.h, "Membership changes").
//
// Two generations of trace IDs, each covering `window`: Insert adds to the current one, Contains
// looks in both, and the older is dropped once the current is `window` old — so a trace is
// remembered for between `window` and twice that after its last span. Sharded by trace ID so that
// receiver threads rarely wait for each other.

#include <array>
#include <cstdint>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "common/clock.h"
#include "proto/otlp_ids.h"

namespace tailtrace::cluster {

// Thread-safe.
class RecentTraces {
 public:
  // `clock` must outlive this.
  RecentTraces(int64_t window_ns, Clock* clock) : window_ns_(window_ns), clock_(clock) {}

  void Insert(const TraceId& id);
  bool Contains(const TraceId& id);

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    absl::flat_hash_set<TraceId> current ABSL_GUARDED_BY(mu);
    absl::flat_hash_set<TraceId> previous ABSL_GUARDED_BY(mu);
    int64_t current_since_ns ABSL_GUARDED_BY(mu) = 0;
  };

  Shard& ShardOf(const TraceId& id) { return shards_[id.Low64() % kShards]; }
  // Retires the older generation when the current one is `window` old.
  void RotateLocked(Shard& shard, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const int64_t window_ns_;
  Clock* const clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace tailtrace::cluster
