// Span column blocks (proto/span_columns.h): every TracesData comes back as protobuf parses it,
// in order, with its resources and scopes; a filter by trace ID; any block decodes safely.

#include "proto/span_columns.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tests/proto/otlp_wire_test_util.h"
#include "tests/proto/span_columns_test_util.h"
#include "tests/proto/wire_traces_test_util.h"

// In the WireTraces tests' namespace: their helpers and names (Len, Tag, TraceIdBytes, ...).
namespace tailtrace::wire_traces_test {
namespace {

using opentelemetry::proto::trace::v1::ScopeSpans;

using span_columns_test::Flat;
using span_columns_test::Flatten;

// Encodes `chunks`, decodes every span, and compares with protobuf's parse of the chunks;
// false (with a failure) when they differ. Chunks protobuf refuses are not compared.
bool RoundTrips(const std::vector<std::string>& chunks) {
  Flat want;
  for (const std::string& c : chunks) {
    TracesData parsed;
    if (!parsed.ParseFromString(c)) return true;
    Flatten(parsed, &want);
  }
  std::vector<std::string_view> views(chunks.begin(), chunks.end());
  std::string block;
  if (!EncodeSpanColumns(views, &block)) {
    ADD_FAILURE() << "a chunk protobuf parses was refused";
    return false;
  }
  uint64_t count = 0;
  EXPECT_TRUE(CountSpanColumns(block, &count));
  EXPECT_EQ(count, want.size());
  std::string decoded;
  if (!DecodeSpanColumns(
          block, [](std::string_view) { return true; }, &decoded)) {
    ADD_FAILURE() << "the block does not decode";
    return false;
  }
  TracesData got_data;
  EXPECT_TRUE(got_data.ParseFromString(decoded));
  Flat got;
  Flatten(got_data, &got);
  EXPECT_EQ(got, want);
  return got == want;
}

class SpanColumnsTest : public WireTracesTest {};

TEST_F(SpanColumnsTest, RealisticDataComesBackAsProtobufParsesIt) {
  EXPECT_TRUE(RoundTrips({RealisticTracesData().SerializeAsString()}));
  // An ExportTraceServiceRequest has the same layout: resource_spans is field 1 of both.
  EXPECT_TRUE(RoundTrips({wire_test::RealisticRequest().SerializeAsString()}));
}

TEST_F(SpanColumnsTest, SeveralChunksKeepTheirOrderAndShareDictionaries) {
  std::vector<std::string> chunks;
  for (int i = 0; i < 5; ++i) chunks.push_back(wire_test::RealisticRequest().SerializeAsString());
  chunks.push_back(RealisticTracesData().SerializeAsString());
  chunks.push_back("");  // an empty TracesData adds nothing
  EXPECT_TRUE(RoundTrips(chunks));
  // Repeated chunks share every dictionary entry: the block grows by the columns only.
  std::string one, five;
  const std::string chunk = chunks[0];
  std::vector<std::string_view> once = {chunk};
  std::vector<std::string_view> repeated(5, chunk);
  ASSERT_TRUE(EncodeSpanColumns(once, &one));
  ASSERT_TRUE(EncodeSpanColumns(repeated, &five));
  EXPECT_LT(five.size(), 5 * one.size());
}

TEST_F(SpanColumnsTest, TheFilterKeepsOneTracesSpansGroupedByResourceAndScope) {
  TracesData data;
  for (int r = 0; r < 2; ++r) {
    ResourceSpans* rs = data.add_resource_spans();
    AddString(rs->mutable_resource()->mutable_attributes(), "service.name", r == 0 ? "a" : "b");
    ScopeSpans* ss = rs->add_scope_spans();
    for (int s = 0; s < 6; ++s) *ss->add_spans() = wire_test::SimpleSpan(s % 3, 10 * r + s, 0);
  }
  const std::string bytes = data.SerializeAsString();
  std::vector<std::string_view> chunks = {bytes};
  std::string block, decoded;
  ASSERT_TRUE(EncodeSpanColumns(chunks, &block));
  const std::string wanted = TraceIdBytes(1);
  ASSERT_TRUE(DecodeSpanColumns(
      block, [&](std::string_view id) { return id == wanted; }, &decoded));
  TracesData got;
  ASSERT_TRUE(got.ParseFromString(decoded));
  ASSERT_EQ(got.resource_spans_size(), 2);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(got.resource_spans(r).resource().SerializeAsString(),
              data.resource_spans(r).resource().SerializeAsString());
    ASSERT_EQ(got.resource_spans(r).scope_spans_size(), 1);
    const ScopeSpans& ss = got.resource_spans(r).scope_spans(0);
    ASSERT_EQ(ss.spans_size(), 2);
    EXPECT_EQ(ss.spans(0).span_id(), SpanIdBytes(10 * r + 1));
    EXPECT_EQ(ss.spans(1).span_id(), SpanIdBytes(10 * r + 4));
  }
  ASSERT_TRUE(DecodeSpanColumns(
      block, [](std::string_view) { return false; }, &decoded));
  EXPECT_EQ(decoded, "");
}

// Each chunk's range of the block decodes to that chunk's spans alone, with their resources.
TEST_F(SpanColumnsTest, EachChunksRangeDecodesToItsSpans) {
  std::vector<std::string> chunks = {RealisticTracesData().SerializeAsString(), "",
                                     wire_test::RealisticRequest().SerializeAsString(),
                                     RealisticTracesData().SerializeAsString()};
  std::vector<std::string_view> views(chunks.begin(), chunks.end());
  std::string block, decoded;
  std::vector<uint64_t> counts;
  ASSERT_TRUE(EncodeSpanColumns(views, &block, &counts));
  ASSERT_EQ(counts.size(), chunks.size());
  EXPECT_EQ(counts[1], 0u);
  uint64_t first = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    TracesData parsed;
    ASSERT_TRUE(parsed.ParseFromString(chunks[c]));
    Flat want, got;
    Flatten(parsed, &want);
    EXPECT_EQ(counts[c], want.size());
    ASSERT_TRUE(DecodeSpanColumnRange(block, first, counts[c], &decoded)) << "chunk " << c;
    TracesData got_data;
    ASSERT_TRUE(got_data.ParseFromString(decoded));
    Flatten(got_data, &got);
    EXPECT_EQ(got, want) << "chunk " << c;
    first += counts[c];
  }
  uint64_t total = 0;
  ASSERT_TRUE(CountSpanColumns(block, &total));
  EXPECT_EQ(first, total);
  // A range past the block's spans is refused.
  EXPECT_FALSE(DecodeSpanColumnRange(block, total, 1, &decoded));
  EXPECT_FALSE(DecodeSpanColumnRange(block, 1, UINT64_MAX, &decoded));
  EXPECT_TRUE(DecodeSpanColumnRange(block, total, 0, &decoded));
  EXPECT_EQ(decoded, "");
}

