#pragma once

// Estimates of the heap memory a buffered OTLP message occupies: what the sampler's byte bounds
// (max_buffer_bytes, maximum_trace_size_bytes) count, so that they bound the process's real
// memory rather than the much smaller wire size (an attribute of ~30 wire bytes occupies ~200
// bytes as protobuf objects). Structural and cheap (no reflection); within about 25% of
// protobuf's own SpaceUsedLong() for typical spans (tested).

#include <cstdint>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace::collector {

uint64_t EstimateMemoryBytes(const opentelemetry::proto::trace::v1::Span& span);
uint64_t EstimateMemoryBytes(const opentelemetry::proto::resource::v1::Resource& resource);
uint64_t EstimateMemoryBytes(const opentelemetry::proto::common::v1::InstrumentationScope& scope);

}  // namespace tailtrace::collector
