#pragma once

// Putting copies of one trace's spans together, e.g. a cluster's members' parts of a trace
// (cluster/query_merge_internal.h). A span is identified by its span ID under its resource and
// scope, compared by their serialized bytes: the same span ID under the same resource and scope is
// the same span stored twice.

#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

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

}  // namespace tailtrace::storage
