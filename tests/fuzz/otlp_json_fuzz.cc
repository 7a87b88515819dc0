// Fuzz harness: OTLP/JSON decoding (proto/otlp_json.h ParseExportRequest, json::Document), which
// the HTTP receiver runs on application/json bodies. Invariants: an error message is valid UTF-8;
// an accepted request serializes to protobuf and back, and its JSON rendering parses again to
// the same request.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.h"
#include "proto/otlp_json.h"
#include "tests/fuzz/fuzz_check.h"

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  ExportTraceServiceRequest req;
  const absl::Status st = tailtrace::otlp_json::ParseExportRequest(json, &req);
  if (!st.ok()) {
    const std::string_view msg(st.message().data(), st.message().size());
    FUZZ_CHECK(tailtrace::FindInvalidUtf8(msg) == std::string_view::npos);
    return 0;
  }
  std::string wire;
  FUZZ_CHECK(req.SerializeToString(&wire));
  ExportTraceServiceRequest back;
  FUZZ_CHECK(back.ParseFromString(wire));
  ExportTraceServiceRequest again;
  FUZZ_CHECK(tailtrace::otlp_json::ParseExportRequest(
                 tailtrace::otlp_json::ExportRequestToJson(req), &again)
                 .ok());
  std::string wire_again;
  FUZZ_CHECK(again.SerializeToString(&wire_again));
  FUZZ_CHECK(again.ByteSizeLong() == req.ByteSizeLong());
  return 0;
}
