#include "proto/otlp_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/otlp_ids.h"
#include "rapidjson/document.h"
#include "tailtrace/storage/v1/records.pb.h"

namespace tailtrace::otlp_json {
namespace {

namespace collv1 = opentelemetry::proto::collector::trace::v1;
namespace commonv1 = opentelemetry::proto::common::v1;
namespace tracev1 = opentelemetry::proto::trace::v1;

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Bytes(std::string_view hex) { return *HexDecode(hex, hex.size() / 2); }

collv1::ExportTraceServiceRequest MustParse(std::string_view json) {
  collv1::ExportTraceServiceRequest req;
  const absl::Status st = ParseExportRequest(json, &req);
  EXPECT_TRUE(st.ok()) << st;
  return req;
}

absl::Status ParseError(std::string_view json) {
  collv1::ExportTraceServiceRequest req;
  return ParseExportRequest(json, &req);
}

// Wraps a span body in a one-span request.
std::string OneSpan(std::string_view span_fields) {
  return std::string(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)") + std::string(span_fields) +
         "}]}]}]}";
}

// Wraps an AnyValue body as the value of the only attribute of a one-span request.
std::string OneValue(std::string_view any_value) {
  return OneSpan(std::string(R"("attributes":[{"key":"k","value":)") + std::string(any_value) +
                 "}]");
}

const tracev1::Span& FirstSpan(const collv1::ExportTraceServiceRequest& req) {
  return req.resource_spans(0).scope_spans(0).spans(0);
}

const commonv1::AnyValue& FirstValue(const collv1::ExportTraceServiceRequest& req) {
  return FirstSpan(req).attributes(0).value();
}

bool Equal(const google::protobuf::Message& a, const google::protobuf::Message& b,
           std::string* diff) {
  google::protobuf::util::DefaultFieldComparator cmp;
  cmp.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer d;
  d.set_field_comparator(&cmp);
  d.ReportDifferencesToString(diff);
  return d.Compare(a, b);
}

constexpr char kFullRequest[] = R"json({
  "resourceSpans": [{
    "resource": {
      "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}],
      "droppedAttributesCount": 1
    },
    "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
    "scopeSpans": [{
      "scope": {"name": "lib", "version": "1.2.3",
                "attributes": [{"key": "s", "value": {"boolValue": true}}],
                "droppedAttributesCount": 2},
      "schemaUrl": "scope-schema",
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "eee19b7ec3c1b173",
        "traceState": "k=v",
        "flags": 257,
        "name": "GET /cart",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "attributes": [
          {"key": "str", "value": {"stringValue": "hello \"world\" \u00e9"}},
          {"key": "bool", "value": {"boolValue": false}},
          {"key": "int_str", "value": {"intValue": "-9223372036854775808"}},
          {"key": "int_num", "value": {"intValue": 42}},
          {"key": "dbl", "value": {"doubleValue": 3.25}},
          {"key": "dbl_int", "value": {"doubleValue": 7}},
          {"key": "nan", "value": {"doubleValue": "NaN"}},
          {"key": "inf", "value": {"doubleValue": "Infinity"}},
          {"key": "ninf", "value": {"doubleValue": "-Infinity"}},
          {"key": "bytes", "value": {"bytesValue": "AAECAwT/"}},
          {"key": "arr", "value": {"arrayValue": {"values": [
            {"stringValue": "a"},
            {"intValue": "1"},
            {"arrayValue": {"values": [{"boolValue": true}]}}
          ]}}},
          {"key": "kv", "value": {"kvlistValue": {"values": [
            {"key": "inner", "value": {"kvlistValue": {"values": [
              {"key": "deep", "value": {"doubleValue": -0.5}}
            ]}}}
          ]}}},
          {"key": "empty"}
        ],
        "droppedAttributesCount": 3,
        "events": [{
          "timeUnixNano": "1544712660500000000",
          "name": "exception",
          "attributes": [{"key": "exception.type", "value": {"stringValue": "Timeout"}}],
          "droppedAttributesCount": 4
        }],
        "droppedEventsCount": 5,
        "links": [{
          "traceId": "0102030405060708090a0b0c0d0e0f10",
          "spanId": "1112131415161718",
          "traceState": "a=b",
          "attributes": [{"key": "l", "value": {"intValue": "7"}}],
          "droppedAttributesCount": 6,
          "flags": 1
        }],
        "droppedLinksCount": 7,
        "status": {"message": "deadline exceeded", "code": 2}
      }, {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "0000000000000001",
        "name": "internal",
        "kind": "SPAN_KIND_CLIENT",
        "status": {"code": "STATUS_CODE_OK"}
      }]
    }]
  }]
})json";

