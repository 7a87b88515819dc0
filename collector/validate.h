#pragma once

#include <cstdint>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tailtrace::collector {

struct ValidationResult {
  int64_t accepted_spans = 0;
  int64_t rejected_spans = 0;
  // Empty when nothing was rejected; otherwise names the first problems found.
  std::string error_message;
};

// Removes from `request` every span whose trace ID is not 16 non-zero bytes or whose span ID is
// not 8 non-zero bytes (or whose parent span ID is neither empty nor 8 bytes), and drops scope
// and resource groups left empty. Counts what was kept and what was removed.
ValidationResult ValidateAndStrip(
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* request);

}  // namespace tailtrace::collector
