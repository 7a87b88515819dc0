#include "proto/wire_traces.h"

#include <bit>
#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tests/proto/wire_traces_test_util.h"

namespace tailtrace {
namespace {

using namespace wire_traces_test;  // NOLINT(build/namespaces)

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(WireTracesTest, RepeatedScalarFieldTakesItsLastValue) {
  const std::string span = Len(2, "id-one..") + Len(5, "first") + Tag(6, 0) + Varint(1) +
                           Fixed64(7, 10) + Len(3, "ts=1") + Len(2, "id-two..") + Len(5, "second") +
                           Tag(6, 0) + Varint(3) + Fixed64(7, 20) + Len(3, "ts=2") +
                           Len(11, Len(2, "e1") + Len(2, "e2"));
  const std::string bytes = TracesOfSpans({span});
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.spans.size(), 1u);
  EXPECT_EQ(w.spans[0].span_id, "id-two..");
  EXPECT_EQ(w.spans[0].name, "second");
  EXPECT_EQ(w.spans[0].kind, 3);
  EXPECT_EQ(w.spans[0].start_ns, 20u);
  EXPECT_EQ(w.spans[0].trace_state, "ts=2");
  ASSERT_EQ(w.events.size(), 1u);
  EXPECT_EQ(w.events[0].name, "e2");
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, StatusSentTwiceMergesItsFields) {
  const std::string span =
      Len(15, Len(2, "deadline exceeded") + Tag(3, 0) + Varint(2)) + Len(15, Tag(3, 0) + Varint(1));
  const std::string bytes = TracesOfSpans({span});
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.spans.size(), 1u);
  EXPECT_EQ(w.spans[0].status_message, "deadline exceeded");
  EXPECT_EQ(w.spans[0].status_code, 1);
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, ScopeSentTwiceMergesItsFields) {
  const std::string scope_spans =
      Len(1, Len(1, "lib")) + Len(2, Len(5, "s")) + Len(1, Len(2, "2.0"));
  const std::string bytes = Len(1, Len(2, scope_spans));
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.scopes.size(), 1u);
  EXPECT_TRUE(w.scopes[0].has_scope);
  EXPECT_EQ(w.scopes[0].name, "lib");
  EXPECT_EQ(w.scopes[0].version, "2.0");
  EXPECT_EQ(w.scopes[0].spans.size(), 1u);
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, ValueSentTwiceWithScalarsTakesTheLastScalar) {
  const std::string int_then_string = KeyValueBytes("a", IntValue(5)) + Len(2, StringValue("five"));
  const std::string bool_then_double =
      KeyValueBytes("b", Tag(2, 0) + Varint(1)) + Len(2, Fixed64(4, std::bit_cast<uint64_t>(2.5)));
  const std::string bytes = TracesOfSpans({Len(9, int_then_string) + Len(9, bool_then_double)});
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.span_attributes.size(), 2u);
  EXPECT_EQ(w.span_attributes[0].key, "a");
  EXPECT_EQ(w.span_attributes[0].value.kind, Kind::kString);
  EXPECT_EQ(w.span_attributes[0].value.bytes, "five");
  EXPECT_EQ(w.span_attributes[1].key, "b");
  EXPECT_EQ(w.span_attributes[1].value.kind, Kind::kDouble);
  EXPECT_EQ(std::bit_cast<double>(w.span_attributes[1].value.number), 2.5);
  EXPECT_EQ(w.merged.size(), 2u);
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, ValueSentTwiceWithArraysMergesTheArrays) {
  const std::string first = Len(5, Len(1, StringValue("a")));  // AnyValue{array: ["a"]}
  const std::string second = Len(5, Len(1, IntValue(7)));      // AnyValue{array: [7]}
  const std::string bytes = TracesOfSpans({Len(9, KeyValueBytes("list", first) + Len(2, second))});
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.span_attributes.size(), 1u);
  const WireValue& v = w.span_attributes[0].value;
  ASSERT_EQ(v.kind, Kind::kComposite);
  AnyValue merged;
  ASSERT_TRUE(merged.ParseFromString(std::string(v.bytes)));
  EXPECT_EQ(merged.SerializeAsString(), ArrayValue().SerializeAsString());  // ["a", 7]
  ASSERT_EQ(w.merged.size(), 1u);
  EXPECT_EQ(v.bytes.data(), w.merged.front().data());
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, AnyValueStringThenIntIsInt) {
  const std::string bytes =
      TracesOfSpans({Len(9, KeyValueBytes("k", StringValue("s") + IntValue(42)))});
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.span_attributes.size(), 1u);
  EXPECT_EQ(w.span_attributes[0].value.kind, Kind::kInt);
  EXPECT_EQ(w.span_attributes[0].value.number, 42u);
  EXPECT_THAT(w.merged, IsEmpty());
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, ResourceSplitAroundScopeSpansKeepsAttributesOfBoth) {
  const std::string resource_spans =
      Len(1, Len(1, KeyValueBytes("host.name", StringValue("h")))) + Len(2, Len(2, Len(5, "s"))) +
      Len(1, Len(1, KeyValueBytes("service.name", StringValue("late"))));
  const std::string bytes = Len(1, resource_spans);
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.resources.size(), 1u);
  EXPECT_THAT(Keys(w.resource_attributes, w.resources[0].attributes),
              ElementsAre("host.name", "service.name"));
  EXPECT_EQ(w.ServiceName(w.resources[0]), "late");
  EXPECT_EQ(w.resources[0].scopes.size(), 1u);
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, KnownFieldWithTheWrongWireTypeIsIgnored) {
  const std::string span =
      Len(5, "real") + Tag(5, 0) + Varint(7) +                     // name as a varint
      Tag(6, 0) + Varint(2) + Len(6, "x") +                        // kind as bytes
      Fixed64(7, 100) + Tag(7, 0) + Varint(5) +                    // start as a varint
      Tag(2, 5) + std::string(4, 'i') +                            // span_id as a fixed32
      Tag(9, 0) + Varint(1) + Tag(11, 1) + std::string(8, '\0') +  // attributes, events
      // status: code 2, then code as a fixed64 and message as a varint
      Len(15, Tag(3, 0) + Varint(2) + Tag(3, 1) + std::string(8, '\0') + Tag(2, 0) + Varint(1)) +
      Len(9, Len(1, "k") + Tag(2, 0) + Varint(3) +  // value as a varint
                 Len(2, StringValue("v") + Len(3, "not an int")));
  const std::string bytes = TracesOfSpans({span});
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.spans.size(), 1u);
  const WireTraces::Span& s = w.spans[0];
  EXPECT_EQ(s.name, "real");
  EXPECT_EQ(s.kind, 2);
  EXPECT_EQ(s.start_ns, 100u);
  EXPECT_EQ(s.span_id, "");
  EXPECT_EQ(s.status_code, 2);
  EXPECT_EQ(s.status_message, "");
  EXPECT_EQ(s.events.size(), 0u);
  ASSERT_EQ(s.attributes.size(), 1u);
  EXPECT_EQ(w.span_attributes[0].key, "k");
  EXPECT_EQ(w.span_attributes[0].value.kind, Kind::kString);
  EXPECT_EQ(w.span_attributes[0].value.bytes, "v");
  bool parsed = false;
  EXPECT_TRUE(DecodesLikeProtobuf(bytes, &parsed));
  EXPECT_TRUE(parsed);
}

}  // namespace
}  // namespace tailtrace
