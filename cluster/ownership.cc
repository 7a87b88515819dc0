#include "cluster/ownership.h"

#include <algorithm>
#include <array>
#include <utility>

namespace tailtrace::cluster {
namespace {

// MurmurHash3's 64-bit finalizer: a bijection in which every input bit flips each output bit
// with probability close to 1/2, so weights of different members look independent.
uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// FNV-1a is specified byte by byte, so the value does not depend on the platform or process
// (unlike absl::Hash, which is seeded per process). Mix spreads names that differ in one byte.
uint64_t MemberHash(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix(h);
}

uint64_t BigEndian64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// All 16 bytes count: some IDs are random only in one half (64-bit Jaeger IDs padded with zeros,
// AWS X-Ray IDs that start with a timestamp).
uint64_t TraceKey(const TraceId& trace) {
  return Mix(BigEndian64(trace.bytes.data() + 8) ^ Mix(BigEndian64(trace.bytes.data())));
}

uint64_t Weight(uint64_t trace_key, uint64_t member_hash) { return Mix(trace_key ^ member_hash); }

// Members are sorted by name, so on equal weights the smaller index (name) wins.
size_t HighestWeight(const std::vector<uint64_t>& member_hashes, uint64_t trace_key) {
  if (member_hashes.empty()) return kNoOwner;
  size_t best = 0;
  uint64_t best_weight = Weight(trace_key, member_hashes[0]);
  for (size_t i = 1; i < member_hashes.size(); ++i) {
    const uint64_t w = Weight(trace_key, member_hashes[i]);
    if (w > best_weight) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace

Ring::Ring(std::vector<std::string> members) : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  member_hashes_.reserve(members_.size());
  for (const std::string& name : members_) member_hashes_.push_back(MemberHash(name));
}

std::optional<size_t> Ring::IndexOf(std::string_view name) const {
  const auto it = std::lower_bound(members_.begin(), members_.end(), name);
  if (it == members_.end() || *it != name) return std::nullopt;
  return static_cast<size_t>(it - members_.begin());
}

size_t Ring::OwnerOf(const TraceId& trace) const {
  return HighestWeight(member_hashes_, TraceKey(trace));
}

std::vector<size_t> Ring::OwnersInOrder(const TraceId& trace, size_t n) const {
  const uint64_t key = TraceKey(trace);
  std::vector<std::pair<uint64_t, size_t>> ranked;  // (weight, index)
  ranked.reserve(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    ranked.emplace_back(Weight(key, member_hashes_[i]), i);
  }
  n = std::min(n, ranked.size());
  // Highest weight first; on equal weights the smaller index, as in OwnerOf.
  std::partial_sort(ranked.begin(), ranked.begin() + n, ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = ranked[i].second;
  return order;
}

void AssignOwners(const Ring& ring, const WireRequest& request, std::vector<size_t>* owners) {
  // Direct-mapped by the trace ID's last byte (random in W3C IDs); a miss only costs a hash.
  struct Slot {
    TraceId trace;
    size_t owner = kNoOwner;
  };
  std::array<Slot, 32> cache;
  owners->resize(request.spans.size());
  for (size_t i = 0; i < request.spans.size(); ++i) {
    const TraceId& trace = request.spans[i].trace_id;
    Slot& slot = cache[trace.bytes[kTraceIdBytes - 1] % cache.size()];
    if (slot.owner == kNoOwner || slot.trace != trace) {
      slot.trace = trace;
      slot.owner = ring.OwnerOf(trace);
    }
    (*owners)[i] = slot.owner;
  }
}

}  // namespace tailtrace::cluster
