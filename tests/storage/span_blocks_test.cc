// Span blocks in the RocksDB store (keys.h, "Span blocks"): the chunks of one Write call share a
// block and read back exactly; stores written with inline chunks (format version 3) stay readable
// and take blocks from then on; broken references are DataLoss naming the trace.

#include <string>
#include <utility>
#include <vector>

#include "tests/storage/rocks_trace_store_fixture.h"

namespace tailtrace::storage::rocks_store_test {
namespace {

// The spans of `parts`, one after the other, as one TracesData.
TracesData Concat(const std::vector<const TracesData*>& parts) {
  TracesData all;
  for (const TracesData* p : parts) all.MergeFrom(*p);
  return all;
}

// 600 spans of trace `id`, each carrying the same 32 KiB attribute value: its chunk decodes to
// more than SpanColumnsOutputLimit of the block that holds it.
TracesData RepeatingValueTrace(const TraceId& id) {
  TracesData data;
  AddResource(&data, id, "svc", std::vector<SpanSpec>(600, SpanSpec{"op"}));
  const std::string value(32 << 10, 'v');
  for (auto& span : *data.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans()) {
    auto* a = span.add_attributes();
    a->set_key("payload");
    a->mutable_value()->set_string_value(value);
  }
  return data;
}

// The trace IDs a search by service and operation finds.
std::vector<TraceId> Find(RocksTraceStore& store, const std::string& service,
                          const std::string& operation) {
  TraceQuery query;
  query.service = service;
  query.operation = operation;
  auto found = store.FindTraces(query);
  EXPECT_TRUE(found.ok()) << found.status();
  std::vector<TraceId> ids;
  if (found.ok()) {
    for (const TraceSummary& s : *found) ids.push_back(s.trace_id);
  }
  return ids;
}

void ExpectTrace(RocksTraceStore& store, const TraceId& id, const TracesData& want) {
  auto got = store.GetTrace(id);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value()) << id.Hex();
  EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, want))
      << "trace " << id.Hex() << ":\n"
      << (*got)->data.DebugString() << "\nwanted:\n"
      << want.DebugString();
}

TEST_F(RocksTraceStoreTest, TheChunksOfOneWriteShareABlockAndReadBackExactly) {
  TracesData a1, a2, b, c;
  AddResource(&a1, MakeId(1), "checkout", {{"pay", kServer}, {"charge", kClient}});
  AddResource(&b, MakeId(2), "cart", {{"add"}});
  AddResource(&a2, MakeId(1), "payment", {{"authorize", kServer}});
  AddResource(&c, MakeId(3), "cart", {{"list"}, {"count"}});
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    // Trace 1 twice in one call, between the others: each chunk gets only its own spans.
    const std::vector<TraceWrite> writes = {
        MakeWrite(MakeId(1), &a1, "errors", 1.0), MakeWrite(MakeId(2), &b),
        MakeWrite(MakeId(1), &a2, "latency", 1.0), MakeWrite(MakeId(3), &c)};
    ASSERT_TRUE(store->Write(writes).ok());
    ExpectTrace(*store, MakeId(1), Concat({&a1, &a2}));
    ExpectTrace(*store, MakeId(2), b);
    ExpectTrace(*store, MakeId(3), c);
    auto got = store->GetTrace(MakeId(1));
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->sampling_policy, "errors");  // the first decision wins
  }
  EXPECT_EQ(CountRaw(std::string(1, kSpanBlockTag)), 1u);
  const auto chunks = ReadRaw("bucket", std::string(1, kSpanTag));
  ASSERT_EQ(chunks.size(), 4u);
  for (const auto& [key, value] : chunks) EXPECT_TRUE(IsChunkRef(value));
  // Reopened, and read through the late write of trace 3, which reads its first chunk back.
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData c2;
  AddResource(&c2, MakeId(3), "cart", {{"late"}});
  const TraceWrite late = MakeWrite(MakeId(3), &c2);
  ASSERT_TRUE(store->Write({&late, 1}).ok());
  ExpectTrace(*store, MakeId(1), Concat({&a1, &a2}));
  ExpectTrace(*store, MakeId(3), Concat({&c, &c2}));
  EXPECT_THAT(Find(*store, "cart", "late"), ElementsAre(MakeId(3)));
}

TEST_F(RocksTraceStoreTest, ALargeWriteIsCutIntoBlocksAtChunkBoundaries) {
  // 30 traces of 100 spans: 3,000 spans; a block holds at most 1,024, so 10 traces each.
  std::vector<TracesData> data(30);
  std::vector<TraceWrite> writes;
  for (size_t t = 0; t < data.size(); ++t) {
    AddResource(&data[t], MakeId(static_cast<uint8_t>(t + 1)), "svc",
                std::vector<SpanSpec>(100, SpanSpec{"op"}));
  }
  for (size_t t = 0; t < data.size(); ++t) {
    writes.push_back(MakeWrite(MakeId(static_cast<uint8_t>(t + 1)), &data[t]));
  }
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Write(writes).ok());
    for (size_t t = 0; t < data.size(); ++t) {
      ExpectTrace(*store, MakeId(static_cast<uint8_t>(t + 1)), data[t]);
    }
  }
  EXPECT_EQ(CountRaw(std::string(1, kSpanBlockTag)), 3u);
}

