#pragma once

// Which member owns a trace: rendezvous (highest-random-weight) hashing of the trace ID over the
// member names. Every member scores weight(member, trace); the owner is the member with the
// highest weight, and the members in falling weight order are the fallbacks. A member joining
// takes over about 1/(N+1) of the traces, all from the others and nothing between them; a member
// leaving hands only its own traces to the rest, spread evenly. Because a member's weight does
// not depend on who else is in the list, the owner over the live members is the first live
// member of the preference order over all of them.
//
// The hash is a contract between nodes (each must compute the same owner, also in a cluster of
// mixed versions during an upgrade); changing it moves every trace:
//   Mix(x)            = MurmurHash3's 64-bit finalizer (fmix64)
//   member_hash(name) = Mix(FNV-1a 64 of the name's bytes)
//   trace_key(id)     = Mix(lo ^ Mix(hi)), hi and lo = bytes 0-7 and 8-15 read big-endian
//   weight            = Mix(trace_key ^ member_hash); equal weights: the smaller name wins.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/otlp_ids.h"
#include "proto/otlp_wire.h"

namespace tailtrace::cluster {

// The owner of a trace in an empty ring.
inline constexpr size_t kNoOwner = static_cast<size_t>(-1);

// An immutable member list: the names sorted and deduplicated, each name hashed once. Members
// are referred to by index into members(). Thread-safe (nothing changes after construction).
class Ring {
 public:
  // `members` in any order; duplicates are dropped. Every node given the same set of names
  // builds the same ring.
  explicit Ring(std::vector<std::string> members);

  size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }
  // The names, sorted.
  const std::vector<std::string>& members() const { return members_; }
  const std::string& member(size_t index) const { return members_[index]; }
  // The index of `name`, or nullopt when it is not a member. O(log N).
  std::optional<size_t> IndexOf(std::string_view name) const;

  // The index of the member that owns `trace`; kNoOwner when the ring is empty.
  // O(members), no allocation.
  size_t OwnerOf(const TraceId& trace) const;

  // The first min(n, size()) members in preference order: [0] is OwnerOf(trace), [1] the owner
  // if [0] were gone, and so on. Allocates the result; O(members * log n).
  std::vector<size_t> OwnersInOrder(const TraceId& trace, size_t n) const;

 private:
  std::vector<std::string> members_;
  std::vector<uint64_t> member_hashes_;  // member_hash(members_[i])
};

// Sets `*owners` to one entry per span of `request`: (*owners)[i] = ring.OwnerOf(trace ID of
// request.spans[i]). One pass; a small cache on the stack remembers recent trace IDs, so the
// spans of a trace that a request carries together are hashed once. Reuse `owners` across calls
// to keep its capacity (no allocation then).
void AssignOwners(const Ring& ring, const WireRequest& request, std::vector<size_t>* owners);

}  // namespace tailtrace::cluster