TEST(OtlpJsonParseTest, ParsesEveryField) {
  const auto req = MustParse(kFullRequest);
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  EXPECT_EQ(rs.schema_url(), "https://opentelemetry.io/schemas/1.21.0");
  ASSERT_EQ(rs.resource().attributes_size(), 1);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "checkout");
  EXPECT_EQ(rs.resource().dropped_attributes_count(), 1u);

  ASSERT_EQ(rs.scope_spans_size(), 1);
  const auto& ss = rs.scope_spans(0);
  EXPECT_EQ(ss.schema_url(), "scope-schema");
  EXPECT_EQ(ss.scope().name(), "lib");
  EXPECT_EQ(ss.scope().version(), "1.2.3");
  ASSERT_EQ(ss.scope().attributes_size(), 1);
  EXPECT_TRUE(ss.scope().attributes(0).value().bool_value());
  EXPECT_EQ(ss.scope().dropped_attributes_count(), 2u);

  ASSERT_EQ(ss.spans_size(), 2);
  const auto& span = ss.spans(0);
  EXPECT_EQ(span.trace_id(), Bytes("5b8efff798038103d269b633813fc60c"));
  EXPECT_EQ(span.span_id(), Bytes("eee19b7ec3c1b174"));
  EXPECT_EQ(span.parent_span_id(), Bytes("eee19b7ec3c1b173"));
  EXPECT_EQ(span.trace_state(), "k=v");
  EXPECT_EQ(span.flags(), 257u);
  EXPECT_EQ(span.name(), "GET /cart");
  EXPECT_EQ(span.kind(), tracev1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.start_time_unix_nano(), 1544712660000000000ULL);
  EXPECT_EQ(span.end_time_unix_nano(), 1544712661000000000ULL);
  EXPECT_EQ(span.dropped_attributes_count(), 3u);

  ASSERT_EQ(span.attributes_size(), 13);
  const auto attr = [&](int i) -> const commonv1::AnyValue& { return span.attributes(i).value(); };
  EXPECT_EQ(attr(0).string_value(), "hello \"world\" \xc3\xa9");
  ASSERT_EQ(attr(1).value_case(), commonv1::AnyValue::kBoolValue);
  EXPECT_FALSE(attr(1).bool_value());
  EXPECT_EQ(attr(2).int_value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(attr(3).int_value(), 42);
  EXPECT_EQ(attr(4).double_value(), 3.25);
  ASSERT_EQ(attr(5).value_case(), commonv1::AnyValue::kDoubleValue);
  EXPECT_EQ(attr(5).double_value(), 7.0);
  EXPECT_TRUE(std::isnan(attr(6).double_value()));
  EXPECT_EQ(attr(7).double_value(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(attr(8).double_value(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(attr(9).bytes_value(), std::string("\x00\x01\x02\x03\x04\xff", 6));
  const auto& arr = attr(10).array_value();
  ASSERT_EQ(arr.values_size(), 3);
  EXPECT_EQ(arr.values(0).string_value(), "a");
  EXPECT_EQ(arr.values(1).int_value(), 1);
  ASSERT_EQ(arr.values(2).array_value().values_size(), 1);
  EXPECT_TRUE(arr.values(2).array_value().values(0).bool_value());
  const auto& kv = attr(11).kvlist_value();
  ASSERT_EQ(kv.values_size(), 1);
  EXPECT_EQ(kv.values(0).key(), "inner");
  const auto& inner = kv.values(0).value().kvlist_value();
  ASSERT_EQ(inner.values_size(), 1);
  EXPECT_EQ(inner.values(0).key(), "deep");
  EXPECT_EQ(inner.values(0).value().double_value(), -0.5);
  EXPECT_EQ(span.attributes(12).key(), "empty");
  EXPECT_FALSE(span.attributes(12).has_value());

  ASSERT_EQ(span.events_size(), 1);
  EXPECT_EQ(span.events(0).time_unix_nano(), 1544712660500000000ULL);
  EXPECT_EQ(span.events(0).name(), "exception");
  EXPECT_EQ(span.events(0).attributes(0).value().string_value(), "Timeout");
  EXPECT_EQ(span.events(0).dropped_attributes_count(), 4u);
  EXPECT_EQ(span.dropped_events_count(), 5u);

  ASSERT_EQ(span.links_size(), 1);
  const auto& link = span.links(0);
  EXPECT_EQ(link.trace_id(), Bytes("0102030405060708090a0b0c0d0e0f10"));
  EXPECT_EQ(link.span_id(), Bytes("1112131415161718"));
  EXPECT_EQ(link.trace_state(), "a=b");
  EXPECT_EQ(link.attributes(0).value().int_value(), 7);
  EXPECT_EQ(link.dropped_attributes_count(), 6u);
  EXPECT_EQ(link.flags(), 1u);
  EXPECT_EQ(span.dropped_links_count(), 7u);

  EXPECT_EQ(span.status().message(), "deadline exceeded");
  EXPECT_EQ(span.status().code(), tracev1::Status::STATUS_CODE_ERROR);

  const auto& second = ss.spans(1);
  EXPECT_EQ(second.trace_id(), span.trace_id());
  EXPECT_EQ(second.span_id(), Bytes("0000000000000001"));
  EXPECT_EQ(second.kind(), tracev1::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(second.status().code(), tracev1::Status::STATUS_CODE_OK);
  EXPECT_TRUE(second.parent_span_id().empty());
}

TEST(OtlpJsonParseTest, AcceptsSnakeCaseNames) {
  const auto req = MustParse(R"({"resource_spans":[{
      "resource":{"attributes":[],"dropped_attributes_count":"9"},
      "schema_url":"r",
      "scope_spans":[{"schema_url":"s","scope":{"name":"n","dropped_attributes_count":1},
        "spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",
                  "parent_span_id":"0807060504030201","trace_state":"t",
                  "start_time_unix_nano":"5","end_time_unix_nano":"6",
                  "dropped_attributes_count":1,"dropped_events_count":2,"dropped_links_count":3,
                  "events":[{"time_unix_nano":"7","dropped_attributes_count":4}],
                  "links":[{"trace_id":"0102030405060708090a0b0c0d0e0f10",
                            "span_id":"0102030405060708","trace_state":"x",
                            "dropped_attributes_count":5}],
                  "attributes":[
                    {"key":"a","value":{"string_value":"s"}},
                    {"key":"b","value":{"bool_value":true}},
                    {"key":"c","value":{"int_value":"-3"}},
                    {"key":"d","value":{"double_value":1.5}},
                    {"key":"e","value":{"bytes_value":"AQ=="}},
                    {"key":"f","value":{"array_value":{"values":[{"int_value":1}]}}},
                    {"key":"g","value":{"kvlist_value":{"values":[{"key":"h","value":{}}]}}}
                  ]}]}]}]})");
  const auto& rs = req.resource_spans(0);
  EXPECT_EQ(rs.resource().dropped_attributes_count(), 9u);
  EXPECT_EQ(rs.schema_url(), "r");
  EXPECT_EQ(rs.scope_spans(0).schema_url(), "s");
  EXPECT_EQ(rs.scope_spans(0).scope().dropped_attributes_count(), 1u);
  const auto& span = FirstSpan(req);
  EXPECT_EQ(span.trace_id(), Bytes("0102030405060708090a0b0c0d0e0f10"));
  EXPECT_EQ(span.span_id(), Bytes("0102030405060708"));
  EXPECT_EQ(span.parent_span_id(), Bytes("0807060504030201"));
  EXPECT_EQ(span.trace_state(), "t");
  EXPECT_EQ(span.start_time_unix_nano(), 5u);
  EXPECT_EQ(span.end_time_unix_nano(), 6u);
  EXPECT_EQ(span.dropped_attributes_count(), 1u);
  EXPECT_EQ(span.dropped_events_count(), 2u);
  EXPECT_EQ(span.dropped_links_count(), 3u);
  EXPECT_EQ(span.events(0).time_unix_nano(), 7u);
  EXPECT_EQ(span.events(0).dropped_attributes_count(), 4u);
  EXPECT_EQ(span.links(0).trace_state(), "x");
  EXPECT_EQ(span.links(0).dropped_attributes_count(), 5u);
  ASSERT_EQ(span.attributes_size(), 7);
  EXPECT_EQ(span.attributes(0).value().string_value(), "s");
  EXPECT_TRUE(span.attributes(1).value().bool_value());
  EXPECT_EQ(span.attributes(2).value().int_value(), -3);
  EXPECT_EQ(span.attributes(3).value().double_value(), 1.5);
  EXPECT_EQ(span.attributes(4).value().bytes_value(), "\x01");
  EXPECT_EQ(span.attributes(5).value().array_value().values(0).int_value(), 1);
  EXPECT_EQ(span.attributes(6).value().kvlist_value().values(0).key(), "h");
}

