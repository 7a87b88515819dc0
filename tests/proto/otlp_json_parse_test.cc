#include "proto/otlp_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tailtrace/storage/v1/records.pb.h"
#include "tests/proto/otlp_json_test_util.h"

namespace tailtrace::otlp_json {
namespace {

using namespace test_util;  // NOLINT(build/namespaces)

using ::testing::HasSubstr;
using ::testing::StartsWith;

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

}  // namespace
}  // namespace tailtrace::otlp_json
