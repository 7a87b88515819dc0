#pragma once

// Private to TraceTermsBuilder: small containers behind its compact state. Not thread-safe.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "storage/index/keys.h"
#include "storage/index/trace_analysis.h"

namespace tailtrace::storage::terms_internal {

// Scope codes of duration keys, and the scope bytes of their streams.
constexpr int kAnyScope = 0;
constexpr int kServiceScope = 1;
constexpr int kOperationScope = 2;
constexpr DurationScope kScopes[] = {DurationScope::kAny, DurationScope::kService,
                                     DurationScope::kOperation};

// The first two bytes of an index stream of `type`.
struct IndexHead {
  char bytes[2];
  operator std::string_view() const { return {bytes, 2}; }
};

// The byte order of the duration scopes' stream bytes ('*' < 'o' < 's') by scope code.
constexpr uint64_t kScopeOrder[] = {0, 2, 1};

// Debian's Abseil has its own string_view (no std alias): hash keys are absl::string_view.
inline absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

// Bytes of heap held by a flat hash table (slots plus one control byte each).
template <typename Table>
size_t TableBytes(const Table& t) {
  return t.capacity() * (sizeof(typename Table::value_type) + 1);
}

// Copies of strings at addresses that never change until the arena is destroyed, so that views
// of them can be hash keys. Allocates blocks that grow from 256 bytes to 16 KiB.
class StringArena {
 public:
  std::string_view Store(std::string_view s) {
    if (s.empty()) return {};
    if (s.size() > left_) Grow(s.size());
    char* at = next_;
    std::memcpy(at, s.data(), s.size());
    next_ += s.size();
    left_ -= s.size();
    return {at, s.size()};
  }
  // Bytes allocated.
  size_t bytes() const { return bytes_; }

 private:
  void Grow(size_t need) {
    block_ = std::min<size_t>(block_ * 2, 16 << 10);
    const size_t size = std::max(block_, need);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    next_ = blocks_.back().get();
    left_ = size;
    bytes_ += size;
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
  size_t block_ = 128;
  size_t bytes_ = 0;
};

// A hash map keyed by span ID bytes: 8-byte IDs (every valid one) as integers, any other length
// in a map of strings, so that no ID is ever confused with another.
template <typename V>
class SpanIdMap {
 public:
  V* Find(std::string_view id) {
    if (id.size() == 8) {
      auto it = eight_.find(Key(id));
      return it == eight_.end() ? nullptr : &it->second;
    }
    auto it = other_.find(Absl(id));
    return it == other_.end() ? nullptr : &it->second;
  }
  bool Contains(std::string_view id) const {
    return id.size() == 8 ? eight_.contains(Key(id)) : other_.contains(Absl(id));
  }
  // Inserts `value` unless `id` is present; returns whether it inserted.
  bool Insert(std::string_view id, V value) {
    if (id.size() == 8) return eight_.try_emplace(Key(id), value).second;
    return other_.try_emplace(std::string(id), value).second;
  }
  // The value of `id`, default-constructed when absent.
  V& operator[](std::string_view id) {
    if (id.size() == 8) return eight_[Key(id)];
    return other_[std::string(id)];
  }
  void Erase(std::string_view id) {
    if (id.size() == 8) {
      eight_.erase(Key(id));
    } else {
      other_.erase(Absl(id));
    }
  }
  void Reserve(size_t n) { eight_.reserve(n); }
  size_t size() const { return eight_.size() + other_.size(); }
  size_t bytes() const {
    size_t b = TableBytes(eight_) + TableBytes(other_);
    for (const auto& [id, v] : other_) b += id.capacity() > 15 ? id.capacity() : 0;
    return b;
  }

 private:
  static uint64_t Key(std::string_view id) {
    uint64_t k;
    std::memcpy(&k, id.data(), 8);
    return k;
  }

  absl::flat_hash_map<uint64_t, V> eight_;
  absl::flat_hash_map<std::string, V> other_;
};

// The distinct durations of a fine duration term: a sorted small vector, a tree when large
// (so that a term of a huge trace never costs a linear insertion).
class DurationSet {
 public:
  // Whether `d` was new.
  bool Insert(int64_t d) {
    if (big_ != nullptr) return big_->insert(d).second;
    auto it = std::lower_bound(small_.begin(), small_.end(), d);
    if (it != small_.end() && *it == d) return false;
    if (small_.size() < kSmallMax) {
      small_.insert(it, d);
      return true;
    }
    big_ = std::make_unique<std::set<int64_t>>(small_.begin(), small_.end());
    small_.clear();
    small_.shrink_to_fit();
    return big_->insert(d).second;
  }
  size_t size() const { return big_ != nullptr ? big_->size() : small_.size(); }
  template <typename Fn>
  void ForEachAscending(Fn&& fn) const {
    if (big_ != nullptr) {
      for (int64_t d : *big_) fn(d);
    } else {
      for (int64_t d : small_) fn(d);
    }
  }
  // Heap bytes beyond the object itself.
  size_t bytes() const {
    if (big_ != nullptr) return big_->size() * 48 + 48;
    return small_.capacity() > kInline ? small_.capacity() * sizeof(int64_t) : 0;
  }