TEST(OtlpJsonParseTest, IgnoresUnknownFieldsAtEveryLevel) {
  const auto req = MustParse(R"({"extra":{"x":[1,2,{"y":null}]},"resourceSpans":[{
      "unknownRs":1,"resource":{"foo":"bar","attributes":[{"key":"k","bogus":[],
        "value":{"stringValue":"v","note":"ignored"}}]},
      "scopeSpans":[{"zzz":true,"scope":{"name":"n","qq":{}},
        "spans":[{"spanId":"0102030405060708","mystery":{"deep":[[[]]]},"name":"s",
          "events":[{"name":"e","unknown":0}],"links":[{"what":"ever"}],
          "status":{"code":1,"extra":"x"}}]}]}]})");
  const auto& span = FirstSpan(req);
  EXPECT_EQ(span.name(), "s");
  EXPECT_EQ(span.events(0).name(), "e");
  EXPECT_EQ(span.links_size(), 1);
  EXPECT_EQ(span.status().code(), tracev1::Status::STATUS_CODE_OK);
  EXPECT_EQ(req.resource_spans(0).resource().attributes(0).value().string_value(), "v");
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).scope().name(), "n");
}

TEST(OtlpJsonParseTest, NullMeansDefault) {
  const auto req = MustParse(R"({"resourceSpans":[{"resource":null,"schemaUrl":null,
      "scopeSpans":[{"scope":null,"spans":[{"traceId":null,"name":null,"kind":null,
        "startTimeUnixNano":null,"attributes":null,"status":null,"flags":null,
        "events":[{"name":null}]}]}]}]})");
  const auto& rs = req.resource_spans(0);
  EXPECT_FALSE(rs.has_resource());
  EXPECT_FALSE(rs.scope_spans(0).has_scope());
  const auto& span = FirstSpan(req);
  EXPECT_TRUE(span.trace_id().empty());
  EXPECT_TRUE(span.name().empty());
  EXPECT_EQ(span.kind(), tracev1::Span::SPAN_KIND_UNSPECIFIED);
  EXPECT_FALSE(span.has_status());
  EXPECT_EQ(span.events_size(), 1);
  EXPECT_TRUE(MustParse(R"({"resourceSpans":null})").resource_spans().empty());
  EXPECT_TRUE(MustParse("{}").resource_spans().empty());
}

