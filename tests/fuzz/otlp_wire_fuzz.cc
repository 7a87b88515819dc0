// Fuzz harness: the OTLP/protobuf wire scanner (proto/otlp_wire.h ScanExportRequest), which both
// receivers run on every request. Invariant: whatever it accepts, protobuf parses, with the
// same number of spans (valid + rejected).

#include <cstddef>
#include <cstdint>
#include <string>

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
  return 0;
}
