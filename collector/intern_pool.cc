#include "collector/intern_pool.h"

#include "memory_estimate.h"

namespace tailtrace::collector {
namespace {

// The map's slot (view + pointer) and control byte at a typical load factor.
constexpr uint64_t kSlotBytes = 40;

}  // namespace

const InternPool::Entry* InternPool::Acquire(std::string_view bytes) {
  const absl::string_view key(bytes.data(), bytes.size());
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    ++it->second->refs;
    return it->second.get();
  }
  auto entry = std::make_unique<Entry>();
  entry->bytes.assign(bytes.data(), bytes.size());
  entry->refs = 1;
  entry->heap_bytes = MallocBytes(sizeof(Entry)) + StringHeapBytes(entry->bytes) + kSlotBytes;
  heap_bytes_ += entry->heap_bytes;
  const Entry* result = entry.get();
  entries_.emplace(absl::string_view(result->bytes), std::move(entry));
  return result;
}

void InternPool::Ref(const Entry* entry) { ++const_cast<Entry*>(entry)->refs; }

void InternPool::Release(const Entry* entry) {
  Entry* mutable_entry = const_cast<Entry*>(entry);
  if (--mutable_entry->refs > 0) return;
  heap_bytes_ -= entry->heap_bytes;
  entries_.erase(absl::string_view(entry->bytes));  // destroys the entry
}

}  // namespace tailtrace::collector
