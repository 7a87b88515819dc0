#include "proto/wire_traces.h"

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tests/proto/otlp_wire_test_util.h"
#include "tests/proto/wire_traces_test_util.h"

namespace tailtrace {
namespace {

using namespace wire_traces_test;  // NOLINT(build/namespaces)

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(WireTracesTest, EmptyBytesDecodeToNothing) {
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces("", &w));
  EXPECT_THAT(w.resources, IsEmpty());
  EXPECT_THAT(w.scopes, IsEmpty());
  EXPECT_THAT(w.spans, IsEmpty());
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_THAT(w.resource_attributes, IsEmpty());
}

TEST_F(WireTracesTest, RealisticTracesDataDecodesToEveryField) {
  const TracesData data = RealisticTracesData();
  const std::string bytes = data.SerializeAsString();
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));

  ASSERT_EQ(w.resources.size(), 2u);
  ASSERT_EQ(w.scopes.size(), 3u);
  ASSERT_EQ(w.spans.size(), 4u);
  ASSERT_EQ(w.events.size(), 3u);

  // Resources: attributes and scopes in order; the second has no service.name.
  const WireTraces::Resource& r0 = w.resources[0];
  const WireTraces::Resource& r1 = w.resources[1];
  EXPECT_THAT(Keys(w.resource_attributes, r0.attributes), ElementsAre("host.name", "service.name"));
  EXPECT_THAT(Keys(w.resource_attributes, r1.attributes), ElementsAre("host.name"));
  EXPECT_EQ(r0.service_attribute, 1);
  EXPECT_EQ(w.ServiceName(r0), "checkout");
  EXPECT_EQ(r1.service_attribute, -1);
  EXPECT_EQ(w.ServiceName(r1), kUnknownServiceName);
  EXPECT_EQ(w.ServiceName(r1), "unknown_service");
  EXPECT_EQ(r0.scopes.begin, 0u);
  EXPECT_EQ(r0.scopes.end, 2u);
  EXPECT_EQ(r1.scopes.begin, 2u);
  EXPECT_EQ(r1.scopes.end, 3u);

  // Scopes: with a full InstrumentationScope, without one, with a name only.
  EXPECT_TRUE(w.scopes[0].has_scope);
  EXPECT_EQ(w.scopes[0].name, "io.http");
  EXPECT_EQ(w.scopes[0].version, "1.2.0");
  EXPECT_EQ(w.scopes[0].spans.begin, 0u);
  EXPECT_EQ(w.scopes[0].spans.end, 2u);
  EXPECT_FALSE(w.scopes[1].has_scope);
  EXPECT_EQ(w.scopes[1].name, "");
  EXPECT_EQ(w.scopes[1].spans.begin, 2u);
  EXPECT_EQ(w.scopes[1].spans.end, 3u);
  EXPECT_TRUE(w.scopes[2].has_scope);
  EXPECT_EQ(w.scopes[2].name, "worker");
  EXPECT_EQ(w.scopes[2].version, "");
  EXPECT_EQ(w.scopes[2].spans.begin, 3u);
  EXPECT_EQ(w.scopes[2].spans.end, 4u);

  // Span a: every field.
  const WireTraces::Span& a = w.spans[0];
  EXPECT_EQ(a.span_id, SpanIdBytes(1));
  EXPECT_EQ(a.parent_span_id, "");
  EXPECT_EQ(a.name, "GET /cart");
  EXPECT_EQ(a.trace_state, "vendor=1");
  EXPECT_EQ(a.kind, Span::SPAN_KIND_SERVER);
  EXPECT_EQ(a.start_ns, 1'700'000'000'000'000'000u);
  EXPECT_EQ(a.end_ns, 1'700'000'000'250'000'000u);
  EXPECT_EQ(a.status_code, Status::STATUS_CODE_ERROR);
  EXPECT_EQ(a.status_message, "timeout");
  EXPECT_THAT(
      Keys(w.span_attributes, a.attributes),
      ElementsAre("http.route", "cached", "retries", "ratio", "blob", "list", "map", "unset"));
  const WireAttribute* attr = &w.span_attributes[a.attributes.begin];
  EXPECT_EQ(attr[0].value.kind, Kind::kString);
  EXPECT_EQ(attr[0].value.bytes, "/cart");
  EXPECT_EQ(attr[1].value.kind, Kind::kBool);
  EXPECT_NE(attr[1].value.number, 0u);
  EXPECT_EQ(attr[2].value.kind, Kind::kInt);
  EXPECT_EQ(static_cast<int64_t>(attr[2].value.number), -5);
  EXPECT_EQ(attr[3].value.kind, Kind::kDouble);
  EXPECT_EQ(std::bit_cast<double>(attr[3].value.number), 0.25);
  EXPECT_EQ(attr[4].value.kind, Kind::kBytes);
  EXPECT_EQ(attr[4].value.bytes, std::string("\0\xff", 2));
  for (int i : {5, 6}) {
    EXPECT_EQ(attr[i].value.kind, Kind::kComposite) << i;
    AnyValue composite;
    ASSERT_TRUE(composite.ParseFromString(std::string(attr[i].value.bytes))) << i;
    EXPECT_EQ(composite.SerializeAsString(),
              (i == 5 ? ArrayValue() : KvlistValue()).SerializeAsString())
        << i;
  }
  EXPECT_EQ(attr[7].value.kind, Kind::kNone);
  EXPECT_EQ(a.events.begin, 0u);
  EXPECT_EQ(a.events.end, 2u);
  EXPECT_EQ(w.events[0].name, "exception");
  EXPECT_THAT(Keys(w.event_attributes, w.events[0].attributes),
              ElementsAre("exception.type", "count"));
  EXPECT_EQ(w.event_attributes[w.events[0].attributes.begin].value.bytes, "Timeout");
  EXPECT_EQ(w.event_attributes[w.events[0].attributes.begin + 1].value.number, 3u);
  EXPECT_EQ(w.events[1].name, "retry");
  EXPECT_EQ(w.events[1].attributes.size(), 0u);

  // Span b: a child, ranges continuing after a's.
  const WireTraces::Span& b = w.spans[1];
  EXPECT_EQ(b.span_id, SpanIdBytes(2));
  EXPECT_EQ(b.parent_span_id, SpanIdBytes(1));
  EXPECT_EQ(b.name, "SELECT");
  EXPECT_EQ(b.kind, Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(b.status_code, Status::STATUS_CODE_OK);
  EXPECT_EQ(b.status_message, "");
  EXPECT_EQ(b.attributes.begin, a.attributes.end);
  EXPECT_THAT(Keys(w.span_attributes, b.attributes), ElementsAre("db.system"));
  EXPECT_EQ(b.events.begin, 2u);
  EXPECT_EQ(b.events.end, 2u);

  // Span c: almost nothing set.
  const WireTraces::Span& c = w.spans[2];
  EXPECT_EQ(c.name, "background");
  EXPECT_EQ(c.kind, 0);
  EXPECT_EQ(c.start_ns, 0u);
  EXPECT_EQ(c.status_code, 0);
  EXPECT_EQ(c.attributes.size(), 0u);

  // Span d, in the second resource: its event's attributes.
  const WireTraces::Span& d = w.spans[3];
  EXPECT_EQ(d.name, "consume");
  EXPECT_EQ(d.kind, Span::SPAN_KIND_CONSUMER);
  EXPECT_EQ(d.events.begin, 2u);
  EXPECT_EQ(d.events.end, 3u);
  EXPECT_EQ(w.events[2].name, "ack");
  EXPECT_EQ(w.events[2].attributes.begin, 2u);
  EXPECT_THAT(Keys(w.event_attributes, w.events[2].attributes), ElementsAre("queue"));

  EXPECT_THAT(w.merged, IsEmpty());  // no value was set twice
  EXPECT_EQ(Difference(w, data), "");
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

// The bytes of an ExportTraceServiceRequest read like a TracesData (same field 1).
TEST_F(WireTracesTest, ExportRequestBytesDecodeLikeTracesData) {
  const std::string bytes = wire_test::RealisticRequest().SerializeAsString();
  bool parsed = false;
  EXPECT_TRUE(DecodesLikeProtobuf(bytes, &parsed));
  EXPECT_TRUE(parsed);
}

TEST_F(WireTracesTest, ReusedOutputIsCleared) {
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(RealisticTracesData().SerializeAsString(), &w));
  const std::string span = Len(5, "only");
  const std::string twice =
      KeyValueBytes("k", IntValue(1)) + Len(2, IntValue(2));  // fills `merged`
  ASSERT_TRUE(DecodeWireTraces(TracesOfSpans({span + Len(9, twice)}), &w));
  const std::string last = TracesOfSpans({span});  // the views point into it
  ASSERT_TRUE(DecodeWireTraces(last, &w));
  EXPECT_EQ(w.resources.size(), 1u);
  EXPECT_EQ(w.scopes.size(), 1u);
  ASSERT_EQ(w.spans.size(), 1u);
  EXPECT_EQ(w.spans[0].name, "only");
  EXPECT_THAT(w.events, IsEmpty());
  EXPECT_THAT(w.resource_attributes, IsEmpty());
  EXPECT_THAT(w.span_attributes, IsEmpty());
  EXPECT_THAT(w.event_attributes, IsEmpty());
  EXPECT_THAT(w.merged, IsEmpty());
}

