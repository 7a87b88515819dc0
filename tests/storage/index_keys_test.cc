// keys.h's index keys and values (index_keys.cc): streams, segment keys, postings, service
// masks and duration buckets.

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/index/keys.h"

namespace tailtrace::storage {
namespace {

TraceId MakeId(uint8_t first, uint8_t last) {
  TraceId id;
  id.bytes[0] = first;
  id.bytes[15] = last;
  return id;
}

TEST(IndexKeyTest, PostingKeysSortBySlotThenSegmentAndDecode) {
  const std::string stream = ServiceStream("checkout");
  const std::vector<std::string> keys = {PostingKey(stream, 0, 9), PostingKey(stream, 1, 0),
                                         PostingKey(stream, 1, 1), PostingKey(stream, 255, 0),
                                         PostingKey(stream, 256, 7)};
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  for (const std::string& k : keys) EXPECT_TRUE(k.starts_with(stream));
  // Another service's stream never interleaves (streams are self-delimiting).
  EXPECT_FALSE(PostingKey(ServiceStream("checkoutx"), 0, 0).starts_with(stream));
  auto ref = DecodeSegmentSuffix(keys[2]);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->slot, 1);
  EXPECT_EQ(ref->segment, 1u);
  EXPECT_EQ(DecodeSegmentSuffix(SegmentTableKey(256, 7)), (SegmentRef{256, 7}));
  EXPECT_FALSE(DecodeSegmentSuffix("short").has_value());
  EXPECT_EQ(IndexSlot(-5), 0);
  EXPECT_EQ(IndexSlot(kIndexSlotNs * 3 + 1), 3);
}

TEST(IndexKeyTest, TagStreamsStartWithTheirKeysAndValuesPrefixes) {
  const std::string stream = ServiceTagStream("checkout", "http.method", "GET");
  EXPECT_TRUE(stream.starts_with(TagKeysPrefix("checkout")));
  EXPECT_TRUE(stream.starts_with(TagValuesPrefix("checkout", "http.method")));
  EXPECT_EQ(stream.size(), TagValuesPrefix("checkout", "http.method").size() + 4);
  // Another service's or key's streams never share the prefix (every part is length-prefixed).
  EXPECT_FALSE(ServiceTagStream("checkoutx", "k", "v").starts_with(TagKeysPrefix("checkout")));
  EXPECT_FALSE(ServiceTagStream("checkout", "http.methods", "GET")
                   .starts_with(TagValuesPrefix("checkout", "http.method")));
  // Without a service: the streams over every service.
  EXPECT_TRUE(TagStream("http.method", "GET").starts_with(TagValuesPrefix("", "http.method")));
  EXPECT_TRUE(TagStream("http.method", "GET").starts_with(TagKeysPrefix("")));
  EXPECT_FALSE(stream.starts_with(TagKeysPrefix("")));
}

TEST(IndexKeyTest, PositionsSortByStartThenTraceIdAndDecode) {
  const std::vector<IndexPos> positions = {
      MakeIndexPos(0, MakeId(9, 9)), MakeIndexPos(255, MakeId(0, 1)),
      MakeIndexPos(256, MakeId(0, 1)), MakeIndexPos(256, MakeId(0, 2)),
      MakeIndexPos(1'700'000'000'000'000'000, MakeId(0, 0))};
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  // Bytewise order is the same order (trace tables are compared as bytes).
  std::vector<std::string> bytes;
  for (const IndexPos& p : positions) bytes.emplace_back(p.begin(), p.end());
  EXPECT_TRUE(std::is_sorted(bytes.begin(), bytes.end()));
  EXPECT_EQ(IndexPosStart(positions[3]), 256);
  EXPECT_EQ(IndexPosTraceId(positions[3]), MakeId(0, 2));
  EXPECT_EQ(MakeIndexPos(-5, MakeId(0, 2)), MakeIndexPos(0, MakeId(0, 2)));
}

TEST(IndexKeyTest, MarkersOfOneSegmentShareAPrefixAndDecode) {
  const TraceId id = MakeId(4, 2);
  const std::string key = SegmentMarkerKey(12, id);
  EXPECT_TRUE(key.starts_with(SegmentMarkerPrefix(12)));
  EXPECT_LT(key, SegmentMarkerPrefix(13));
  auto decoded = DecodeSegmentMarkerKey(key);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->first, 12u);
  EXPECT_EQ(decoded->second, id);
  EXPECT_FALSE(DecodeSegmentMarkerKey(key.substr(1)).has_value());
}