// A block keeps one copy of a repeated value, so a chunk can decode to far more bytes than its
// block holds, more than a decoder accepts from a corrupt block. Such a chunk is stored inline,
// and reads back whole.
TEST_F(RocksTraceStoreTest, AChunkThatExpandsPastTheDecodeBoundIsStoredInline) {
  const TracesData big = RepeatingValueTrace(MakeId(1));
  TracesData small;
  AddResource(&small, MakeId(2), "svc", {{"op"}});
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const std::vector<TraceWrite> writes = {MakeWrite(MakeId(1), &big),
                                            MakeWrite(MakeId(2), &small)};
    ASSERT_TRUE(store->Write(writes).ok());
    ExpectTrace(*store, MakeId(1), big);
    ExpectTrace(*store, MakeId(2), small);
  }
  // Trace 2's chunk refers to the block; trace 1's holds its spans.
  const auto chunks = ReadRaw("bucket", std::string(1, kSpanTag));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_FALSE(IsChunkRef(chunks[0].second));
  EXPECT_TRUE(IsChunkRef(chunks[1].second));
  EXPECT_EQ(CountRaw(std::string(1, kSpanBlockTag)), 1u);
}

TEST_F(RocksTraceStoreTest, ABlockNoChunkRefersToIsNotWritten) {
  const TracesData big = RepeatingValueTrace(MakeId(1));
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const TraceWrite w = MakeWrite(MakeId(1), &big);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    ExpectTrace(*store, MakeId(1), big);
  }
  EXPECT_EQ(CountRaw(std::string(1, kSpanBlockTag)), 0u);
}

TEST_F(RocksTraceStoreTest, AStoreOfInlineChunksStaysReadableAndTakesBlocksFromThenOn) {
  TracesData a1, a2, b;
  AddResource(&a1, MakeId(1), "checkout", {{"pay", kServer}});
  AddResource(&a2, MakeId(1), "checkout", {{"retry", kServer}});
  AddResource(&b, MakeId(2), "cart", {{"add"}});
  options_.span_blocks = false;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const std::vector<TraceWrite> writes = {MakeWrite(MakeId(1), &a1), MakeWrite(MakeId(2), &b)};
    ASSERT_TRUE(store->Write(writes).ok());
  }
  EXPECT_EQ(CountRaw(std::string(1, kSpanBlockTag)), 0u);
  // What a build before span blocks left: format version 3.
  PutRaw("default", kFormatVersionKey, "3");
  options_.span_blocks = true;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ExpectTrace(*store, MakeId(2), b);
    // A late chunk of a trace stored inline goes to a block; the trace reads both.
    const TraceWrite late = MakeWrite(MakeId(1), &a2);
    ASSERT_TRUE(store->Write({&late, 1}).ok());
    ExpectTrace(*store, MakeId(1), Concat({&a1, &a2}));
    EXPECT_THAT(Find(*store, "checkout", "retry"), ElementsAre(MakeId(1)));
  }
  EXPECT_EQ(CountRaw(std::string(1, kSpanBlockTag)), 1u);
  // The store is marked with this build's version: older builds refuse it.
  const auto version = ReadRaw("default", kFormatVersionKey);
  ASSERT_EQ(version.size(), 1u);
  EXPECT_EQ(version[0].second, std::to_string(kStoreFormatVersion));
}

TEST_F(RocksTraceStoreTest, BrokenChunkReferencesAreDataLossNamingTheTraceAndChunk) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    TracesData a;
    AddResource(&a, MakeId(1), "svc", {{"x"}});  // creates the bucket
    const TraceWrite w = MakeWrite(MakeId(1), &a);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
  }
  const std::pair<std::string, std::string> broken[] = {
      {EncodeChunkRef(ChunkRef{.block_seq = 12345, .first_span = 0, .spans = 1, .tail = ""}),
       "span block 12345 is missing"},
      {EncodeChunkRef(ChunkRef{.block_seq = 777, .first_span = 0, .spans = 1, .tail = ""}),
       "in span block 777 do not decode"},
      {std::string("\0\x80", 2), "reference is malformed"},
  };
  PutRaw("bucket", SpanBlockKey(777), "not a block");
  for (size_t i = 0; i < std::size(broken); ++i) {
    const TraceId id = MakeId(static_cast<uint8_t>(20 + i));
    PutRaw("bucket", SpanKey(id, 5), broken[i].first);
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto got = store->GetTrace(id);
    ASSERT_FALSE(got.ok()) << i;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
    EXPECT_THAT(got.status().message(), HasSubstr(id.Hex()));
    EXPECT_THAT(got.status().message(), HasSubstr("span chunk 5"));
    EXPECT_THAT(got.status().message(), HasSubstr(broken[i].second));
  }
}

}  // namespace
}  // namespace tailtrace::storage::rocks_store_test
