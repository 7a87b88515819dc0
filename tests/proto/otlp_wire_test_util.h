#pragma once

// Helpers for the wire-scanner tests: hand-built wire bytes, a realistic request built with the
// protobuf classes, and a check that ScanExportRequest agrees with protobuf's parser.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_wire.h"

namespace tailtrace::wire_test {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::Span;

// Wire encoding by hand.
std::string Varint(uint64_t v);
std::string Tag(uint32_t field, uint32_t wire_type);
std::string Len(uint32_t field, std::string_view payload);
std::string Fixed64(uint32_t field, uint64_t v);

// 16 trace-ID bytes derived from `n` (never all zero), 8 span-ID bytes likewise.
std::string TraceIdBytes(uint64_t n);
std::string SpanIdBytes(uint64_t n);

// Several resources and scopes; spans of interleaved traces with attributes (nested arrays and
// key-value lists), events, links and status. Every span has valid IDs.
ExportTraceServiceRequest RealisticRequest();

// A span with valid IDs, a name and two attributes.
Span SimpleSpan(uint64_t trace, uint64_t id, uint64_t parent);

// What collector validation says about a parsed span: "" when its IDs are valid.
std::string SpanProblem(const Span& span);

// Applies one to three random edits to `*bytes`: a byte set, a bit flipped, random bytes
// inserted, bytes erased, the end cut, or a piece of the bytes copied elsewhere.
void MutateBytes(std::mt19937_64& rng, std::string* bytes);

// Scans `bytes` and parses them with protobuf; succeeds when both accept or both refuse, and
// when both accept, the scanned spans, groups, resources, rejection count and message are what
// the parsed request gives. `*scanned_ok` (optional) tells whether the scan succeeded.
::testing::AssertionResult ScanAgreesWithProtobuf(const std::string& bytes,
                                                  bool* scanned_ok = nullptr);

}  // namespace tailtrace::wire_test