// A range that starts at, before or after a seek point (every 256 spans) decodes exactly its
// spans: the seek point restores every column and the running start time.
TEST_F(SpanColumnsTest, RangesAroundSeekPointsDecodeExactlyTheirSpans) {
  std::vector<std::string> chunks;
  Flat all;
  while (all.size() < 1100) {
    chunks.push_back(wire_test::RealisticRequest().SerializeAsString());
    TracesData parsed;
    ASSERT_TRUE(parsed.ParseFromString(chunks.back()));
    Flatten(parsed, &all);
  }
  std::vector<std::string_view> views(chunks.begin(), chunks.end());
  std::string block, decoded;
  ASSERT_TRUE(EncodeSpanColumns(views, &block));
  for (uint64_t first : {0, 1, 255, 256, 257, 511, 512, 767, 768, 1000, 1099}) {
    ASSERT_TRUE(DecodeSpanColumnRange(block, first, 2, &decoded)) << first;
    TracesData got_data;
    ASSERT_TRUE(got_data.ParseFromString(decoded));
    Flat got;
    Flatten(got_data, &got);
    EXPECT_EQ(got, Flat(all.begin() + first, all.begin() + first + 2)) << "from span " << first;
  }
  // Mutated blocks, read from a seek point (the seek table is at the block's end), decode or
  // fail without crashing (ASan runs this too).
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string mutated = block;
    if (i % 2 == 0) {
      mutated[mutated.size() - 1 - rng() % 40] = static_cast<char>(rng());
    } else {
      wire_test::MutateBytes(rng, &mutated);
    }
    (void)DecodeSpanColumnRange(mutated, 256 + rng() % 800, 5, &decoded);
  }
}

