// Fuzz harness: the OTLP/protobuf wire scanner (proto/otlp_wire.h ScanExportRequest), which both
// receivers run on every request. Invariant: whatever it accepts, protobuf parses, with the
// same number of spans (valid + rejected). And SelectSpans (what a cluster member forwards to a
// peer, which scans it again): a selection of the accepted spans scans back to exactly them.
// And the span-metrics fields read from the wire (proto/otlp_wire_fields.h), and those the scan
// keeps in each WireSpan, equal what protobuf parses from each accepted span and its resource.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_wire.h"
#include "proto/otlp_wire_fields.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;

std::string_view ParsedServiceName(const ResourceSpans& rs) {
  for (const auto& kv : rs.resource().attributes()) {
    if (kv.key() == "service.name" && kv.value().has_string_value()) {
      return kv.value().string_value();
    }
  }
  return tailtrace::kUnknownServiceName;
}

uint64_t IdBits(std::string_view id) {
  uint64_t bits = 0;
  if (id.size() == 8) std::memcpy(&bits, id.data(), 8);
  return bits;
}

void CheckWireFields(const tailtrace::WireRequest& scanned) {
  for (const tailtrace::WireSpan& ws : scanned.spans) {
    const std::string_view bytes = std::string_view(scanned.bytes).substr(ws.offset, ws.size);
    tailtrace::WireSpanFields fields;
    FUZZ_CHECK(tailtrace::ReadWireSpanFields(bytes, &fields));
    Span span;
    FUZZ_CHECK(span.ParseFromString(std::string(bytes)));
    FUZZ_CHECK(fields.span_id == span.span_id());
    FUZZ_CHECK(fields.parent_span_id == span.parent_span_id());
    FUZZ_CHECK(fields.name == span.name());
    FUZZ_CHECK(fields.kind == static_cast<int>(span.kind()));
    FUZZ_CHECK(fields.status_code == static_cast<int>(span.status().code()));
    FUZZ_CHECK(fields.start_ns == span.start_time_unix_nano());
    FUZZ_CHECK(fields.end_ns == span.end_time_unix_nano());
    // What the scan kept of the same fields.
    FUZZ_CHECK(ws.Name(scanned.bytes) == span.name());
    FUZZ_CHECK(ws.kind == fields.kind && ws.status_code == fields.status_code);
    FUZZ_CHECK(ws.start_ns == fields.start_ns && ws.end_ns == fields.end_ns);
    FUZZ_CHECK(ws.span_id == IdBits(fields.span_id) && ws.span_id != 0);
    FUZZ_CHECK(ws.parent_span_id == IdBits(fields.parent_span_id));
  }
  for (const std::string& resource : scanned.resources) {
    ResourceSpans rs;
    FUZZ_CHECK(rs.ParseFromString(resource));
    FUZZ_CHECK(tailtrace::WireServiceName(resource) == ParsedServiceName(rs));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  tailtrace::WireRequest scanned;
  if (!tailtrace::ScanExportRequest(bytes, &scanned).ok()) return 0;
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest parsed;
  FUZZ_CHECK(parsed.ParseFromString(bytes));
  int64_t spans = 0;
  for (const auto& rs : parsed.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) spans += ss.spans_size();
  }
  FUZZ_CHECK(spans == static_cast<int64_t>(scanned.spans.size()) + scanned.rejected_spans);
  CheckWireFields(scanned);

  // Every other span, starting at the first or the second by the input's first byte.
  std::vector<uint32_t> selection;
  for (uint32_t i = size > 0 ? data[0] % 2 : 0; i < scanned.spans.size(); i += 2) {
    selection.push_back(i);
  }
  const tailtrace::WireRequest selected = tailtrace::SelectSpans(scanned, selection);
  tailtrace::WireRequest rescanned;
  FUZZ_CHECK(tailtrace::ScanExportRequest(selected.bytes, &rescanned).ok());
  FUZZ_CHECK(rescanned.rejected_spans == 0);
  FUZZ_CHECK(rescanned.spans.size() == selection.size());
  for (size_t k = 0; k < selection.size(); ++k) {
    const tailtrace::WireSpan& a = scanned.spans[selection[k]];
    const tailtrace::WireSpan& b = rescanned.spans[k];
    FUZZ_CHECK(a.trace_id == b.trace_id);
    FUZZ_CHECK(scanned.bytes.compare(a.offset, a.size, rescanned.bytes, b.offset, b.size) == 0);
  }
  return 0;
}
