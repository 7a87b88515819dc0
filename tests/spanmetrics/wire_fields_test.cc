// proto/otlp_wire_fields.h: the span fields span metrics read from the wire agree with protobuf,
// including where protobuf merges (concatenated messages) or a later value wins.

#include "proto/otlp_wire_fields.h"

#include <gtest/gtest.h>

#include <string>

#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace tailtrace {
namespace {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

TEST(WireFieldsTest, ReadsTheSpanFieldsSpanMetricsNeed) {
  Span span;
  span.set_trace_id(std::string(16, 'a'));
  span.set_span_id(std::string(8, 'b'));
  span.set_name("GET /cart");
  span.set_kind(Span::SPAN_KIND_CLIENT);
  span.set_start_time_unix_nano(1'700'000'000'000'000'000ull);
  span.set_end_time_unix_nano(1'700'000'000'250'000'000ull);
  span.mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  span.mutable_status()->set_message("boom");
  span.add_attributes()->set_key("http.method");
  const std::string bytes = span.SerializeAsString();  // f.name points into it
  WireSpanFields f;
  ASSERT_TRUE(ReadWireSpanFields(bytes, &f));
  EXPECT_EQ(f.span_id, std::string(8, 'b'));
  EXPECT_EQ(f.parent_span_id, "");
  EXPECT_EQ(f.name, "GET /cart");
  EXPECT_EQ(f.kind, 3);
  EXPECT_EQ(f.status_code, 2);
  EXPECT_EQ(f.start_ns, span.start_time_unix_nano());
  EXPECT_EQ(f.end_ns, span.end_time_unix_nano());
}

TEST(WireFieldsTest, LaterOccurrencesWinAsInProtobuf) {
  Span first;
  first.set_name("first");
  first.mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  first.set_parent_span_id("parent-1");
  Span second;
  second.set_name("second");
  second.set_parent_span_id("parent-2");
  second.mutable_status()->set_message("status merges: the code stays");
  const std::string bytes = first.SerializeAsString() + second.SerializeAsString();
  Span parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  WireSpanFields f;
  ASSERT_TRUE(ReadWireSpanFields(bytes, &f));
  EXPECT_EQ(f.name, parsed.name());
  EXPECT_EQ(f.parent_span_id, "parent-2");
  EXPECT_EQ(f.status_code, static_cast<int>(parsed.status().code()));
  EXPECT_EQ(f.status_code, 2);
}

// A tag's fifth byte may carry bits past 32, which protobuf drops (a fuzzer found this one).
TEST(WireFieldsTest, TagBitsPast32AreDroppedAsProtobufDoes) {
  const std::string bytes(
      "\xaa\x80\x80\x80\x70\x02"
      "ab",
      8);  // field 5 (name), length-delimited, in a 5-byte tag
  Span parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(parsed.name(), "ab");
  WireSpanFields f;
  ASSERT_TRUE(ReadWireSpanFields(bytes, &f));
  EXPECT_EQ(f.name, "ab");
}

TEST(WireFieldsTest, MalformedBytesAreRefused) {
  WireSpanFields f;
  EXPECT_FALSE(ReadWireSpanFields(std::string("\x2a\x05"
                                              "ab",
                                              4),
                                  &f));                                  // name longer than left
  EXPECT_FALSE(ReadWireSpanFields(std::string("\x39\x01\x02", 3), &f));  // fixed64 cut short
  EXPECT_TRUE(ReadWireSpanFields("", &f));
}

void AddAttribute(ResourceSpans* rs, const std::string& key, const std::string& value) {
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

TEST(WireFieldsTest, TheServiceNameIsTheFirstStringServiceNameAttribute) {
  ResourceSpans rs;
  auto* number = rs.mutable_resource()->add_attributes();
  number->set_key("service.name");
  number->mutable_value()->set_int_value(7);  // not a string: skipped, as the index does
  AddAttribute(&rs, "host.name", "h1");
  AddAttribute(&rs, "service.name", "checkout");
  AddAttribute(&rs, "service.name", "later");
  EXPECT_EQ(WireServiceName(rs.SerializeAsString()), "checkout");

  ResourceSpans none;
  AddAttribute(&none, "host.name", "h1");
  EXPECT_EQ(WireServiceName(none.SerializeAsString()), kUnknownServiceName);
  EXPECT_EQ(WireServiceName(""), kUnknownServiceName);
}

TEST(WireFieldsTest, ResourceOccurrencesMergeAndAValueOneofKeepsItsLastMember) {
  ResourceSpans a;
  AddAttribute(&a, "host.name", "h1");
  ResourceSpans b;
  AddAttribute(&b, "service.name", "from-the-second-occurrence");
  EXPECT_EQ(WireServiceName(a.SerializeAsString() + b.SerializeAsString()),
            "from-the-second-occurrence");

  // One KeyValue whose value came twice: a string, then an int (the int wins in protobuf).
  ResourceSpans rs;
  AddAttribute(&rs, "service.name", "replaced");
  ResourceSpans int_value;
  auto* kv = int_value.mutable_resource()->add_attributes();
  kv->mutable_value()->set_int_value(3);
  std::string merged_kv = rs.resource().attributes(0).SerializeAsString() +
                          kv->SerializeAsString();  // key from the first, value merged
  opentelemetry::proto::common::v1::KeyValue parsed;
  ASSERT_TRUE(parsed.ParseFromString(merged_kv));
  ASSERT_FALSE(parsed.value().has_string_value());
  ResourceSpans with_merged;
  *with_merged.mutable_resource()->add_attributes() = parsed;
  EXPECT_EQ(WireServiceName(with_merged.SerializeAsString()), kUnknownServiceName);
  // The same, as the wire has it (the KeyValue's bytes not re-serialized).
  std::string resource;
  resource.push_back(0x0a);  // Resource.attributes, field 1
  resource.push_back(static_cast<char>(merged_kv.size()));
  resource += merged_kv;
  std::string resource_spans;
  resource_spans.push_back(0x0a);  // ResourceSpans.resource, field 1
  resource_spans.push_back(static_cast<char>(resource.size()));
  resource_spans += resource;
  EXPECT_EQ(WireServiceName(resource_spans), kUnknownServiceName);
}

}  // namespace
}  // namespace tailtrace