TEST_F(WireTracesTest, ServiceNameIsTheFirstServiceNameWithAStringValue) {
  const std::string first =  // an int service.name, then two string ones
      Len(1, KeyValueBytes("service.name", IntValue(5))) +
      Len(1, KeyValueBytes("service.name", StringValue("a"))) +
      Len(1, KeyValueBytes("service.name", StringValue("later")));
  const std::string second = Len(1, KeyValueBytes("service.name", StringValue("b")));
  const std::string bytes = Len(1, Len(1, first)) + Len(1, Len(1, second));
  WireTraces w;
  ASSERT_TRUE(DecodeWireTraces(bytes, &w));
  ASSERT_EQ(w.resources.size(), 2u);
  EXPECT_EQ(w.resources[0].service_attribute, 1);
  EXPECT_EQ(w.ServiceName(w.resources[0]), "a");
  EXPECT_EQ(w.resources[1].service_attribute, 3);  // an index into resource_attributes
  EXPECT_EQ(w.ServiceName(w.resources[1]), "b");
  EXPECT_TRUE(DecodesLikeProtobuf(bytes));
}

TEST_F(WireTracesTest, ServiceNameWithoutAStringServiceNameIsUnknownService) {
  const std::string resource = Len(1, KeyValueBytes("service.name", IntValue(5))) +
                               Len(1, KeyValueBytes("service.namespace", StringValue("shop")));
  for (const std::string& bytes :
       {Len(1, Len(1, resource)), Len(1, Len(2, Len(2, Len(5, "s")))), Len(1, "")}) {
    WireTraces w;
    ASSERT_TRUE(DecodeWireTraces(bytes, &w));
    ASSERT_EQ(w.resources.size(), 1u);
    EXPECT_EQ(w.resources[0].service_attribute, -1);
    EXPECT_EQ(w.ServiceName(w.resources[0]), "unknown_service");
    EXPECT_TRUE(DecodesLikeProtobuf(bytes));
  }
}