TEST(OtlpJsonParseTest, EnumsByNumberAndName) {
  const std::pair<std::string, tracev1::Span::SpanKind> kinds[] = {
      {"0", tracev1::Span::SPAN_KIND_UNSPECIFIED},
      {"1", tracev1::Span::SPAN_KIND_INTERNAL},
      {"5", tracev1::Span::SPAN_KIND_CONSUMER},
      {"\"SPAN_KIND_INTERNAL\"", tracev1::Span::SPAN_KIND_INTERNAL},
      {"\"SPAN_KIND_SERVER\"", tracev1::Span::SPAN_KIND_SERVER},
      {"\"SPAN_KIND_PRODUCER\"", tracev1::Span::SPAN_KIND_PRODUCER},
      {"\"SPAN_KIND_CONSUMER\"", tracev1::Span::SPAN_KIND_CONSUMER},
  };
  for (const auto& [json, want] : kinds) {
    EXPECT_EQ(FirstSpan(MustParse(OneSpan("\"kind\":" + json))).kind(), want) << json;
  }
  EXPECT_EQ(
      FirstSpan(MustParse(OneSpan(R"("status":{"code":"STATUS_CODE_ERROR"})"))).status().code(),
      tracev1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(
      FirstSpan(MustParse(OneSpan(R"("status":{"code":"STATUS_CODE_UNSET"})"))).status().code(),
      tracev1::Status::STATUS_CODE_UNSET);

  absl::Status st = ParseError(OneSpan(R"("kind":"SERVER")"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("resourceSpans[0].scopeSpans[0].spans[0].kind"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("SERVER"));
  st = ParseError(OneSpan(R"("status":{"code":2.5})"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("spans[0].status.code: expected enum"));
  st = ParseError(OneSpan(R"("kind":true)"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("spans[0].kind: expected enum"));
}

TEST(OtlpJsonParseTest, IdsAreCaseInsensitiveHex) {
  const auto req = MustParse(OneSpan(R"("traceId":"ABCDEFabcdef0123456789ABCDEF0123",
      "spanId":"0123456789aBcDeF","parentSpanId":"")"));
  const auto& span = FirstSpan(req);
  EXPECT_EQ(span.trace_id(), Bytes("abcdefabcdef0123456789abcdef0123"));
  EXPECT_EQ(span.span_id(), Bytes("0123456789abcdef"));
  EXPECT_TRUE(span.parent_span_id().empty());
  // Validation of all-zero IDs happens elsewhere: the codec only decodes.
  EXPECT_EQ(FirstSpan(MustParse(OneSpan(R"("spanId":"0000000000000000")"))).span_id(),
            std::string(8, '\0'));
}

TEST(OtlpJsonParseTest, BadIdsNameThePath) {
  absl::Status st = ParseError(OneSpan(R"("traceId":"5b8efff798038103d269b633813fc6")"));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits, got 30");
  st = ParseError(OneSpan(R"("spanId":"eee19b7ec3c1b17g")"));
  EXPECT_EQ(st.message(),
            "resourceSpans[0].scopeSpans[0].spans[0].spanId: invalid hex digit 'g' at position 15");
  st = ParseError(OneSpan(R"("parentSpanId":"eee19b7ec3c1b1740")"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].parentSpanId: expected 16 hex digits, got 17"));
  // Base64 (what the generic protobuf mapping would use) is not hex.
  st = ParseError(OneSpan(R"("traceId":"W47/95gDgQPSabYzgT/GDA==")"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].traceId: expected 32 hex digits, got 24"));
  st = ParseError(OneSpan(R"("links":[{},{"spanId":"zz19b7ec3c1b1740"}])"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].links[1].spanId: invalid hex digit 'z'"));
  st = ParseError(OneSpan(R"("links":[{"traceId":"0102"}])"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].links[0].traceId: expected 32 hex digits, got 4"));
  st = ParseError(OneSpan(R"("traceId":12)"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].traceId: expected hex string, got number"));
}

TEST(OtlpJsonParseTest, IntegersAsStringsOrNumbers) {
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"intValue":"9223372036854775807"})"))).int_value(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"intValue":-9223372036854775808})"))).int_value(),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"intValue":1e3})"))).int_value(), 1000);
  const auto zero_req = MustParse(OneValue(R"({"intValue":"0"})"));
  const auto& zero = FirstValue(zero_req);
  EXPECT_EQ(zero.value_case(), commonv1::AnyValue::kIntValue);
  EXPECT_EQ(FirstSpan(MustParse(OneSpan(R"("startTimeUnixNano":"18446744073709551615")")))
                .start_time_unix_nano(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(FirstSpan(MustParse(OneSpan(R"("endTimeUnixNano":18446744073709551615)")))
                .end_time_unix_nano(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(FirstSpan(MustParse(OneSpan(R"("flags":"4294967295")"))).flags(), 4294967295u);
  EXPECT_EQ(FirstSpan(MustParse(OneSpan(R"("droppedEventsCount":"12")"))).dropped_events_count(),
            12u);
}

TEST(OtlpJsonParseTest, BadIntegersNameThePath) {
  const std::pair<std::string, std::string> cases[] = {
      {OneValue(R"({"intValue":"9223372036854775808"})"),
       "spans[0].attributes[0].value.intValue: integer out of range"},
      {OneValue(R"({"intValue":9223372036854775808})"),
       "spans[0].attributes[0].value.intValue: integer out of range"},
      {OneValue(R"({"intValue":"12abc"})"),
       "spans[0].attributes[0].value.intValue: expected an integer, got \"12abc\""},
      {OneValue(R"({"intValue":""})"), "value.intValue: expected an integer"},
      {OneValue(R"({"intValue":1.5})"), "value.intValue: expected an integer, got a fraction"},
      {OneValue(R"({"intValue":true})"),
       "value.intValue: expected integer (number or string), got boolean"},
      {OneSpan(R"("startTimeUnixNano":"-1")"), "spans[0].startTimeUnixNano: expected an integer"},
      {OneSpan(R"("startTimeUnixNano":-1)"), "spans[0].startTimeUnixNano: integer out of range"},
      {OneSpan(R"("endTimeUnixNano":1e20)"), "spans[0].endTimeUnixNano: integer out of range"},
      {OneSpan(R"("droppedAttributesCount":4294967296)"),
       "spans[0].droppedAttributesCount: integer out of range"},
      {OneSpan(R"("flags":"4294967296")"), "spans[0].flags: integer out of range"},
      {OneSpan(R"("events":[{"timeUnixNano":{}}])"),
       "spans[0].events[0].timeUnixNano: expected integer (number or string), got object"},
  };
  for (const auto& [json, want] : cases) {
    const absl::Status st = ParseError(json);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(st.message()), HasSubstr(want)) << json;
  }
}

TEST(OtlpJsonParseTest, Doubles) {
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"doubleValue":"2.5"})"))).double_value(), 2.5);
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"doubleValue":-1e300})"))).double_value(), -1e300);
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"doubleValue":0.1})"))).double_value(), 0.1);
  EXPECT_EQ(
      FirstValue(MustParse(OneValue(R"({"doubleValue":18446744073709551615})"))).double_value(),
      18446744073709551615.0);
  absl::Status st = ParseError(OneValue(R"({"doubleValue":"nan"})"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("attributes[0].value.doubleValue: expected a number"));
  st = ParseError(OneValue(R"({"doubleValue":"inf"})"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("attributes[0].value.doubleValue"));
  st = ParseError(OneValue(R"({"doubleValue":[1]})"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("value.doubleValue: expected number, got array"));
}

TEST(OtlpJsonParseTest, BytesAsBase64) {
  // Standard alphabet with padding.
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"bytesValue":"+/8="})"))).bytes_value(), "\xfb\xff");
  // URL-safe alphabet, padding optional.
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"bytesValue":"-_8"})"))).bytes_value(), "\xfb\xff");
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"bytesValue":"aGk"})"))).bytes_value(), "hi");
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"bytesValue":"aGk="})"))).bytes_value(), "hi");
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"bytesValue":"aA=="})"))).bytes_value(), "h");
  const auto empty_req = MustParse(OneValue(R"({"bytesValue":""})"));
  const auto& empty = FirstValue(empty_req);
  EXPECT_EQ(empty.value_case(), commonv1::AnyValue::kBytesValue);
  EXPECT_TRUE(empty.bytes_value().empty());
  for (const char* bad : {"a", "ab!c", "a=bc", "abcde", "ab=c", "====", "aGk==="}) {
    const absl::Status st = ParseError(OneValue(std::string(R"({"bytesValue":")") + bad + "\"}"));
    EXPECT_THAT(std::string(st.message()),
                HasSubstr("attributes[0].value.bytesValue: invalid base64"))
        << bad;
  }
}

