#pragma once

// Private to storage/clickhouse/: the write IDs of trace writes whose INSERT failed, so that the
// same writes made again (the pipeline keeps a failed write's traces and writes them again on its
// next tick) carry the same IDs. An INSERT can fail only as far as tailtraced can tell, e.g. time
// out after ClickHouse stored it; its rows and those of the write made again then share their
// write ID and ordinals, and reads take each such row once (TraceAssembler, LIMIT 1 BY).
//
// A write is known by its trace ID and a fingerprint of its spans and sampling decision. Only
// writes that failed are remembered, until written again successfully, so writing the same spans
// again after a success stores them again, as in every store.

#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"
#include "storage/trace_store.h"

namespace tailtrace::storage::clickhouse {

// Thread-safe.
class RetriedWrites {
 public:
  // At most this many failed writes are remembered (beyond it the oldest failures are forgotten:
  // their copies, if any, would be read twice).
  explicit RetriedWrites(size_t max_writes) : max_writes_(max_writes) {}

  struct Key {
    TraceId trace_id;
    uint64_t fingerprint = 0;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.trace_id, k.fingerprint);
    }
  };

  // The key of a write whose spans are `data`.
  static Key KeyOf(const TraceWrite& write,
                   const opentelemetry::proto::trace::v1::TracesData& data);

  // Whether any failed write is remembered (else IdOf finds nothing: callers need no keys).
  bool any() const;
  // The ID of the remembered failed write with `key`, or 0.
  uint64_t IdOf(const Key& key) const;
  // The writes (keys[i] with ids[i]) of a failed INSERT.
  void Failed(std::span<const Key> keys, std::span<const uint64_t> ids);
  // The writes of a successful INSERT: forgotten.
  void Succeeded(std::span<const Key> keys);

 private:
  const size_t max_writes_;
  mutable std::mutex mu_;
  absl::flat_hash_map<Key, uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<Key> order_ ABSL_GUARDED_BY(mu_);  // insertion order, for forgetting the oldest
};

}  // namespace tailtrace::storage::clickhouse
