#pragma once

// Helpers and the sample request shared by the OTLP/JSON parse and write tests.

#include <string>
#include <string_view>

#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/otlp_ids.h"
#include "proto/otlp_json.h"

namespace tailtrace::otlp_json::test_util {

namespace collv1 = opentelemetry::proto::collector::trace::v1;
namespace commonv1 = opentelemetry::proto::common::v1;
namespace tracev1 = opentelemetry::proto::trace::v1;

inline std::string Bytes(std::string_view hex) { return *HexDecode(hex, hex.size() / 2); }

inline collv1::ExportTraceServiceRequest MustParse(std::string_view json) {
  collv1::ExportTraceServiceRequest req;
  const absl::Status st = ParseExportRequest(json, &req);
  EXPECT_TRUE(st.ok()) << st;
  return req;
}

inline absl::Status ParseError(std::string_view json) {
  collv1::ExportTraceServiceRequest req;
  return ParseExportRequest(json, &req);
}

// Wraps a span body in a one-span request.
inline std::string OneSpan(std::string_view span_fields) {
  return std::string(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)") + std::string(span_fields) +
         "}]}]}]}";
}

// Wraps an AnyValue body as the value of the only attribute of a one-span request.
inline std::string OneValue(std::string_view any_value) {
  return OneSpan(std::string(R"("attributes":[{"key":"k","value":)") + std::string(any_value) +
                 "}]");
}

inline const tracev1::Span& FirstSpan(const collv1::ExportTraceServiceRequest& req) {
  return req.resource_spans(0).scope_spans(0).spans(0);
}

inline const commonv1::AnyValue& FirstValue(const collv1::ExportTraceServiceRequest& req) {
  return FirstSpan(req).attributes(0).value();
}

inline bool Equal(const google::protobuf::Message& a, const google::protobuf::Message& b,
                  std::string* diff) {
  google::protobuf::util::DefaultFieldComparator cmp;
  cmp.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer d;
  d.set_field_comparator(&cmp);
  d.ReportDifferencesToString(diff);
  return d.Compare(a, b);
}

inline constexpr char kFullRequest[] = R"json({
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

}  // namespace tailtrace::otlp_json::test_util
