// SpanLimits: the scan lists the spans that may exceed them, ApplySpanLimits truncates those as
// the OpenTelemetry SDK would (dropped counts grow, strings cut at a UTF-8 boundary).

#include <string>

#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_wire.h"
#include "tests/proto/otlp_wire_test_util.h"

namespace tailtrace {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;
using wire_test::SimpleSpan;

SpanLimits SmallLimits() {
  SpanLimits limits;
  limits.max_attributes_per_span = 4;
  limits.max_attribute_value_length = 16;  // SimpleSpan has 13
  limits.max_events_per_span = 2;
  limits.max_links_per_span = 1;
  limits.max_attributes_per_event = 3;
  limits.max_attributes_per_link = 2;
  return limits;
}

void AddAttributes(google::protobuf::RepeatedPtrField<KeyValue>* attributes, int n) {
  for (int i = 0; i < n; ++i) {
    KeyValue* kv = attributes->Add();
    kv->set_key("k" + std::to_string(i));
    kv->mutable_value()->set_int_value(i);
  }
}

// Request with span 0 within SmallLimits and span 1 over every one of them.
ExportTraceServiceRequest Request() {
  ExportTraceServiceRequest request;
  auto* ss = request.add_resource_spans()->add_scope_spans();
  *ss->add_spans() = SimpleSpan(1, 1, 0);  // two short attributes
  Span* big = ss->add_spans();
  *big = SimpleSpan(1, 2, 1);
  big->set_dropped_attributes_count(1);
  AddAttributes(big->mutable_attributes(), 5);  // 2 + 5 = 7 attributes
  big->mutable_attributes(0)->mutable_value()->set_string_value(
      "abcdefghijklmno\xc3\xa9");  // é at 15..16
  auto* array = big->mutable_attributes(1)->mutable_value()->mutable_array_value();
  array->add_values()->set_string_value("0123456789abcdefXYZ");
  array->add_values()->set_int_value(7);
  for (int e = 0; e < 3; ++e) {
    Span::Event* event = big->add_events();
    event->set_name("e" + std::to_string(e));
    AddAttributes(event->mutable_attributes(), e == 0 ? 5 : 1);
  }
  for (int l = 0; l < 2; ++l) {
    Span::Link* link = big->add_links();
    link->set_trace_id(wire_test::TraceIdBytes(9));
    link->set_span_id(wire_test::SpanIdBytes(9));
    AddAttributes(link->mutable_attributes(), 3);
  }
  return request;
}

Span SpanAt(const WireRequest& request, size_t i) {
  Span span;
  EXPECT_TRUE(span.ParseFromArray(request.bytes.data() + request.spans[i].offset,
                                  static_cast<int>(request.spans[i].size)));
  return span;
}

TEST(SpanLimitsTest, ScanListsOnlyTheSpanOverTheLimits) {
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(Request().SerializeAsString(), SmallLimits(), &wire).ok());
  ASSERT_EQ(wire.spans.size(), 2u);
  EXPECT_EQ(wire.spans_over_limits, std::vector<uint32_t>{1});
  // Without limits nothing is listed.
  ASSERT_TRUE(ScanExportRequest(Request().SerializeAsString(), &wire).ok());
  EXPECT_TRUE(wire.spans_over_limits.empty());
  ASSERT_TRUE(ScanExportRequest(Request().SerializeAsString(), SpanLimits(), &wire).ok());
  EXPECT_TRUE(wire.spans_over_limits.empty());
}

TEST(SpanLimitsTest, ApplyTruncatesAndCountsAsTheSdk) {
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(Request().SerializeAsString(), SmallLimits(), &wire).ok());
  const WireSpan untouched = wire.spans[0];
  const SpanLimitsApplied applied = ApplySpanLimits(SmallLimits(), &wire);
  EXPECT_TRUE(wire.spans_over_limits.empty());
  EXPECT_EQ(applied.spans, 1);
  EXPECT_EQ(wire.spans[0].offset, untouched.offset);  // within the limits: bytes unchanged

  const Span span = SpanAt(wire, 1);
  EXPECT_EQ(span.span_id(), wire_test::SpanIdBytes(2));
  // The rewritten span's name moved: the WireSpan points at it there.
  EXPECT_NE(wire.spans[1].offset, untouched.offset);
  EXPECT_EQ(wire.spans[1].Name(wire.bytes), "op-2");
  EXPECT_EQ(wire.spans[1].start_ns, span.start_time_unix_nano());
  ASSERT_EQ(span.attributes_size(), 4);
  EXPECT_EQ(span.dropped_attributes_count(), 1u + 3u);
  EXPECT_EQ(span.attributes(0).value().string_value(), "abcdefghijklmno");  // é not split
  EXPECT_EQ(span.attributes(1).value().array_value().values(0).string_value(), "0123456789abcdef");
  EXPECT_EQ(span.attributes(1).value().array_value().values(1).int_value(), 7);
  ASSERT_EQ(span.events_size(), 2);
  EXPECT_EQ(span.dropped_events_count(), 1u);
  EXPECT_EQ(span.events(0).attributes_size(), 3);
  EXPECT_EQ(span.events(0).dropped_attributes_count(), 2u);
  EXPECT_EQ(span.events(1).attributes_size(), 1);
  EXPECT_EQ(span.events(1).dropped_attributes_count(), 0u);
  ASSERT_EQ(span.links_size(), 1);
  EXPECT_EQ(span.dropped_links_count(), 1u);
  EXPECT_EQ(span.links(0).attributes_size(), 2);
  EXPECT_EQ(span.links(0).dropped_attributes_count(), 1u);
  EXPECT_EQ(applied.dropped_attributes, 3 + 2 + 1);
  EXPECT_EQ(applied.dropped_events, 1);
  EXPECT_EQ(applied.dropped_links, 1);
  EXPECT_EQ(applied.truncated_values, 2);
}

// Attributes per event are counted per span by the scan: three events of 2 attributes (6 > 3)
// are listed, but nothing is over a limit, so the span keeps its bytes.
TEST(SpanLimitsTest, SpanListedByPerSpanCountsButWithinLimitsIsLeftAlone) {
  ExportTraceServiceRequest request;
  Span* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  *span = SimpleSpan(1, 1, 0);
  for (int e = 0; e < 2; ++e) AddAttributes(span->add_events()->mutable_attributes(), 2);
  WireRequest wire;
  ASSERT_TRUE(ScanExportRequest(request.SerializeAsString(), SmallLimits(), &wire).ok());
  EXPECT_EQ(wire.spans_over_limits.size(), 1u);
  const std::string before = wire.bytes;
  EXPECT_EQ(ApplySpanLimits(SmallLimits(), &wire).spans, 0);
  EXPECT_EQ(wire.bytes, before);
}

}  // namespace
}  // namespace tailtrace
