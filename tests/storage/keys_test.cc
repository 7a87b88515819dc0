#include "storage/index/keys.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tailtrace::storage {
namespace {

TraceId MakeId(uint8_t first, uint8_t last) {
  TraceId id;
  id.bytes[0] = first;
  id.bytes[15] = last;
  return id;
}

TEST(Fixed64BETest, RoundTripsAndSortsLikeNumbers) {
  const std::vector<uint64_t> values = {0, 1, 255, 256, 65535, 1'700'000'000'000'000'000ull, ~0ull};
  std::vector<std::string> encoded;
  for (uint64_t v : values) {
    std::string s;
    PutFixed64BE(&s, v);
    ASSERT_EQ(s.size(), 8u);
    EXPECT_EQ(DecodeFixed64BE(s), v);
    encoded.push_back(s);
  }
  // Values are ascending, so their encodings must be too (bytewise, as RocksDB compares).
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));
  std::string one;
  PutFixed64BE(&one, 1);
  EXPECT_EQ(one, std::string("\0\0\0\0\0\0\0\x01", 8));
}

TEST(Varint32Test, RoundTrips) {
  for (uint32_t v : {0u, 1u, 127u, 128u, 300u, 16383u, 16384u, 0xffffffffu}) {
    std::string s;
    PutVarint32(&s, v);
    s.append("rest");
    std::string_view in = s;
    uint32_t out = 0;
    ASSERT_TRUE(GetVarint32(&in, &out)) << v;
    EXPECT_EQ(out, v);
    EXPECT_EQ(in, "rest");
  }
  std::string one_byte;
  PutVarint32(&one_byte, 127);
  EXPECT_EQ(one_byte.size(), 1u);
}

TEST(Varint32Test, RejectsTruncatedAndOverlong) {
  std::string s;
  PutVarint32(&s, 300);
  std::string_view truncated(s.data(), 1);
  uint32_t v = 0;
  EXPECT_FALSE(GetVarint32(&truncated, &v));
  std::string_view empty;
  EXPECT_FALSE(GetVarint32(&empty, &v));
  const std::string overlong("\xff\xff\xff\xff\x7f", 5);  // more than 32 bits
  std::string_view in = overlong;
  EXPECT_FALSE(GetVarint32(&in, &v));
}

TEST(PrefixSuccessorTest, IncrementsLastByteWithCarry) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff\xff", 2)), "");
  EXPECT_EQ(PrefixSuccessor(""), "");
  // Every key with the prefix sorts below the successor.
  const std::string prefix("o\x03svc", 5);
  EXPECT_LT(prefix + std::string("\xff\xff\xff", 3), PrefixSuccessor(prefix));
}

TEST(SpanKeyTest, RoundTripsWithTagAndTraceIdPrefix) {
  const TraceId id = MakeId(0xab, 0x01);
  const std::string key = SpanKey(id, 42);
  ASSERT_EQ(key.size(), kSpanKeyBytes);
  EXPECT_EQ(key[0], kSpanTag);
  EXPECT_EQ(key.substr(1, kTraceIdBytes), id.view());
  EXPECT_EQ(SpanKeyPrefix(id), std::string(1, kSpanTag) + std::string(id.view()));
  EXPECT_EQ(SpanKeyPrefix(id).size(), kTracePrefixBytes);
  auto parts = DecodeSpanKey(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->trace_id, id);
  EXPECT_EQ(parts->chunk_seq, 42u);
}

TEST(SpanKeyTest, ChunksOfATraceSortNewestLastAndStayTogether) {
  const TraceId a = MakeId(1, 0);
  const TraceId b = MakeId(1, 1);  // differs from `a` only in its last byte
  const std::vector<std::string> keys = {SpanKey(a, 1), SpanKey(a, 255), SpanKey(a, 256),
                                         SpanKey(a, ~0ull), SpanKey(b, 0)};
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_NE(keys.back().substr(0, kTracePrefixBytes), SpanKeyPrefix(a));
}

TEST(SpanKeyTest, DecodeRejectsWrongLength) {
  EXPECT_FALSE(DecodeSpanKey("").has_value());
  EXPECT_FALSE(DecodeSpanKey(std::string(kSpanKeyBytes - 1, 'x')).has_value());
  EXPECT_FALSE(DecodeSpanKey(std::string(kSpanKeyBytes + 1, 'x')).has_value());
  // Right length, wrong key space.
  EXPECT_FALSE(DecodeSpanKey(std::string(kSpanKeyBytes, 'x')).has_value());
}

TEST(SpanBlockKeyTest, BlocksSortInSequenceOrder) {
  const std::vector<std::string> keys = {SpanBlockKey(1), SpanBlockKey(255), SpanBlockKey(256),
                                         SpanBlockKey(~0ull)};
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(keys[0].size(), 9u);
  EXPECT_EQ(keys[0][0], kSpanBlockTag);
}

