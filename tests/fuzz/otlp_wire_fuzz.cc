// Fuzz harness: the OTLP/protobuf wire scanner (proto/otlp_wire.h ScanExportRequest), which both
// receivers run on every request. Invariant: whatever it accepts, protobuf parses, with the
// same number of spans (valid + rejected). And SelectSpans (what a cluster member forwards to a
// peer, which scans it again): a selection of the accepted spans scans back to exactly them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_wire.h"
#include "tests/fuzz/fuzz_check.h"

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
