#include "collector/decision_cache.h"

namespace tailtrace::collector {
namespace {

uint64_t High64(const TraceId& id) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | id.bytes[i];
  return v;
}

uint64_t Mix(uint64_t x) {
  // splitmix64 finalizer.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

DecisionCache::DecisionCache(uint64_t sampled_capacity, uint64_t non_sampled_capacity)
    : sampled_capacity_(sampled_capacity) {
  num_buckets_ = (non_sampled_capacity + kSlotsPerBucket - 1) / kSlotsPerBucket;
  dropped_.assign(num_buckets_ * kSlotsPerBucket, 0);
  next_slot_.assign(num_buckets_, 0);
  policy_names_.emplace_back();
}

uint64_t DecisionCache::BucketOf(const TraceId& id) const { return Mix(id.Low64()) % num_buckets_; }

uint32_t DecisionCache::FingerprintOf(const TraceId& id) {
  const auto fp = static_cast<uint32_t>(Mix(High64(id) ^ (id.Low64() * 0x9E3779B97F4A7C15ull)));
  return fp == 0 ? 1 : fp;
}

void DecisionCache::RememberKept(const TraceId& id, const std::string& policy, double sample_rate) {
  if (sampled_capacity_ == 0) return;
  auto [it, inserted] = kept_.try_emplace(id, Kept{InternPolicy(policy), sample_rate});
  if (!inserted) return;
  kept_order_.push_back(id);
  while (kept_order_.size() > sampled_capacity_) {
    kept_.erase(kept_order_.front());
    kept_order_.pop_front();
  }
}

uint64_t DecisionCache::AltBucketOf(uint64_t bucket, uint32_t fingerprint) const {
  return (bucket ^ Mix(fingerprint)) % num_buckets_;
}

void DecisionCache::RememberDropped(const TraceId& id) {
  if (num_buckets_ == 0) return;
  const uint32_t fp = FingerprintOf(id);
  const uint64_t b1 = BucketOf(id);
  const uint64_t b2 = AltBucketOf(b1, fp);
  // Two candidate buckets: an empty slot in either is used, so the table fills evenly; only
  // when both are full is the oldest entry of the first overwritten.
  for (uint64_t bucket : {b1, b2}) {
    uint32_t* slots = &dropped_[bucket * kSlotsPerBucket];
    for (int i = 0; i < kSlotsPerBucket; ++i) {
      if (slots[i] == fp) return;
    }
  }
  for (uint64_t bucket : {b1, b2}) {
    uint32_t* slots = &dropped_[bucket * kSlotsPerBucket];
    for (int i = 0; i < kSlotsPerBucket; ++i) {
      if (slots[i] == 0) {
        slots[i] = fp;
        return;
      }
    }
  }
  uint8_t& next = next_slot_[b1];
  dropped_[b1 * kSlotsPerBucket + next] = fp;
  next = static_cast<uint8_t>((next + 1) % kSlotsPerBucket);
}

const DecisionCache::Kept* DecisionCache::FindKept(const TraceId& id) const {
  auto it = kept_.find(id);
  return it == kept_.end() ? nullptr : &it->second;
}

bool DecisionCache::WasDropped(const TraceId& id) const {
  if (num_buckets_ == 0) return false;
  const uint32_t fp = FingerprintOf(id);
  const uint64_t b1 = BucketOf(id);
  for (uint64_t bucket : {b1, AltBucketOf(b1, fp)}) {
    const uint32_t* slots = &dropped_[bucket * kSlotsPerBucket];
    for (int i = 0; i < kSlotsPerBucket; ++i) {
      if (slots[i] == fp) return true;
    }
  }
  return false;
}

uint32_t DecisionCache::InternPolicy(const std::string& name) {
  for (uint32_t i = 0; i < policy_names_.size(); ++i) {
    if (policy_names_[i] == name) return i;
  }
  policy_names_.push_back(name);
  return static_cast<uint32_t>(policy_names_.size() - 1);
}

}  // namespace tailtrace::collector