TEST(ChunkRefTest, RoundTripsAndIsToldApartFromASpanChunk) {
  const ChunkRef ref{.block_seq = 300, .first_span = 70000, .spans = 20, .tail = "policy"};
  const std::string value = EncodeChunkRef(ref);
  ASSERT_TRUE(IsChunkRef(value));
  const std::optional<ChunkRef> got = DecodeChunkRef(value);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->block_seq, 300u);
  EXPECT_EQ(got->first_span, 70000u);
  EXPECT_EQ(got->spans, 20u);
  EXPECT_EQ(got->tail, "policy");
  // A serialized SpanChunk starts with a field tag, never 0x00.
  EXPECT_FALSE(
      IsChunkRef("\x0a\x02"
                 "ab"));
  EXPECT_FALSE(IsChunkRef(""));
  EXPECT_FALSE(DecodeChunkRef("\x0a\x02"
                              "ab")
                   .has_value());
  // Truncated varints are refused.
  EXPECT_FALSE(DecodeChunkRef(std::string("\0\x80", 2)).has_value());
  EXPECT_FALSE(DecodeChunkRef(std::string("\0\x01\x02", 3)).has_value());
}

TEST(ServiceKeyTest, RoundTripsAndSortsByName) {
  EXPECT_EQ(DecodeServiceKey(ServiceKey("checkout")), "checkout");
  EXPECT_EQ(DecodeServiceKey(ServiceKey("")), "");
  EXPECT_EQ(ServiceKey("x").substr(0, 1), ServiceKeyPrefix());
  EXPECT_LT(ServiceKey("a"), ServiceKey("ab"));
  EXPECT_LT(ServiceKey("ab"), ServiceKey("b"));
  EXPECT_FALSE(DecodeServiceKey(OperationKey("checkout", 1, "GET")).has_value());
  EXPECT_FALSE(DecodeServiceKey("").has_value());
}

TEST(OperationKeyTest, RoundTripsWithBinaryNames) {
  const std::string service("pay\0ment", 8);
  const std::string name("GET /x\0\xff", 8);
  auto parts = DecodeOperationKey(OperationKey(service, 3, name));
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->service, service);
  EXPECT_EQ(parts->span_kind, 3);
  EXPECT_EQ(parts->name, name);

  auto empty_name = DecodeOperationKey(OperationKey("svc", 0, ""));
  ASSERT_TRUE(empty_name.has_value());
  EXPECT_EQ(empty_name->name, "");
}

TEST(OperationKeyTest, ServicesThatArePrefixesOfEachOtherDoNotCollide) {
  // Concatenated without lengths these two would both be "o" "ab" kind "x".
  const std::string a = OperationKey("a", 0, "bx");
  const std::string ab = OperationKey("ab", 0, "x");
  EXPECT_NE(a, ab);
  const std::string prefix_a = OperationKeyPrefix("a");
  EXPECT_TRUE(a.starts_with(prefix_a));
  EXPECT_FALSE(ab.starts_with(prefix_a));
  EXPECT_FALSE(a.starts_with(OperationKeyPrefix("ab")));
  EXPECT_EQ(DecodeOperationKey(ab)->service, "ab");
  EXPECT_EQ(DecodeOperationKey(a)->service, "a");
  EXPECT_EQ(DecodeOperationKey(a)->name, "bx");
}

TEST(OperationKeyTest, KindPrefixSelectsOneKind) {
  const std::string server = OperationKey("svc", 2, "GET");
  const std::string client = OperationKey("svc", 3, "GET");
  EXPECT_TRUE(server.starts_with(OperationKeyPrefix("svc", 2)));
  EXPECT_FALSE(client.starts_with(OperationKeyPrefix("svc", 2)));
  EXPECT_TRUE(client.starts_with(OperationKeyPrefix("svc")));
}

TEST(OperationKeyTest, OutOfRangeKindIsStoredAsUnspecified) {
  EXPECT_EQ(DecodeOperationKey(OperationKey("svc", 1000, "op"))->span_kind, 0);
  EXPECT_EQ(DecodeOperationKey(OperationKey("svc", -3, "op"))->span_kind, 0);
  EXPECT_EQ(DecodeOperationKey(OperationKey("svc", 255, "op"))->span_kind, 255);
}

TEST(OperationKeyTest, LongServiceNameRoundTrips) {
  const std::string service(300, 's');  // a two-byte length
  auto parts = DecodeOperationKey(OperationKey(service, 1, "op"));
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->service, service);
  EXPECT_EQ(parts->name, "op");
}