TEST(PostingEncodingTest, RoundTripsWithAndWithoutValues) {
  const std::vector<uint32_t> ordinals = {0, 1, 5, 300, 70000};
  std::vector<uint32_t> decoded;
  ASSERT_TRUE(DecodePosting(EncodePosting(ordinals, nullptr), &decoded, nullptr));
  EXPECT_EQ(decoded, ordinals);
  const std::vector<std::string> owned = {"a", "", "ccc", std::string(200, 'x'), "e"};
  const std::vector<std::string_view> values(owned.begin(), owned.end());
  const std::string encoded = EncodePosting(ordinals, &values);
  std::vector<std::string_view> decoded_values;
  ASSERT_TRUE(DecodePosting(encoded, &decoded, &decoded_values));
  EXPECT_EQ(decoded, ordinals);
  EXPECT_EQ(decoded_values, values);
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(DecodePosting(encoded.substr(0, n), &decoded, &decoded_values)) << n;
  }
  // A repeated ordinal (gap 0) is malformed.
  std::string repeated;
  PutVarint32(&repeated, 2);
  PutVarint32(&repeated, 3);
  PutVarint32(&repeated, 0);
  EXPECT_FALSE(DecodePosting(repeated, &decoded, nullptr));
  // The streams whose postings carry duration ranges.
  EXPECT_TRUE(StreamHasValues(TimeStream()));
  EXPECT_TRUE(StreamHasValues(ServiceStream("s")));
  EXPECT_TRUE(StreamHasValues(OperationStream("s", "o")));
  EXPECT_FALSE(StreamHasValues(ServiceTagStream("s", "k", "v")));
  EXPECT_FALSE(StreamHasValues(TagStream("k", "v")));
  // ... and those whose stored postings carry a value: also the tags' service masks.
  EXPECT_TRUE(PostingHasValues(ServiceStream("s")));
  EXPECT_TRUE(PostingHasValues(TagStream("k", "v")));
  EXPECT_FALSE(PostingHasValues(ServiceTagStream("s", "k", "v")));
}

TEST(PostingEncodingTest, WhatFollowsTheOrdinalsTellsATagPostingOfFormat5From4) {
  const std::vector<uint32_t> ordinals = {1, 4};
  std::vector<uint32_t> decoded;
  std::string_view rest;
  const std::string format4 = EncodePosting(ordinals, nullptr);
  ASSERT_TRUE(DecodePosting(format4, &decoded, nullptr, &rest));
  EXPECT_TRUE(rest.empty());
  const std::vector<std::string_view> masks = {"\x01", ""};
  const std::string format5 = EncodePosting(ordinals, &masks);  // `rest` views into it
  ASSERT_TRUE(DecodePosting(format5, &decoded, nullptr, &rest));
  EXPECT_EQ(decoded, ordinals);
  std::vector<std::string_view> got;
  ASSERT_TRUE(GetLengthPrefixedList(&rest, decoded.size(), &got));
  EXPECT_EQ(got, masks);
  EXPECT_TRUE(rest.empty());
  std::string_view truncated = "\x01";
  EXPECT_FALSE(GetLengthPrefixedList(&truncated, 1, &got));
}

TEST(PostingEncodingTest, ServiceMasksHoldAnyServiceNumberInTheFewestBytes) {
  std::vector<uint64_t> words(3, 0);
  std::string mask;
  AppendServiceMask(&mask, words.data(), words.size());
  EXPECT_EQ(mask, "");  // no service
  for (uint32_t n : {0u, 9u, 63u, 64u, 130u}) words[n / 64] |= uint64_t{1} << (n % 64);
  AppendServiceMask(&mask, words.data(), words.size());
  EXPECT_EQ(mask.size(), 17u);  // bit 130 is in byte 16
  for (uint32_t n = 0; n < 200; ++n) {
    const bool in = n == 0 || n == 9 || n == 63 || n == 64 || n == 130;
    EXPECT_EQ(ServiceMaskHas(mask, n), in) << n;
  }
  words = {uint64_t{1} << 9, 0, 0};
  mask.clear();
  AppendServiceMask(&mask, words.data(), words.size());
  EXPECT_EQ(mask, std::string("\x00\x02", 2));
}

TEST(PostingEncodingTest, ServiceKeyAndTagStreamsDecodeIntoTheirNames) {
  const std::string stream = ServiceKeyStream("checkout", "user.id");
  EXPECT_TRUE(stream.starts_with(ServiceKeysPrefix("checkout")));
  const auto parts = DecodeServiceKeyStream(stream);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->first, "checkout");
  EXPECT_EQ(parts->second, "user.id");
  const std::string tag_stream = TagStream("k", std::string(300, 'v'));
  const auto tag = DecodeTagStream(tag_stream);  // views into tag_stream
  ASSERT_TRUE(tag.has_value());
  EXPECT_EQ(tag->first, "k");
  EXPECT_EQ(tag->second, std::string(300, 'v'));
  EXPECT_FALSE(DecodeTagStream(stream).has_value());
  EXPECT_FALSE(DecodeServiceKeyStream(ServiceKeysPrefix("checkout")).has_value());
  EXPECT_FALSE(DecodeTagStream(TagStream("k", "v") + "x").has_value());
}