 private:
  static constexpr size_t kInline = 2;
  static constexpr size_t kSmallMax = 64;
  absl::InlinedVector<int64_t, kInline> small_;
  std::unique_ptr<std::set<int64_t>> big_;
};

// Orders `a` and `b` as their length-prefixed encodings (keys.h v(x): varint32 length, then the
// bytes) order: -1, 0 or 1. Equal lengths compare by bytes; otherwise the varints decide (no
// varint is a prefix of another, so the first differing byte does).
inline int CompareLengthPrefixed(std::string_view a, std::string_view b) {
  if (a.size() == b.size()) {
    const int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  uint32_t x = static_cast<uint32_t>(a.size());
  uint32_t y = static_cast<uint32_t>(b.size());
  while (true) {
    const uint8_t bx = static_cast<uint8_t>(x >= 0x80 ? (x & 0x7f) | 0x80 : x);
    const uint8_t by = static_cast<uint8_t>(y >= 0x80 ? (y & 0x7f) | 0x80 : y);
    if (bx != by) return bx < by ? -1 : 1;
    if (x < 0x80) return a.compare(b) < 0 ? -1 : 1;  // equal 32-bit lengths (truncated)
    x >>= 7;
    y >>= 7;
  }
}

// EncodeDurations (keys.h) of the set's durations, appended to `*out`.
inline void AppendDurations(const DurationSet& set, std::string* out) {
  PutVarint32(out, static_cast<uint32_t>(set.size()));
  int64_t previous = 0;
  set.ForEachAscending([&](int64_t d) {
    PutVarint64(out, static_cast<uint64_t>(d - previous));
    previous = d;
  });
}

// Indices 0..n-1 sorted by `less`, and the rank of each index.
template <typename Less>
void Rank(size_t n, Less less, std::vector<uint32_t>* order, std::vector<uint32_t>* rank) {
  order->resize(n);
  std::iota(order->begin(), order->end(), 0);
  std::sort(order->begin(), order->end(), less);
  rank->resize(n);
  for (size_t r = 0; r < n; ++r) (*rank)[(*order)[r]] = static_cast<uint32_t>(r);
}

// Bytes of v(s) (keys.h: varint32 length, then the bytes).
inline size_t LengthPrefixedSize(std::string_view s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  const size_t varint = n < (1u << 7)    ? 1
                        : n < (1u << 14) ? 2
                        : n < (1u << 21) ? 3
                        : n < (1u << 28) ? 4
                                         : 5;
  return varint + s.size();
}

// Writes v(s) at `p` (with room for LengthPrefixedSize(s) bytes); returns the end.
inline char* WriteLengthPrefixed(char* p, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  while (n >= 0x80) {
    *p++ = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  *p++ = static_cast<char>(n);
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Keeps the first `keep` bytes of `*out`, then appends the bytes of `head`, v(part) for each
// part, then the bytes of `tail`: builds an index stream (keys.h) in one write, reusing the
// buffer's capacity and, with `keep`, a prefix shared with the previous stream.
inline void EncodeStream(std::string* out, size_t keep, std::string_view head,
                         std::initializer_list<std::string_view> parts,
                         std::string_view tail = {}) {
  size_t size = keep + head.size() + tail.size();
  for (std::string_view part : parts) size += LengthPrefixedSize(part);
  out->resize(size);
  char* p = out->data() + keep;
  if (!head.empty()) std::memcpy(p, head.data(), head.size());  // data() may be null when empty
  p += head.size();
  for (std::string_view part : parts) p = WriteLengthPrefixed(p, part);
  if (!tail.empty()) std::memcpy(p, tail.data(), tail.size());
}

// Indices 0..n-1 ordered by group (`group(i)` in [0, groups)), then by `less` within a group
// (a counting sort, then small sorts), and the rank of each index. `first` and `next` are
// scratch.
template <typename Group, typename Less>
void RankGrouped(size_t n, size_t groups, Group group, Less less, std::vector<uint32_t>* order,
                 std::vector<uint32_t>* rank, std::vector<uint32_t>* first,
                 std::vector<uint32_t>* next) {
  first->assign(groups + 1, 0);
  for (uint32_t i = 0; i < n; ++i) ++(*first)[group(i) + 1];
  for (size_t g = 1; g <= groups; ++g) (*first)[g] += (*first)[g - 1];
  next->assign(first->begin(), first->end() - 1);
  order->resize(n);
  for (uint32_t i = 0; i < n; ++i) (*order)[(*next)[group(i)]++] = i;
  for (size_t g = 0; g < groups; ++g) {
    if ((*first)[g + 1] - (*first)[g] > 1) {
      std::sort(order->begin() + (*first)[g], order->begin() + (*first)[g + 1], less);
    }
  }
  rank->resize(n);
  for (uint32_t r = 0; r < n; ++r) (*rank)[(*order)[r]] = r;
}

// Sorts `*v` and removes repeats.
inline void SortUnique(std::vector<uint64_t>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace tailtrace::storage::terms_internal