TEST(OperationKeyTest, DecodeRejectsMalformedKeys) {
  EXPECT_FALSE(DecodeOperationKey("").has_value());
  EXPECT_FALSE(DecodeOperationKey(ServiceKey("svc")).has_value());
  // Length says 5 but only 3 service bytes and no kind byte follow.
  EXPECT_FALSE(DecodeOperationKey(std::string("o\x05svc", 5)).has_value());
  // Service complete but the kind byte is missing.
  EXPECT_FALSE(DecodeOperationKey(std::string("o\x03svc", 5)).has_value());
  // Truncated varint.
  EXPECT_FALSE(DecodeOperationKey(std::string("o\x80", 2)).has_value());
}

TEST(Varint64Test, RoundTripsAndRejectsOverlong) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 1ull << 35, 1'700'000'000'000'000'000ull, ~0ull}) {
    std::string s;
    PutVarint64(&s, v);
    s.append("x");
    std::string_view in = s;
    uint64_t out = 0;
    ASSERT_TRUE(GetVarint64(&in, &out)) << v;
    EXPECT_EQ(out, v);
    EXPECT_EQ(in, "x");
  }
  const std::string overlong("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
  std::string_view in = overlong;
  uint64_t v = 0;
  EXPECT_FALSE(GetVarint64(&in, &v));
}

TEST(LengthPrefixedTest, RoundTripsAndRejectsTruncated) {
  std::string s;
  PutLengthPrefixed(&s, std::string("a\0b", 3));
  PutLengthPrefixed(&s, "");
  std::string_view in = s;
  std::string_view a;
  std::string_view b;
  ASSERT_TRUE(GetLengthPrefixed(&in, &a));
  ASSERT_TRUE(GetLengthPrefixed(&in, &b));
  EXPECT_EQ(a, std::string_view("a\0b", 3));
  EXPECT_EQ(b, "");
  EXPECT_TRUE(in.empty());
  std::string_view truncated(
      "\x05"
      "ab",
      3);
  EXPECT_FALSE(GetLengthPrefixed(&truncated, &a));
}

TEST(BucketNameTest, RoundTripsAndRejectsOtherNames) {
  const std::string name =
      BucketColumnFamilyName(1'700'000'000'000'000'000, 1'700'086'400'000'000'000);
  EXPECT_EQ(name, "bucket-1700000000000000000-1700086400000000000");
  auto range = ParseBucketColumnFamilyName(name);
  ASSERT_TRUE(range.has_value());
  EXPECT_EQ(range->start_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(range->end_ns, 1'700'086'400'000'000'000);
  EXPECT_TRUE(ParseBucketColumnFamilyName("bucket-0-1").has_value());
  for (const char* bad : {"default", "spans", "meta", "bucket-", "bucket-1", "bucket-5-5",
                          "bucket-6-5", "bucket-a-5", "bucket-1-5x", "bucket--1-5", "bucket-1-"}) {
    EXPECT_FALSE(ParseBucketColumnFamilyName(bad).has_value()) << bad;
  }
}

TEST(KeySpaceTest, SpanAndSummaryKeysShareTheBloomPrefixLengthButNotTheirSpace) {
  const TraceId id = MakeId(7, 9);
  EXPECT_EQ(SummaryKey(id).size(), kTracePrefixBytes);
  EXPECT_EQ(SummaryKey(id)[0], kSummaryTag);
  EXPECT_EQ(SummaryKey(id).substr(1), id.view());
  EXPECT_FALSE(SpanKey(id, 1).starts_with(SummaryKey(id)));
  // Every key space starts with its own tag.
  const std::vector<std::string> keys = {SpanKey(id, 1),
                                         SummaryKey(id),
                                         ServiceKey("s"),
                                         OperationKey("s", 1, "o"),
                                         PostingKey(TimeStream(), 5, 1),
                                         SegmentTableKey(5, 1),
                                         SegmentMarkerKey(1, id),
                                         DependencyKeyOf({1, "a", "b"})};
  std::vector<char> tags;
  for (const std::string& k : keys) tags.push_back(k[0]);
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(std::adjacent_find(tags.begin(), tags.end()), tags.end());
}

TraceSummary SampleSummary(const TraceId& id) {
  TraceSummary s;
  s.trace_id = id;
  s.root_service = "frontend";
  s.root_operation = std::string("GET /\0x", 7);
  s.start_ns = 1'700'000'000'123'456'789;
  s.duration_ns = 3'000'000'001;
  s.span_count = 12;
  s.error_count = 2;
  s.orphan_span_count = 1;
  s.services = {{"checkout", 5, 2}, {"frontend", 7, 0}};
  s.sampling_policy = "slow-traces";
  s.sample_rate = 12.5;
  return s;
}

TEST(SummaryEncodingTest, RoundTrips) {
  const TraceId id = MakeId(3, 4);
  const TraceSummary s = SampleSummary(id);
  auto decoded = DecodeSummary(id, EncodeSummary(s));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, s);
  TraceSummary empty;
  empty.trace_id = id;
  EXPECT_EQ(DecodeSummary(id, EncodeSummary(empty)), empty);
}

