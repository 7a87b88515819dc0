#pragma once

// Remembers recent sampling decisions so that spans arriving after their trace was decided follow
// that decision. Kept traces are remembered exactly (ID -> policy and rate) in a bounded FIFO; the
// far more numerous dropped traces are remembered compactly, as 32-bit fingerprints in a
// table of fixed size (4 bytes per trace) with two candidate buckets of 4 slots per trace; when
// both are full a new entry overwrites the oldest one of its first bucket. A fingerprint
// collision makes a span of a different, undecided trace look dropped: with 8 slots probed that
// happens for about 2 in 10^9 lookups.
//
// Single-threaded: owned by one shard.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/otlp_ids.h"

namespace tailtrace::collector {

class DecisionCache {
 public:
  struct Kept {
    uint32_t policy_index;  // into policy_names()
    double sample_rate;
  };

  // Capacities in traces; 0 disables that half of the cache.
  DecisionCache(uint64_t sampled_capacity, uint64_t non_sampled_capacity);

  void RememberKept(const TraceId& id, const std::string& policy, double sample_rate);
  void RememberDropped(const TraceId& id);

  // The kept decision for `id`, if remembered.
  const Kept* FindKept(const TraceId& id) const;
  // Whether `id` was (probably) dropped.
  bool WasDropped(const TraceId& id) const;

  const std::string& policy_name(uint32_t index) const { return policy_names_[index]; }
  size_t kept_size() const { return kept_.size(); }

 private:
  static constexpr int kSlotsPerBucket = 4;
  uint64_t BucketOf(const TraceId& id) const;
  uint64_t AltBucketOf(uint64_t bucket, uint32_t fingerprint) const;
  static uint32_t FingerprintOf(const TraceId& id);
  uint32_t InternPolicy(const std::string& name);

  uint64_t sampled_capacity_;
  absl::flat_hash_map<TraceId, Kept> kept_;
  std::deque<TraceId> kept_order_;
  // num_buckets_ * kSlotsPerBucket fingerprints; 0 marks an empty slot.
  std::vector<uint32_t> dropped_;
  std::vector<uint8_t> next_slot_;  // per bucket: the slot to overwrite next
  uint64_t num_buckets_ = 0;
  std::vector<std::string> policy_names_;
};

}  // namespace tailtrace::collector