TEST(OtlpJsonParseTest, AnyValueHoldsOneValue) {
  const auto empty_string_req = MustParse(OneValue(R"({"stringValue":""})"));
  const auto& empty_string = FirstValue(empty_string_req);
  EXPECT_EQ(empty_string.value_case(), commonv1::AnyValue::kStringValue);
  EXPECT_EQ(FirstValue(MustParse(OneValue("{}"))).value_case(), commonv1::AnyValue::VALUE_NOT_SET);
  // A null member does not count as a value.
  EXPECT_EQ(FirstValue(MustParse(OneValue(R"({"stringValue":null,"intValue":"5"})"))).int_value(),
            5);
  const absl::Status st = ParseError(OneValue(R"({"stringValue":"a","intValue":"5"})"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("attributes[0].value.intValue: AnyValue holds more than one value"));
}

TEST(OtlpJsonParseTest, WrongTypesNameThePath) {
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "(root): expected object, got array"},
      {R"("x")", "(root): expected object, got string"},
      {R"({"resourceSpans":{}})", "resourceSpans: expected array, got object"},
      {R"({"resourceSpans":[1]})", "resourceSpans[0]: expected object, got number"},
      {R"({"resourceSpans":[{"resource":[]}]})", "resourceSpans[0].resource: expected object"},
      {R"({"resourceSpans":[{"resource":{"attributes":{}}}]})",
       "resourceSpans[0].resource.attributes: expected array, got object"},
      {R"({"resourceSpans":[{"schemaUrl":1}]})", "resourceSpans[0].schemaUrl: expected string"},
      {R"({"resourceSpans":[{"scopeSpans":[{},{"spans":{}}]}]})",
       "resourceSpans[0].scopeSpans[1].spans: expected array, got object"},
      {R"({"resourceSpans":[{"scopeSpans":[{"scope":{"name":true}}]}]})",
       "resourceSpans[0].scopeSpans[0].scope.name: expected string, got boolean"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{"name":5}]}]}]})",
       "resourceSpans[0].scopeSpans[0].spans[2].name: expected string, got number"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[null]}]}]})",
       "resourceSpans[0].scopeSpans[0].spans[0]: expected object, got null"},
      {R"({"resource_spans":[{"scope_spans":[{"spans":[{"trace_state":1}]}]}]})",
       "resource_spans[0].scope_spans[0].spans[0].trace_state: expected string"},
      {OneSpan(R"("status":"ERROR")"), "spans[0].status: expected object, got string"},
      {OneSpan(R"("status":{"message":1})"), "spans[0].status.message: expected string"},
      {OneSpan(R"("events":[{"name":[]}])"), "spans[0].events[0].name: expected string"},
      {OneSpan(R"("events":[{"attributes":[{"key":1}]}])"),
       "spans[0].events[0].attributes[0].key: expected string, got number"},
      {OneSpan(R"("links":[{"traceState":{}}])"), "spans[0].links[0].traceState: expected string"},
      {OneSpan(R"("attributes":[{"key":"k","value":"v"}])"),
       "spans[0].attributes[0].value: expected object, got string"},
      {OneValue(R"({"stringValue":1})"), "attributes[0].value.stringValue: expected string"},
      {OneValue(R"({"boolValue":"true"})"),
       "attributes[0].value.boolValue: expected boolean, got string"},
      {OneValue(R"({"bytesValue":1})"), "attributes[0].value.bytesValue: expected base64 string"},
      {OneValue(R"({"arrayValue":[]})"), "attributes[0].value.arrayValue: expected object"},
      {OneValue(R"({"arrayValue":{"values":{}}})"),
       "attributes[0].value.arrayValue.values: expected array"},
      {OneValue(R"({"arrayValue":{"values":[{},{"intValue":"x"}]}})"),
       "attributes[0].value.arrayValue.values[1].intValue: expected an integer"},
      {OneValue(R"({"kvlistValue":{"values":[{"key":"a","value":)"
                R"({"kvlistValue":{"values":[{"key":2}]}}}]}})"),
       "attributes[0].value.kvlistValue.values[0].value.kvlistValue.values[0].key: expected "
       "string"},
  };
  for (const auto& [json, want] : cases) {
    const absl::Status st = ParseError(json);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(st.message()), HasSubstr(want)) << json;
  }
}

TEST(OtlpJsonParseTest, InvalidJson) {
  absl::Status st = ParseError(R"({"resourceSpans":[)");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), StartsWith("invalid JSON at byte offset 18: "));
  st = ParseError(R"({"resourceSpans" [])");
  EXPECT_THAT(std::string(st.message()), StartsWith("invalid JSON at byte offset 17: "));
  EXPECT_THAT(std::string(st.message()), HasSubstr("colon"));
  st = ParseError("");
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("invalid JSON at byte offset 0: The document is empty."));
  st = ParseError("{} {}");
  EXPECT_THAT(std::string(st.message()), HasSubstr("invalid JSON at byte offset 3"));
  st = ParseError(std::string("{\"a\":1}\0", 8));
  EXPECT_THAT(std::string(st.message()), HasSubstr("invalid JSON at byte offset 7: NUL"));
  // Invalid UTF-8 inside a string.
  st = ParseError(OneSpan("\"name\":\"bad \xff\xfe\""));
  EXPECT_THAT(std::string(st.message()), StartsWith("invalid JSON at byte offset"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("encoding"));
  // NaN is not JSON.
  st = ParseError(OneValue(R"({"doubleValue":NaN})"));
  EXPECT_THAT(std::string(st.message()), StartsWith("invalid JSON at byte offset"));
}