TEST(SummaryEncodingTest, DecodesTheFirstVersionWithAnUnknownSamplingDecision) {
  // Written by a version before the sampling decision was kept: version 1, start 5, duration 7,
  // 2 spans, 1 error, 0 orphans, root "a" / "b", one service "a" with 2 spans and 1 error.
  const std::string v1(
      "\x01\x05\x07\x02\x01\x00\x01"
      "a\x01"
      "b\x01\x01"
      "a\x02\x01",
      15);
  const TraceId id = MakeId(3, 4);
  std::optional<TraceSummary> decoded = DecodeSummary(id, v1);
  ASSERT_TRUE(decoded.has_value());
  TraceSummary want;
  want.trace_id = id;
  want.start_ns = 5;
  want.duration_ns = 7;
  want.span_count = 2;
  want.error_count = 1;
  want.root_service = "a";
  want.root_operation = "b";
  want.services = {{"a", 2, 1}};
  EXPECT_EQ(*decoded, want);  // sampling_policy "", sample_rate 0
  // A version 1 record ends after its services.
  EXPECT_FALSE(DecodeSummary(id, v1 + std::string("\x00", 1)).has_value());
  // The current version writes the decision, also an empty one.
  EXPECT_NE(EncodeSummary(want), v1);
  EXPECT_EQ(DecodeSummary(id, EncodeSummary(want)), want);
}

TEST(SummaryEncodingTest, RejectsTruncatedTrailingAndForeignVersions) {
  const TraceId id = MakeId(3, 4);
  const std::string encoded = EncodeSummary(SampleSummary(id));
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(DecodeSummary(id, encoded.substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(DecodeSummary(id, encoded + "x").has_value());
  std::string other_version = encoded;
  other_version[0] = 9;
  EXPECT_FALSE(DecodeSummary(id, other_version).has_value());
}

TEST(DependencyKeyTest, RoundTripsAndSortsBySlot) {
  const DependencyKey k{42, "front\0end", "check/out"};
  auto decoded = DecodeDependencyKey(DependencyKeyOf(k));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, k);
  // Parent "a" child "bc" differs from parent "ab" child "c".
  EXPECT_NE(DependencyKeyOf({1, "a", "bc"}), DependencyKeyOf({1, "ab", "c"}));
  EXPECT_LT(DependencyKeyOf({1, "zzz", "zzz"}), DependencyKeyOf({2, "a", "a"}));
  EXPECT_LE(DependencySlotPrefix(2), DependencyKeyOf({2, "", ""}));
  EXPECT_LT(DependencyKeyOf({1, "zzz", "zzz"}), DependencySlotPrefix(2));
  EXPECT_EQ(DependencySlotPrefix(-4), DependencySlotPrefix(0));
  EXPECT_FALSE(DecodeDependencyKey("D").has_value());
  EXPECT_FALSE(DecodeDependencyKey(ServiceKey("x")).has_value());
}

TEST(CallCountsEncodingTest, RoundTripsSignedCountsAndFailedCalls) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  for (const CallCounts counts :
       {CallCounts{0, 0}, CallCounts{1, 0}, CallCounts{-1, 0}, CallCounts{max, 0}, CallCounts{5, 2},
        CallCounts{-3, -1}, CallCounts{0, max}}) {
    EXPECT_EQ(DecodeCallCounts(EncodeCallCounts(counts)), counts)
        << counts.calls << " " << counts.failed;
  }
  EXPECT_FALSE(DecodeCallCounts("1234567").has_value());
  EXPECT_FALSE(DecodeCallCounts("123456789").has_value());
  EXPECT_FALSE(DecodeCallCounts(std::string(17, '\0')).has_value());
}

TEST(CallCountsEncodingTest, AValueOfAnOlderVersionIsCallsOnly) {
  // Before failed calls were stored a value was the calls alone: int64, 8 bytes big-endian.
  const std::string old_value("\0\0\0\0\0\0\x01\x02", 8);
  EXPECT_EQ(DecodeCallCounts(old_value), (CallCounts{0x102, 0}));
  // Counts without failed calls are still written so (an older version reads them too).
  EXPECT_EQ(EncodeCallCounts(CallCounts{0x102, 0}), old_value);
  EXPECT_EQ(EncodeCallCounts(CallCounts{0x102, 3}),
            old_value + std::string("\0\0\0\0\0\0\0\x03", 8));
}

}  // namespace
}  // namespace tailtrace::storage
