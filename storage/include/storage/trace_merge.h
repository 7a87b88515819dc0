#pragma once

// Putting copies of one trace's spans together: the archive merges a trace into its archived copy
// (trace_store.h, "Archive semantics") and a cluster merges the members' parts of a trace
// (cluster/query_merge_internal.h) by the same rule. A span is identified by its span ID under
// its resource and scope, compared by their serialized bytes: the same span ID under the same
// resource and scope is the same span stored twice.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

// The union of the spans of `*base` and of every part added to it. Not thread-safe.
class SpanUnion {
 public:
  // Starts from the spans of `*base`, to which the parts' new spans are added. Not owned; must
  // outlive this object and not be changed but through it.
  explicit SpanUnion(opentelemetry::proto::trace::v1::TracesData* base);

  // Moves the spans of `part` that the union does not hold yet into the base, grouped by
  // resource and scope as in `part` (its resource and scope entries without a new span are left
  // out). Returns how many spans were added.
  uint64_t Add(opentelemetry::proto::trace::v1::TracesData part);

 private:
  // The number of the (resource, scope) of `rs` and `ss`, numbering a new one.
  uint32_t ResourceScopeOf(const opentelemetry::proto::trace::v1::ResourceSpans& rs,
                           const opentelemetry::proto::trace::v1::ScopeSpans& ss);

  opentelemetry::proto::trace::v1::TracesData* const base_;
  // Length of the serialized resource, ':', the serialized resource and scope -> its number.
  absl::flat_hash_map<std::string, uint32_t> resource_scopes_;
  // (resource and scope number, span ID) of every span in the union.
  absl::flat_hash_set<std::pair<uint32_t, std::string>> spans_;
};

// OK, or InvalidArgument naming the trace when ArchiveTrace refuses it (it is truncated).
[[nodiscard]] absl::Status ValidateArchiveTrace(const StoredTrace& trace);

// Merges `trace` into the archived copy `*archived` (nullopt: none yet) by ArchiveTrace's rule
// (trace_store.h, "Archive semantics"). Returns whether the copy changed (false: nothing to
// store). `trace` must not be truncated and must hold a span (the caller checks).
bool MergeIntoArchive(const StoredTrace& trace, std::optional<StoredTrace>* archived);

}  // namespace tailtrace::storage
