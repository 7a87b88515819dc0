#pragma once

// Private to query/: POST /api/transform (the Jaeger UI's upload of OTLP/JSON files) reads an
// OTLP/JSON body into traces, which the Jaeger renderer then writes as it writes stored traces.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/trace_store.h"

namespace tailtrace::query::internal {

// The traces of an OTLP/JSON ExportTraceServiceRequest (or TracesData: the same shape): one per
// trace ID, in order of first appearance, each holding its spans under copies of their resource
// and scope. InvalidArgument naming the field when the body is not OTLP/JSON or a span has no
// trace ID.
absl::StatusOr<std::vector<storage::StoredTrace>> TracesOfOtlpJson(std::string_view body);

}  // namespace tailtrace::query::internal
