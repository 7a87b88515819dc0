#include "proto/otlp_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/proto/otlp_json_test_util.h"

namespace tailtrace::otlp_json {
namespace {

using namespace test_util;  // NOLINT(build/namespaces)

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