TEST_F(WireTracesTest, MalformedInputIsRefused) {
  const std::string span = Len(5, "s");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated length", Tag(1, 2) + Varint(10) + "abc"},
      {"truncated length varint", Tag(1, 2) + "\x80"},
      {"field number 0", std::string(1, '\0')},
      {"tag longer than 5 bytes", std::string("\xff\xff\xff\xff\xff\x01", 6)},
      {"wire type 6", TracesOfSpans({span + Tag(5, 6)})},
      {"stray end-group tag in a span", TracesOfSpans({span + Tag(3, 4)})},
      {"unterminated group in a span", TracesOfSpans({span + Tag(20, 3) + Tag(1, 0) + "\x01"})},
      {"truncated fixed64 in a span", TracesOfSpans({span + Tag(7, 1) + "\x01\x02\x03\x04"})},
      {"truncated varint in a span", TracesOfSpans({span + Tag(6, 0) + "\x80"})},
      {"truncated string in an AnyValue",
       TracesOfSpans({Len(9, KeyValueBytes("k", Tag(1, 2) + Varint(5) + "ab"))})},
      {"truncated field in a Status", TracesOfSpans({Len(15, Tag(2, 2) + Varint(9))})},
      {"truncated field in an event attribute",
       TracesOfSpans({Len(11, Len(3, Len(1, "k") + Tag(2, 2)))})},
      {"truncated field in a resource attribute",
       Len(1, Len(1, Len(1, Len(1, "service.name") + Tag(2, 2) + Varint(3))))},
      {"truncated field in an InstrumentationScope", Len(1, Len(2, Len(1, Tag(1, 1) + "x")))},
  };
  for (const auto& [what, bytes] : cases) {
    WireTraces w;
    EXPECT_FALSE(DecodeWireTraces(bytes, &w)) << what;
    TracesData parsed;
    EXPECT_FALSE(parsed.ParseFromString(bytes)) << what << ": protobuf refuses it too";
  }
}