TEST(PostingEncodingTest, DurationBucketsCoverEveryDurationAndAreAtMostAQuarterWide) {
  std::vector<int64_t> samples = {0,
                                  1,
                                  15,
                                  16,
                                  17,
                                  19,
                                  20,
                                  23,
                                  24,
                                  1000,
                                  999'999,
                                  1'000'000,
                                  2'000'000'000,
                                  INT64_MAX - 1,
                                  INT64_MAX};
  for (int64_t d = 1; d < INT64_MAX / 3; d *= 3) samples.push_back(d);
  for (int64_t d : samples) {
    const uint8_t code = DurationBucketCode(d);
    const DurationBucket b = DurationBucketOf(code);
    EXPECT_LE(b.lo, d) << d;
    EXPECT_GE(b.hi, d) << d;
    if (d >= 16) {
      EXPECT_LE(b.hi - b.lo, b.lo / 4) << d;
    }
    // Adjacent buckets leave no gap.
    if (code > 0) {
      EXPECT_EQ(DurationBucketOf(code - 1).hi + 1, b.lo) << d;
    }
  }
  EXPECT_EQ(DurationBucketCode(-5), 0);
  EXPECT_EQ(DurationBucketOf(DurationBucketCode(INT64_MAX)).hi, INT64_MAX);
}

TEST(PostingEncodingTest, DurationRangesRoundTripAndRejectMalformedValues) {
  DurationBucket min;
  DurationBucket max;
  for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 0}, {5, 9}, {0, INT64_MAX}, {INT64_MAX, INT64_MAX}, {300, 70000}}) {
    const std::string encoded = EncodeDurationRange(lo, hi);
    EXPECT_EQ(encoded.size(), 2u);
    ASSERT_TRUE(DecodeDurationRange(encoded, &min, &max)) << lo;
    EXPECT_TRUE(min.lo <= lo && lo <= min.hi) << lo;
    EXPECT_TRUE(max.lo <= hi && hi <= max.hi) << hi;
  }
  const std::string encoded = EncodeDurationRange(300, 70000);
  EXPECT_FALSE(DecodeDurationRange(encoded.substr(0, 1), &min, &max));
  EXPECT_FALSE(DecodeDurationRange(encoded + "x", &min, &max));
  // min after max, and a code no duration has.
  EXPECT_FALSE(DecodeDurationRange(EncodeDurationRange(70000, 300), &min, &max));
  EXPECT_FALSE(DecodeDurationRange(std::string("\x01\xff", 2), &min, &max));
}

TEST(IndexKeyTest, NoStreamIsAPrefixOfAnother) {
  // Pairs that would collide if the fields were concatenated without lengths.
  DurationTerm op_term{DurationScope::kOperation, "a", "bc", 3};
  DurationTerm op_term2{DurationScope::kOperation, "ab", "c", 3};
  DurationTerm svc_term{DurationScope::kService, "a", "", 3};
  DurationTerm any_term{DurationScope::kAny, "", "", 3};
  const std::vector<std::string> streams = {
      TimeStream(),
      ServiceStream("a"),
      ServiceStream("ab"),
      OperationStream("a", "bc"),
      OperationStream("ab", "c"),
      ServiceTagStream("a", "b", "c"),
      ServiceTagStream("a", "bc", ""),
      ServiceTagStream("ab", "", "c"),
      TagStream("a", "bc"),
      TagStream("ab", "c"),
      TagStream("k", std::string(300, 'v')),
      DurationStream(op_term),
      DurationStream(op_term2),
      DurationStream(svc_term),
      DurationStream(any_term),
      DurationStream(DurationTerm{DurationScope::kAny, "", "", 4}),
      DurationStream(DurationTerm{DurationScope::kAny, "", "", 3, true}),
      DurationStream(DurationTerm{DurationScope::kOperation, "a", "bc", 3, true}),
  };
  for (size_t i = 0; i < streams.size(); ++i) {
    for (size_t j = 0; j < streams.size(); ++j) {
      if (i == j) continue;
      EXPECT_FALSE(streams[j].starts_with(streams[i])) << i << " is a prefix of " << j;
    }
  }
}

TEST(DurationEncodingTest, RoundTripsAscendingListsAndRejectsGarbage) {
  for (const std::vector<int64_t>& v :
       {std::vector<int64_t>{}, std::vector<int64_t>{0}, std::vector<int64_t>{5, 6, 1'000'000'000},
        std::vector<int64_t>{std::numeric_limits<int64_t>::max()}}) {
    std::vector<int64_t> out;
    ASSERT_TRUE(DecodeDurations(EncodeDurations(v), &out));
    EXPECT_EQ(out, v);
  }
  std::vector<int64_t> out;
  EXPECT_FALSE(DecodeDurations("", &out));
  EXPECT_FALSE(DecodeDurations(std::string("\x02\x01", 2), &out));  // says 2, holds 1
  EXPECT_FALSE(DecodeDurations(EncodeDurations({1}) + "x", &out));
}

}  // namespace
}  // namespace tailtrace::storage
