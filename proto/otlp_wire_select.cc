// SelectSpans: a request made of some of another's spans (proto/otlp_wire.h).

#include <cstdint>
#include <span>
#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "otlp_wire_primitives.h"
#include "proto/otlp_wire.h"

namespace tailtrace {
namespace {

using ::google::protobuf::io::CodedOutputStream;
using wire_internal::AppendVarint;

// Tags of the length-delimited fields 1 and 2: ExportTraceServiceRequest.resource_spans,
// ResourceSpans.scope_spans and ScopeSpans.spans.
constexpr char kField1 = (1 << 3) | 2;
constexpr char kField2 = (2 << 3) | 2;

uint64_t EntryBytes(uint64_t payload) {
  return 1 + CodedOutputStream::VarintSize64(payload) + payload;
}

// Appends to `out` one ResourceSpans (with one ScopeSpans) holding the spans `run` of `request`,
// all of one group, and records them in out's ranges.
void AppendRun(const WireRequest& request, std::span<const uint32_t> run, WireRequest* out) {
  const WireSpan& first = request.spans[run.front()];
  const WireGroup& group = request.groups[first.group];
  const std::string& resource = request.resources[group.resource];
  uint64_t spans_bytes = 0;
  for (uint32_t i : run) spans_bytes += EntryBytes(request.spans[i].size);
  const uint64_t scope_len = group.scope.size() + spans_bytes;
  const uint64_t resource_len = resource.size() + EntryBytes(scope_len);

  out->resources.push_back(resource);
  out->groups.push_back(WireGroup{static_cast<uint32_t>(out->resources.size() - 1), group.scope});
  const auto group_index = static_cast<uint32_t>(out->groups.size() - 1);
  std::string& bytes = out->bytes;
  bytes.push_back(kField1);
  AppendVarint(resource_len, &bytes);
  bytes.append(resource);
  bytes.push_back(kField2);
  AppendVarint(scope_len, &bytes);
  bytes.append(group.scope);
  for (uint32_t i : run) {
    WireSpan span = request.spans[i];
    bytes.push_back(kField2);
    AppendVarint(span.size, &bytes);
    const auto offset = static_cast<uint32_t>(bytes.size());
    bytes.append(request.bytes, span.offset, span.size);
    span.offset = offset;
    span.group = group_index;
    out->spans.push_back(span);
  }
}

}  // namespace

WireRequest SelectSpans(const WireRequest& request, std::span<const uint32_t> indices) {
  WireRequest out;
  uint64_t size = 0;
  for (uint32_t i : indices) size += EntryBytes(request.spans[i].size);
  out.bytes.reserve(size + 64);
  out.spans.reserve(indices.size());
  size_t begin = 0;
  for (size_t i = 1; i <= indices.size(); ++i) {
    if (i == indices.size() ||
        request.spans[indices[i]].group != request.spans[indices[begin]].group) {
      if (i > begin) AppendRun(request, indices.subspan(begin, i - begin), &out);
      begin = i;
    }
  }
  out.scanned_size = out.bytes.size();
  return out;
}

}  // namespace tailtrace
