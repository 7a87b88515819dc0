#pragma once

// The heap bytes that buffered spans really occupy: what the sampler's byte bounds
// (max_buffer_bytes, maximum_trace_size_bytes) count, so that they bound the process's memory.
// A shard buffers spans as serialized bytes (collector/buffered_trace.h), so what it holds is a
// few malloc blocks per trace: each is counted as the chunk glibc's malloc really hands out
// (the requested size plus an 8-byte header, rounded up to 16 bytes, at least 32), not as the
// requested size.

#include <cstdint>
#include <string>

namespace tailtrace::collector {

// Bytes of heap taken by one malloc (or operator new) of `n` bytes.
constexpr uint64_t MallocBytes(uint64_t n) {
  const uint64_t chunk = ((n + 8 + 15) / 16) * 16;
  return chunk < 32 ? 32 : chunk;
}

// Heap bytes owned by `s` beyond the std::string object itself: its buffer, by capacity, when
// it outgrew the inline (small-string) buffer; 0 otherwise.
uint64_t StringHeapBytes(const std::string& s);

// Heap bytes of one node of a node-based container (std::set, absl::node_hash_map) holding a
// value of `value_bytes`: the node allocation with its links (`link_bytes`, 32 for std::set's
// red-black tree nodes, 0 for absl::node_hash_map nodes) plus `slot_bytes` of the container's
// own table per element (0 for std::set; absl::node_hash_map keeps a pointer and a control
// byte per slot at a load factor of 7/16 to 7/8: about 16 bytes per element).
constexpr uint64_t NodeBytes(uint64_t value_bytes, uint64_t link_bytes, uint64_t slot_bytes) {
  return MallocBytes(link_bytes + value_bytes) + slot_bytes;
}

}  // namespace tailtrace::collector