// CountWireSpans reads the resource and scope levels only: a span's own bytes are not read.
TEST_F(WireTracesTest, CountWireSpansReadsDownToTheSpans) {
  EXPECT_EQ(CountWireSpans(""), 0u);
  EXPECT_EQ(CountWireSpans(RealisticTracesData().SerializeAsString()), 4u);
  const std::string span = Len(5, "s");
  EXPECT_EQ(CountWireSpans(TracesOfSpans({span, span, span})), 3u);
  EXPECT_EQ(CountWireSpans(TracesOfSpans({span + Tag(7, 1) + "\x01"})), 1u);
  EXPECT_FALSE(CountWireSpans(Tag(1, 2) + Varint(10) + "abc").has_value());
  EXPECT_FALSE(CountWireSpans(Len(1, Len(2, Tag(2, 2) + Varint(9)))).has_value());
}

TEST_F(WireTracesTest, EveryPrefixAgreesWithProtobuf) {
  const std::string bytes = RealisticTracesData().SerializeAsString();
  int parsed = 0;
  for (size_t n = 0; n <= bytes.size(); ++n) {
    bool ok = false;
    ASSERT_TRUE(DecodesLikeProtobuf(bytes.substr(0, n), &ok)) << "prefix " << n;
    parsed += ok;
  }
  EXPECT_GE(parsed, 3);  // at least the empty bytes, the first resource and the whole
}

// Random byte flips, insertions, deletions, duplications and truncations: whatever protobuf
// parses, the decoder accepts with the same fields.
TEST_F(WireTracesTest, RandomMutationsAgreeWithProtobuf) {
  const std::vector<std::string> bases = {
      RealisticTracesData().SerializeAsString(),
      TracesOfSpans({Len(9, KeyValueBytes("list", Len(5, Len(1, StringValue("a")))) +
                                Len(2, Len(5, Len(1, IntValue(7)))) + Len(2, IntValue(1))) +
                     Len(15, Tag(3, 0) + Varint(2)) + Len(15, Len(2, "m"))})};
  std::mt19937_64 rng(20261206);
  auto pick = [&](size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); };
  int parsed = 0;
  constexpr int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    std::string bytes = bases[pick(bases.size())];
    wire_test::MutateBytes(rng, &bytes);
    bool ok = false;
    ASSERT_TRUE(DecodesLikeProtobuf(bytes, &ok)) << "round " << round;
    parsed += ok;
  }
  EXPECT_GE(parsed, kRounds / 20);  // the check ran on enough parsed inputs
}

}  // namespace
}  // namespace tailtrace