TEST(OtlpJsonParseTest, StringsAreValidUtf8) {
  // A surrogate pair escape decodes to one 4-byte character; Hangul (ED 9x xx) is fine.
  const auto req = MustParse(OneSpan(R"("name":"\ud83d\ude00 \ud7a3 \uD55C")"));
  EXPECT_EQ(FirstSpan(req).name(), "\xf0\x9f\x98\x80 \xed\x9e\xa3 \xed\x95\x9c");
  // A lone low surrogate would store bytes protobuf cannot parse back.
  absl::Status st = ParseError(OneSpan(R"("name":"a\udc00b")"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].name: invalid UTF-8: \\u escape of a lone surrogate"));
  st = ParseError(OneValue(R"({"stringValue":"\uDFFF"})"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("value.stringValue: invalid UTF-8"));
  st = ParseError(OneSpan(R"("attributes":[{"key":"\udc00"}])"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("attributes[0].key: invalid UTF-8"));
  // A lone high surrogate is rejected by the JSON parser itself.
  st = ParseError(OneSpan(R"("name":"\ud800x")"));
  EXPECT_THAT(std::string(st.message()), StartsWith("invalid JSON at byte offset"));
}

TEST(OtlpJsonParseTest, ErrorMessagesQuoteInputSafely) {
  // A non-ASCII byte in an ID is shown escaped, so the message stays valid UTF-8.
  absl::Status st = ParseError(OneSpan("\"spanId\":\"0123456789abcd\xc3\xa9\""));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("spans[0].spanId: invalid hex digit '\\xc3' at position 14"));
  // A long value is cut in the message, not in the middle of a UTF-8 character.
  const std::string long_value = std::string(63, 'a') + "\xc3\xa9" + std::string(10000, 'b');
  st = ParseError(OneValue(R"({"intValue":")" + long_value + R"("})"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("value.intValue: expected an integer, got \"" +
                                                   std::string(63, 'a') + "...\""));
  EXPECT_LT(st.message().size(), 200u);
}

TEST(OtlpJsonParseTest, DeeplyNestedInputDoesNotOverflowTheStack) {
  // Nesting in an ignored field: the parser is iterative.
  std::string json = R"({"unknown":)";
  json.append(200000, '[');
  json.append(200000, ']');
  json += "}";
  EXPECT_TRUE(ParseError(json).ok());
  // Unbalanced, deeply nested: an error, not a crash.
  EXPECT_THAT(std::string(ParseError(std::string(200000, '[')).message()),
              StartsWith("invalid JSON"));
}

std::string NestedKvlist(int levels) {
  std::string v = R"({"intValue":"1"})";
  for (int i = 0; i < levels; ++i) {
    v = R"({"kvlistValue":{"values":[{"key":"k","value":)" + v + "}]}}";
  }
  return v;
}

TEST(OtlpJsonParseTest, AnyValueNestingIsBounded) {
  // The deepest accepted value still survives the protobuf binary round trip through storage.
  const auto req = MustParse(OneValue(NestedKvlist(24)));
  tailtrace::storage::v1::SpanChunk chunk;
  *chunk.mutable_resource_spans() = req.resource_spans();
  tailtrace::storage::v1::SpanChunk back;
  ASSERT_TRUE(back.ParseFromString(chunk.SerializeAsString()));
  std::string diff;
  EXPECT_TRUE(Equal(chunk, back, &diff)) << diff;

  const absl::Status st = ParseError(OneValue(NestedKvlist(25)));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("nested deeper than 24"));
  std::string arrays = R"({"intValue":"1"})";
  for (int i = 0; i < 25; ++i) arrays = R"({"arrayValue":{"values":[)" + arrays + "]}}";
  EXPECT_THAT(std::string(ParseError(OneValue(arrays)).message()),
              HasSubstr("nested deeper than 24"));
}

TEST(OtlpJsonParseTest, ClearsTheOutputFirst) {
  auto req = MustParse(kFullRequest);
  ASSERT_TRUE(ParseExportRequest(R"({"resourceSpans":[{}]})", &req).ok());
  EXPECT_EQ(req.resource_spans_size(), 1);
  EXPECT_FALSE(req.resource_spans(0).has_resource());
}

// --- proto -> JSON ----------------------------------------------------------------------------

collv1::ExportTraceServiceRequest RichRequest() {
  collv1::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  auto* res_attr = rs->mutable_resource()->add_attributes();
  res_attr->set_key("service.name");
  res_attr->mutable_value()->set_string_value("checkout");
  rs->mutable_resource()->set_dropped_attributes_count(2);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("io.opentelemetry.lib");
  ss->mutable_scope()->set_version("1.0");
  ss->mutable_scope()->set_dropped_attributes_count(1);
  auto* sattr = ss->mutable_scope()->add_attributes();
  sattr->set_key("s");
  sattr->mutable_value()->set_bool_value(false);
  ss->set_schema_url("s");

  auto* span = ss->add_spans();
  span->set_trace_id(Bytes("5b8efff798038103d269b633813fc60c"));
  span->set_span_id(Bytes("eee19b7ec3c1b174"));
  span->set_parent_span_id(Bytes("eee19b7ec3c1b173"));
  span->set_trace_state("congo=t61rcWkgMzE");
  span->set_flags(0x301);
  span->set_name("GET /cart \"quoted\" \\ \n\t\x01 \xe2\x82\xac");
  span->set_kind(tracev1::Span::SPAN_KIND_CONSUMER);
  span->set_start_time_unix_nano(std::numeric_limits<uint64_t>::max());
  span->set_end_time_unix_nano(1);
  span->set_dropped_attributes_count(std::numeric_limits<uint32_t>::max());
  span->set_dropped_events_count(3);
  span->set_dropped_links_count(4);
  span->mutable_status()->set_code(tracev1::Status::STATUS_CODE_ERROR);
  span->mutable_status()->set_message("boom");

  auto add = [&](const std::string& key) {
    auto* kv = span->add_attributes();
    kv->set_key(key);
    return kv->mutable_value();
  };
  add("str")->set_string_value("value");
  add("empty_str")->set_string_value("");
  add("true")->set_bool_value(true);
  add("false")->set_bool_value(false);
  add("zero")->set_int_value(0);
  add("min")->set_int_value(std::numeric_limits<int64_t>::min());
  add("max")->set_int_value(std::numeric_limits<int64_t>::max());
  add("dbl")->set_double_value(0.1);
  add("dbl_zero")->set_double_value(0.0);
  add("dbl_neg_zero")->set_double_value(-0.0);
  add("dbl_max")->set_double_value(std::numeric_limits<double>::max());
  add("dbl_min")->set_double_value(std::numeric_limits<double>::denorm_min());
  add("dbl_int")->set_double_value(1e21);
  add("nan")->set_double_value(std::numeric_limits<double>::quiet_NaN());
  add("inf")->set_double_value(std::numeric_limits<double>::infinity());
  add("ninf")->set_double_value(-std::numeric_limits<double>::infinity());
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  add("bytes")->set_bytes_value(all_bytes);
  add("bytes1")->set_bytes_value("a");
  add("bytes2")->set_bytes_value("ab");
  add("empty_bytes")->set_bytes_value("");
  auto* arr = add("arr")->mutable_array_value();
  arr->add_values()->set_string_value("x");
  arr->add_values()->set_int_value(-1);
  arr->add_values()->mutable_array_value();  // empty nested array
  arr->add_values();                         // value not set
  auto* kvl = add("kv")->mutable_kvlist_value();
  auto* nested = kvl->add_values();
  nested->set_key("inner");
  nested->mutable_value()->mutable_kvlist_value()->add_values()->set_key("no value");
  add("empty_kv")->mutable_kvlist_value();
  span->add_attributes()->set_key("unset");
  span->add_attributes();  // empty key, no value

  auto* ev = span->add_events();
  ev->set_time_unix_nano(1544712660500000000ULL);
  ev->set_name("exception");
  ev->set_dropped_attributes_count(1);
  auto* ev_attr = ev->add_attributes();
  ev_attr->set_key("exception.message");
  ev_attr->mutable_value()->set_string_value("timeout");
  span->add_events();  // all defaults

  auto* link = span->add_links();
  link->set_trace_id(Bytes("0102030405060708090a0b0c0d0e0f10"));
  link->set_span_id(Bytes("1112131415161718"));
  link->set_trace_state("a=b");
  link->set_flags(1);
  link->set_dropped_attributes_count(2);
  auto* link_attr = link->add_attributes();
  link_attr->set_key("l");
  link_attr->mutable_value()->set_int_value(7);
  span->add_links();  // all defaults

  ss->add_spans();  // an empty span: only traceId and spanId are written
  auto* s2 = ss->add_spans();
  s2->set_trace_id(span->trace_id());
  s2->set_span_id(Bytes("0000000000000001"));
  s2->mutable_status();  // present but empty

  req.add_resource_spans();  // empty ResourceSpans
  return req;
}

TEST(OtlpJsonRoundTripTest, ProtoToJsonToProtoIsIdentity) {
  const auto req = RichRequest();
  const std::string json = ExportRequestToJson(req);
  collv1::ExportTraceServiceRequest back;
  const absl::Status st = ParseExportRequest(json, &back);
  ASSERT_TRUE(st.ok()) << st << "\n" << json;
  std::string diff;
  EXPECT_TRUE(Equal(req, back, &diff)) << diff << "\n" << json;
  // NaN compares equal above; check it really is NaN and the signs of the zero and infinities.
  const auto& attrs = FirstSpan(back).attributes();
  for (const auto& kv : attrs) {
    const double d = kv.value().double_value();
    if (kv.key() == "nan") {
      EXPECT_TRUE(std::isnan(d));
    } else if (kv.key() == "dbl_neg_zero") {
      EXPECT_TRUE(std::signbit(d));
    } else if (kv.key() == "ninf") {
      EXPECT_LT(d, 0);
    }
  }
  // Serializing again gives the same bytes (deterministic).
  EXPECT_EQ(ExportRequestToJson(back), json);
}

TEST(OtlpJsonRoundTripTest, JsonToProtoToJsonKeepsTheFullRequest) {
  const auto req = MustParse(kFullRequest);
  collv1::ExportTraceServiceRequest back;
  ASSERT_TRUE(ParseExportRequest(ExportRequestToJson(req), &back).ok());
  std::string diff;
  EXPECT_TRUE(Equal(req, back, &diff)) << diff;
}

TEST(OtlpJsonWriteTest, TracesDataMatchesRequestRendering) {
  const auto req = RichRequest();
  tracev1::TracesData data;
  *data.mutable_resource_spans() = req.resource_spans();
  EXPECT_EQ(TracesDataToJson(data), ExportRequestToJson(req));
  EXPECT_EQ(TracesDataToJson(tracev1::TracesData()), "{}");
}

TEST(OtlpJsonWriteTest, ExactRenderingOfASpan) {
  collv1::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("svc");
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(Bytes("5B8EFFF798038103D269B633813FC60C"));
  span->set_span_id(Bytes("EEE19B7EC3C1B174"));
  span->set_name("op");
  span->set_kind(tracev1::Span::SPAN_KIND_SERVER);
  span->set_start_time_unix_nano(1544712660000000000ULL);
  span->set_end_time_unix_nano(1544712661000000000ULL);
  auto* a = span->add_attributes();
  a->set_key("n");
  a->mutable_value()->set_int_value(42);
  auto* d = span->add_attributes();
  d->set_key("d");
  d->mutable_value()->set_double_value(1.5);
  span->mutable_status()->set_code(tracev1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(ExportRequestToJson(req),
            R"({"resourceSpans":[{"resource":{"attributes":[)"
            R"({"key":"service.name","value":{"stringValue":"svc"}}]},)"
            R"("scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
            R"("spanId":"eee19b7ec3c1b174","name":"op","kind":2,)"
            R"("startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",)"
            R"("attributes":[{"key":"n","value":{"intValue":"42"}},)"
            R"({"key":"d","value":{"doubleValue":1.5}}],"status":{"code":2}}]}]}]})");
}

TEST(OtlpJsonWriteTest, OutputShape) {
  const std::string json = ExportRequestToJson(RichRequest());
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << json;
  const auto& rs = doc["resourceSpans"][0];
  EXPECT_STREQ(rs["schemaUrl"].GetString(), "https://opentelemetry.io/schemas/1.21.0");
  EXPECT_EQ(rs["resource"]["droppedAttributesCount"].GetUint(), 2u);
  const auto& spans = rs["scopeSpans"][0]["spans"];
  const auto& span = spans[0];
  EXPECT_STREQ(span["traceId"].GetString(), "5b8efff798038103d269b633813fc60c");
  EXPECT_STREQ(span["spanId"].GetString(), "eee19b7ec3c1b174");
  EXPECT_STREQ(span["parentSpanId"].GetString(), "eee19b7ec3c1b173");
  ASSERT_TRUE(span["flags"].IsUint());
  EXPECT_EQ(span["flags"].GetUint(), 0x301u);
  ASSERT_TRUE(span["kind"].IsInt());
  EXPECT_EQ(span["kind"].GetInt(), 5);
  ASSERT_TRUE(span["startTimeUnixNano"].IsString());
  EXPECT_STREQ(span["startTimeUnixNano"].GetString(), "18446744073709551615");
  EXPECT_STREQ(span["endTimeUnixNano"].GetString(), "1");
  ASSERT_TRUE(span["droppedAttributesCount"].IsUint());
  EXPECT_EQ(span["droppedAttributesCount"].GetUint(), 4294967295u);
  ASSERT_TRUE(span["status"]["code"].IsInt());
  EXPECT_EQ(span["status"]["code"].GetInt(), 2);
  EXPECT_STREQ(span["events"][0]["timeUnixNano"].GetString(), "1544712660500000000");
  EXPECT_STREQ(span["links"][0]["traceId"].GetString(), "0102030405060708090a0b0c0d0e0f10");

  const auto& attrs = span["attributes"];
  auto find = [&](const char* key) -> const rapidjson::Value& {
    for (const auto& kv : attrs.GetArray()) {
      if (std::string_view(kv["key"].GetString()) == key) return kv;
    }
    ADD_FAILURE() << "no attribute " << key;
    return attrs[0];
  };
  ASSERT_TRUE(find("min")["value"]["intValue"].IsString());
  EXPECT_STREQ(find("min")["value"]["intValue"].GetString(), "-9223372036854775808");
  EXPECT_STREQ(find("zero")["value"]["intValue"].GetString(), "0");
  EXPECT_STREQ(find("empty_str")["value"]["stringValue"].GetString(), "");
  EXPECT_FALSE(find("false")["value"]["boolValue"].GetBool());
  ASSERT_TRUE(find("dbl")["value"]["doubleValue"].IsNumber());
  EXPECT_EQ(find("dbl")["value"]["doubleValue"].GetDouble(), 0.1);
  EXPECT_STREQ(find("nan")["value"]["doubleValue"].GetString(), "NaN");
  EXPECT_STREQ(find("inf")["value"]["doubleValue"].GetString(), "Infinity");
  EXPECT_STREQ(find("ninf")["value"]["doubleValue"].GetString(), "-Infinity");
  EXPECT_STREQ(find("bytes1")["value"]["bytesValue"].GetString(), "YQ==");
  EXPECT_STREQ(find("bytes2")["value"]["bytesValue"].GetString(), "YWI=");
  EXPECT_STREQ(find("empty_bytes")["value"]["bytesValue"].GetString(), "");
  EXPECT_TRUE(find("empty_kv")["value"]["kvlistValue"].ObjectEmpty());
  EXPECT_FALSE(find("unset").HasMember("value"));

  // Defaults are omitted, except trace and span IDs on a span.
  const auto& empty_span = spans[1];
  EXPECT_EQ(empty_span.MemberCount(), 2u);
  EXPECT_STREQ(empty_span["traceId"].GetString(), "");
  EXPECT_STREQ(empty_span["spanId"].GetString(), "");
  const auto& s2 = spans[2];
  EXPECT_FALSE(s2.HasMember("parentSpanId"));
  EXPECT_FALSE(s2.HasMember("name"));
  EXPECT_FALSE(s2.HasMember("kind"));
  EXPECT_FALSE(s2.HasMember("startTimeUnixNano"));
  EXPECT_FALSE(s2.HasMember("attributes"));
  EXPECT_TRUE(s2["status"].ObjectEmpty());
  EXPECT_TRUE(span["events"][1].ObjectEmpty());
  EXPECT_EQ(span["links"][1].MemberCount(), 2u);
  EXPECT_TRUE(doc["resourceSpans"][1].ObjectEmpty());
}

TEST(OtlpJsonWriteTest, ExportResponse) {
  collv1::ExportTraceServiceResponse resp;
  EXPECT_EQ(ExportResponseToJson(resp), "{}");
  resp.mutable_partial_success();
  EXPECT_EQ(ExportResponseToJson(resp), "{}");
  resp.mutable_partial_success()->set_rejected_spans(3);
  EXPECT_EQ(ExportResponseToJson(resp), R"({"partialSuccess":{"rejectedSpans":"3"}})");
  resp.mutable_partial_success()->set_error_message("3 spans had \"bad\" IDs");
  EXPECT_EQ(ExportResponseToJson(resp),
            R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"3 spans had \"bad\" IDs"}})");
  resp.mutable_partial_success()->set_rejected_spans(0);
  EXPECT_EQ(ExportResponseToJson(resp),
            R"({"partialSuccess":{"errorMessage":"3 spans had \"bad\" IDs"}})");
}

TEST(OtlpJsonWriteTest, RpcStatus) {
  google::rpc::Status status;
  status.set_code(3);
  status.set_message("resourceSpans[0].name: expected string\n");
  EXPECT_EQ(RpcStatusToJson(status),
            R"({"code":3,"message":"resourceSpans[0].name: expected string\n"})");
  status.add_details()->set_type_url("type.googleapis.com/google.rpc.RetryInfo");
  status.clear_message();
  status.set_code(14);
  EXPECT_EQ(RpcStatusToJson(status), R"({"code":14})");
}

}  // namespace
}  // namespace tailtrace::otlp_json
