#pragma once

// Private to RocksTraceStore: the TraceTermsBuilder of recently written traces, least recently
// used first out, within a byte budget. A late chunk of a cached trace is indexed from the cached
// state without reading the trace back. Thread-safe.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "proto/otlp_ids.h"
#include "storage/index/trace_terms_builder.h"

namespace tailtrace::storage {

class RocksBucket;

class TraceTermsCache {
 public:
  struct Entry {
    std::shared_ptr<RocksBucket> bucket;  // where the trace is stored
    std::unique_ptr<TraceTermsBuilder> builder;
  };

  explicit TraceTermsCache(size_t budget_bytes) : budget_bytes_(budget_bytes) {}

  // Removes and returns the entry of `id` (the caller puts it back once its write succeeded).
  std::optional<Entry> Take(const TraceId& id) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    Entry entry = std::move(it->second.entry);
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.position);
    entries_.erase(it);
    return entry;
  }

  // Keeps `entry` as the most recently used, evicting the least recently used ones beyond the
  // budget (an entry larger than the whole budget is not kept).
  void Put(const TraceId& id, Entry entry) {
    const size_t bytes = entry.builder->ApproximateBytes();
    if (bytes > budget_bytes_) return;
    std::lock_guard lock(mu_);
    if (auto old = entries_.find(id); old != entries_.end()) {
      bytes_ -= old->second.bytes;
      lru_.erase(old->second.position);
      entries_.erase(old);
    }
    lru_.push_front(id);
    entries_.emplace(id, Slot{std::move(entry), bytes, lru_.begin()});
    bytes_ += bytes;
    while (bytes_ > budget_bytes_) {
      auto victim = entries_.find(lru_.back());
      bytes_ -= victim->second.bytes;
      entries_.erase(victim);
      lru_.pop_back();
    }
  }

  // Forgets every entry of `bucket` (which is being dropped: its entries would keep it alive).
  void ForgetBucket(const RocksBucket* bucket) {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.entry.bucket.get() != bucket) {
        ++it;
        continue;
      }
      bytes_ -= it->second.bytes;
      lru_.erase(it->second.position);
      entries_.erase(it++);
    }
  }

  void Clear() {
    std::lock_guard lock(mu_);
    entries_.clear();
    lru_.clear();
    bytes_ = 0;
  }

  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }

 private:
  struct Slot {
    Entry entry;
    size_t bytes = 0;
    std::list<TraceId>::iterator position;
  };

  const size_t budget_bytes_;
  mutable std::mutex mu_;
  std::list<TraceId> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<TraceId, Slot> entries_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tailtrace::storage