// Hand-built span fields protobuf accepts but a column cannot hold as they are.
TEST_F(SpanColumnsTest, UnusualEncodingsComeBackAsProtobufParsesThem) {
  const std::string id = Len(1, TraceIdBytes(7));
  const std::vector<std::string> spans = {
      // A name and a start sent twice (the last wins), an end before the start.
      id + Len(5, "first") + Fixed64(8, 900) + Fixed64(7, 100) + Len(5, "second") + Fixed64(7, 200),
      // A 15-byte trace ID, a 9-byte span ID, no parent, an unknown field, a flags field.
      Len(1, std::string(15, 'x')) + Len(2, std::string(9, 'y')) + Len(99, "unknown") + Tag(16, 5) +
          std::string("\x01\x02\x03\x04", 4),
      // Attributes: value before key; a bool of 2; a key alone; an array; a wrong wire type;
      // a KeyValue with an unknown field; an AnyValue with two members (the last wins).
      id + Len(9, Len(2, Len(1, "v")) + Len(1, "k")) +
          Len(9, Len(1, "b") + Len(2, Tag(2, 0) + Varint(2))) + Len(9, Len(1, "alone")) +
          Len(9, Len(1, "arr") + Len(2, Len(5, Len(1, Len(1, "x"))))) + Tag(9, 0) + Varint(3) +
          Len(9, Len(1, "u") + Len(3, "?")) +
          Len(9, Len(1, "two") + Len(2, Len(1, "s") + Tag(3, 0) + Varint(5))),
      // A status with an unknown field, then one sent twice (they merge).
      id + Len(15, Len(2, "m") + Len(4, "?")),
      id + Len(15, Len(2, "m")) + Len(15, Tag(3, 0) + Varint(2)),
      // An empty status, negative-looking times, a kind past the enum.
      id + Len(15, "") + Fixed64(7, ~0ull) + Fixed64(8, 1) + Tag(6, 0) + Varint(1000),
      // Events and links, kept as they were sent.
      id + Len(11, Fixed64(1, 5) + Len(2, "event")) + Len(13, Len(1, TraceIdBytes(8))),
  };
  for (const std::string& span : spans) {
    const std::string data = Len(1, Len(1, Len(1, Len(1, "r"))) + Len(2, Len(2, span)));
    EXPECT_TRUE(RoundTrips({data})) << "span bytes: " << span.size();
  }
}

TEST_F(SpanColumnsTest, MalformedInputIsRefused) {
  std::string block;
  const std::string truncated = RealisticTracesData().SerializeAsString();
  std::vector<std::string_view> chunks = {std::string_view(truncated).substr(0, 40)};
  EXPECT_FALSE(EncodeSpanColumns(chunks, &block));
  std::string decoded;
  uint64_t count = 0;
  EXPECT_FALSE(DecodeSpanColumns(
      "", [](std::string_view) { return true; }, &decoded));
  EXPECT_FALSE(CountSpanColumns("", &count));
  EXPECT_FALSE(DecodeSpanColumns(
      "\x02", [](std::string_view) { return true; }, &decoded));
}

// Mutated blocks decode or fail without crashing (ASan runs this too), and mutated chunks that
// protobuf accepts still round-trip.
TEST_F(SpanColumnsTest, MutatedBlocksAndChunksAreSafe) {
  std::mt19937_64 rng(42);
  const std::string chunk = wire_test::RealisticRequest().SerializeAsString();
  std::vector<std::string_view> chunks = {chunk};
  std::string block;
  ASSERT_TRUE(EncodeSpanColumns(chunks, &block));
  std::string decoded;
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = block;
    wire_test::MutateBytes(rng, &mutated);
    (void)DecodeSpanColumns(
        mutated, [](std::string_view) { return true; }, &decoded);
    uint64_t count = 0;
    (void)CountSpanColumns(mutated, &count);
    (void)DecodeSpanColumnRange(mutated, i % 7, i % 13, &decoded);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = chunk;
    wire_test::MutateBytes(rng, &mutated);
    ASSERT_TRUE(RoundTrips({mutated})) << "mutation " << i;
  }
}

}  // namespace
}  // namespace tailtrace::wire_traces_test
