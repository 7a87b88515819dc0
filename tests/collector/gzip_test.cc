#include "collector/gzip.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <string_view>
#include <vector>

#include "collector/gzip_internal.h"

namespace tailtrace::collector {
namespace {

using ::testing::HasSubstr;

// Some compressible but not trivial data.
std::string SampleData(size_t size) {
  std::string out;
  out.reserve(size);
  uint32_t x = 12345;
  while (out.size() < size) {
    x = x * 1103515245 + 12345;
    out.push_back(static_cast<char>('a' + (x >> 16) % 8));
  }
  return out;
}

// Compresses with zlib directly (independent of the code under test). window_bits: 15 zlib,
// 31 gzip, -15 raw deflate.
std::string ZlibCompress(const std::string& data, int window_bits) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(GzipTest, GunzipsWhatZlibCompressed) {
  const std::string data = SampleData(1 << 20);
  auto out = Gunzip(ZlibCompress(data, 31), 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, data);
}

TEST(GzipTest, InflatesZlibAndRawDeflate) {
  const std::string data = SampleData(100'000);
  std::string zlib_format(compressBound(data.size()), '\0');
  uLongf size = zlib_format.size();
  ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(zlib_format.data()), &size,
                      reinterpret_cast<const Bytef*>(data.data()), data.size(), 6),
            Z_OK);
  zlib_format.resize(size);
  auto out = Decompress(zlib_format, Compression::kDeflate, data.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, data);

  out = Decompress(ZlibCompress(data, -15), Compression::kDeflate, data.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, data);
}

TEST(GzipTest, GzipRoundTripIncludingEmpty) {
  for (const std::string& data : {std::string(), std::string("x"), SampleData(300'000)}) {
    const std::string compressed = Gzip(data);
    ASSERT_GE(compressed.size(), 18u);  // gzip header + trailer
    EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
    auto out = Gunzip(compressed, data.size());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, data);
  }
}

// Pieces compress as their concatenation, one gzip member, at either level; empty pieces
// anywhere change nothing. The fastest level still compresses.
TEST(GzipTest, PiecesCompressAsTheirConcatenation) {
  const std::string a = SampleData(70'000);
  const std::string b = SampleData(3);
  const std::string c = SampleData(200'000);
  const std::vector<std::string_view> pieces = {"", a, "", b, c, ""};
  const std::string whole = a + b + c;
  for (GzipLevel level : {GzipLevel::kFastest, GzipLevel::kDefault}) {
    const std::string compressed = Gzip(pieces, level);
    EXPECT_LT(compressed.size(), whole.size() / 2);
    auto out = Gunzip(compressed, whole.size());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, whole);
  }
  auto empty = Gunzip(Gzip(std::span<const std::string_view>(), GzipLevel::kFastest), 0);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, "");
}

TEST(GzipTest, ConcatenatedMembers) {
  auto out = Gunzip(Gzip("hello ") + ZlibCompress("world", 31), 100);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello world");
}

TEST(GzipTest, CorruptInputIsInvalidArgument) {
  auto out = Gunzip("definitely not gzip", 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("gzip"));
  EXPECT_THAT(out.status().message(), HasSubstr("corrupt"));

  std::string damaged = Gzip(SampleData(10'000));
  for (size_t i = 20; i < 60; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
  out = Gunzip(damaged, 1 << 20);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();

  out = Decompress("\x78\x9c garbage", Compression::kDeflate, 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("deflate"));
}

TEST(GzipTest, TruncatedInputIsInvalidArgument) {
  const std::string compressed = Gzip(SampleData(10'000));
  for (size_t keep : {size_t{0}, size_t{5}, compressed.size() / 2, compressed.size() - 1}) {
    auto out = Gunzip(compressed.substr(0, keep), 1 << 20);
    ASSERT_FALSE(out.ok()) << "kept " << keep;
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
    EXPECT_THAT(out.status().message(), HasSubstr("truncated"));
  }
}

TEST(GzipTest, TrailingBytesAfterDeflateStreamAreRejected) {
  auto out = Decompress(ZlibCompress("abc", 15) + "zz", Compression::kDeflate, 100);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("after the end"));
}

TEST(GzipTest, OutputLimit) {
  const std::string zeros(1 << 20, '\0');
  const std::string bomb = ZlibCompress(zeros, 31);
  ASSERT_LT(bomb.size(), 4096u);  // a small input that expands 256x or more

  auto out = Gunzip(bomb, zeros.size());  // exactly at the limit: fine
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), zeros.size());

  out = Gunzip(bomb, zeros.size() - 1);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("limit of 1048575 bytes"));

  out = Gunzip(bomb, 0);
  EXPECT_TRUE(absl::IsResourceExhausted(out.status())) << out.status();
  out = Gunzip(Gzip(""), 0);
  EXPECT_TRUE(out.ok()) << out.status();
}

// The libdeflate path sizes its output from the member's trailer and grows it when the trailer
// lies (an earlier member of several, or a forged size); the output is the same as zlib's.
TEST(GzipTest, OutputSizeDoesNotTrustTheTrailer) {
  const std::string big = SampleData(3 << 20);
  const std::string small = SampleData(10);
  // Several members: the trailer read is the last (small) member's.
  const std::string members = Gzip(big, GzipLevel::kFastest) + Gzip(small);
  auto out = Gunzip(members, big.size() + small.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, big + small);
  out = Gunzip(members, big.size() + small.size() - 1);
  EXPECT_TRUE(absl::IsResourceExhausted(out.status())) << out.status();

  // A trailer claiming less or more than the member holds is corrupt, as zlib says.
  for (uint8_t forged : {uint8_t{0x01}, uint8_t{0xff}}) {
    std::string lying = Gzip(big, GzipLevel::kFastest);
    lying[lying.size() - 1] = static_cast<char>(forged);
    out = Gunzip(lying, 1 << 30);
    ASSERT_FALSE(out.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
    EXPECT_EQ(out.status(), internal::GunzipWithZlib(lying, 1 << 30).status());
  }
}

// Both decoders give the same result on every kind of input (the fuzz harness checks it on
// arbitrary bytes): valid, corrupt, truncated, over the limit.
TEST(GzipTest, SameAsZlib) {
  const std::string data = SampleData(200'000);
  const std::string good = Gzip(data, GzipLevel::kFastest);
  std::string damaged = good;
  damaged[good.size() / 2] = static_cast<char>(damaged[good.size() / 2] ^ 0x10);
  for (const std::string& in : {good, damaged, good.substr(0, good.size() - 3), good + "x",
                                std::string("\x1f\x8b"), std::string()}) {
    for (uint64_t limit : {uint64_t{0}, uint64_t{100'000}, uint64_t{200'000}, uint64_t{1} << 20}) {
      const absl::StatusOr<std::string> fast = Gunzip(in, limit);
      const absl::StatusOr<std::string> zlib = internal::GunzipWithZlib(in, limit);
      ASSERT_EQ(fast.status().code(), zlib.status().code())
          << fast.status() << " / " << zlib.status();
      if (fast.ok()) {
        EXPECT_EQ(*fast, *zlib);
      }
    }
  }
}

}  // namespace
}  // namespace tailtrace::collector
