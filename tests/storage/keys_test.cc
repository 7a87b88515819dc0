#include "storage/keys.h"

#include <algorithm>
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
  const std::string prefix("O\x03svc", 5);
  EXPECT_LT(prefix + std::string("\xff\xff\xff", 3), PrefixSuccessor(prefix));
}

TEST(SpanKeyTest, RoundTripsWithTraceIdPrefix) {
  const TraceId id = MakeId(0xab, 0x01);
  const std::string key = SpanKey(id, 42);
  ASSERT_EQ(key.size(), kSpanKeyBytes);
  EXPECT_EQ(key.substr(0, kTraceIdBytes), id.view());
  EXPECT_EQ(SpanKeyPrefix(id), id.view());
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
  EXPECT_NE(keys.back().substr(0, kTraceIdBytes), SpanKeyPrefix(a));
}

TEST(SpanKeyTest, DecodeRejectsWrongLength) {
  EXPECT_FALSE(DecodeSpanKey("").has_value());
  EXPECT_FALSE(DecodeSpanKey(std::string(kSpanKeyBytes - 1, 'x')).has_value());
  EXPECT_FALSE(DecodeSpanKey(std::string(kSpanKeyBytes + 1, 'x')).has_value());
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
  // Concatenated without lengths these two would both be "O" "ab" kind "x".
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
  EXPECT_FALSE(DecodeOperationKey(std::string("O\x05svc", 5)).has_value());
  // Service complete but the kind byte is missing.
  EXPECT_FALSE(DecodeOperationKey(std::string("O\x03svc", 5)).has_value());
  // Truncated varint.
  EXPECT_FALSE(DecodeOperationKey(std::string("O\x80", 2)).has_value());
}

}  // namespace
}  // namespace tailtrace::storage
