// Fuzz harness: span column blocks (proto/span_columns.h). Invariants: decoding any bytes as a
// block never crashes (nor allocates past its bound); and whatever protobuf parses as a TracesData
// encodes, counts as many spans, and decodes to the same spans with the same resources and
// scopes, in order (also a range of them).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/span_columns.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/proto/span_columns_test_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto all = [](std::string_view) { return true; };
  std::string decoded;
  uint64_t count = 0;
  (void)tailtrace::DecodeSpanColumns(bytes, all, &decoded);
  (void)tailtrace::CountSpanColumns(bytes, &count);
  // A range that skips the first span (read, not built) and stops before the last.
  (void)tailtrace::DecodeSpanColumnRange(bytes, 1, count > 2 ? count - 2 : 0, &decoded);

  opentelemetry::proto::trace::v1::TracesData parsed;
  if (!parsed.ParseFromArray(data, static_cast<int>(size))) return 0;
  std::string block;
  const std::string_view chunks[] = {bytes};
  FUZZ_CHECK(tailtrace::EncodeSpanColumns(chunks, &block));
  tailtrace::span_columns_test::Flat want, got;
  tailtrace::span_columns_test::Flatten(parsed, &want);
  FUZZ_CHECK(tailtrace::CountSpanColumns(block, &count) && count == want.size());
  FUZZ_CHECK(tailtrace::DecodeSpanColumns(block, all, &decoded));
  opentelemetry::proto::trace::v1::TracesData round_trip;
  FUZZ_CHECK(round_trip.ParseFromString(decoded));
  tailtrace::span_columns_test::Flatten(round_trip, &got);
  FUZZ_CHECK(got == want);
  // The range of all spans but the first decodes to the same spans but the first.
  if (count > 0) {
    FUZZ_CHECK(tailtrace::DecodeSpanColumnRange(block, 1, count - 1, &decoded));
    opentelemetry::proto::trace::v1::TracesData rest;
    FUZZ_CHECK(rest.ParseFromString(decoded));
    tailtrace::span_columns_test::Flat rest_spans;
    tailtrace::span_columns_test::Flatten(rest, &rest_spans);
    FUZZ_CHECK(rest_spans.size() == want.size() - 1 &&
               std::equal(rest_spans.begin(), rest_spans.end(), want.begin() + 1));
  }
  return 0;
}
