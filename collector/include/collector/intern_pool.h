#pragma once

// A shard's pool of interned, immutable byte strings: the serialized resources and scopes of the
// spans it buffers. Every (trace, request) group of buffered spans refers to its resource and
// its scope through a pool entry instead of holding copies, so a resource sent with thousands of
// traces is held once. An entry lives while groups refer to it: Acquire and Ref add a
// reference, Release drops one and frees the entry with the last.
//
// Single-threaded: owned by one shard. Entries are never modified while referenced.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace tailtrace::collector {

class InternPool {
 public:
  struct Entry {
    std::string bytes;
    uint32_t refs = 0;
    // Heap bytes this entry accounts for (its block, its string's buffer, its table slot).
    uint64_t heap_bytes = 0;
  };

  InternPool() = default;
  InternPool(const InternPool&) = delete;
  InternPool& operator=(const InternPool&) = delete;

  // The entry holding exactly `bytes` (created on first use), with one more reference.
  [[nodiscard]] const Entry* Acquire(std::string_view bytes);
  // Adds a reference to `entry`, which must be alive.
  void Ref(const Entry* entry);
  // Drops a reference to `entry`; the last one frees it (the pointer is then invalid).
  void Release(const Entry* entry);

  // Distinct entries held.
  size_t size() const { return entries_.size(); }
  // Heap bytes held by the entries (each counted once, however many groups refer to it).
  uint64_t heap_bytes() const { return heap_bytes_; }

 private:
  // Keyed by a view of the entry's own bytes (stable: entries are heap-allocated).
  absl::flat_hash_map<absl::string_view, std::unique_ptr<Entry>> entries_;
  uint64_t heap_bytes_ = 0;
};

}  // namespace tailtrace::collector
