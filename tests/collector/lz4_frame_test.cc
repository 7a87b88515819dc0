#include "collector/lz4_frame.h"

#include <lz4frame.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailtrace::collector {
namespace {

using ::testing::HasSubstr;

std::string Text(size_t n) {
  std::string s;
  while (s.size() < n) s += "checkout span http.route=/cart/{id} db.statement=SELECT 1; ";
  s.resize(n);
  return s;
}

std::string Frame(std::string_view data) {
  const std::string_view pieces[] = {data};
  return Lz4FrameCompress(pieces);
}

TEST(Lz4FrameTest, PiecesRoundTripAsTheirConcatenation) {
  const std::string a = Text(100'000), b = "", c = Text(7);
  const std::string_view pieces[] = {a, b, c};
  const std::string frame = Lz4FrameCompress(pieces);
  ASSERT_FALSE(frame.empty());
  EXPECT_LT(frame.size(), a.size() / 4) << "repetitive text compresses";
  absl::StatusOr<std::string> out = Lz4FrameDecompress(frame, 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, a + b + c);
}

// Each piece may end a block of its own: many small pieces that do not compress still fit.
TEST(Lz4FrameTest, ManySmallIncompressiblePiecesRoundTrip) {
  std::vector<std::string> owned;
  uint64_t state = 0x9e3779b97f4a7c15;
  for (int i = 0; i < 2000; ++i) {
    std::string piece(37, '\0');
    for (char& c : piece) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      c = static_cast<char>(state >> 56);
    }
    owned.push_back(std::move(piece));
  }
  std::vector<std::string_view> pieces(owned.begin(), owned.end());
  const std::string frame = Lz4FrameCompress(pieces);
  ASSERT_FALSE(frame.empty());
  std::string all;
  for (const std::string& piece : owned) all += piece;
  absl::StatusOr<std::string> out = Lz4FrameDecompress(frame, all.size());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, all);
}

TEST(Lz4FrameTest, AnEmptyContentRoundTrips) {
  absl::StatusOr<std::string> out = Lz4FrameDecompress(Frame(""), 10);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "");
}

TEST(Lz4FrameTest, ContentUpToTheBoundDecodesAndOneByteMoreIsResourceExhausted) {
  const std::string data = Text(50'000);
  EXPECT_TRUE(Lz4FrameDecompress(Frame(data), data.size()).ok());
  absl::StatusOr<std::string> out = Lz4FrameDecompress(Frame(data), data.size() - 1);
  EXPECT_TRUE(absl::IsResourceExhausted(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("exceeds 49999 bytes"));
}

TEST(Lz4FrameTest, ABombStopsAtTheBound) {
  const std::string zeros(64 << 20, '\0');  // a few hundred KiB as a frame
  const std::string frame = Frame(zeros);
  ASSERT_LT(frame.size(), 1u << 20);
  EXPECT_TRUE(absl::IsResourceExhausted(Lz4FrameDecompress(frame, 4 << 20).status()));
}

TEST(Lz4FrameTest, NotAFrameIsInvalidArgument) {
  absl::StatusOr<std::string> out = Lz4FrameDecompress("\x0a\x05hello protobuf", 1 << 20);
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("lz4 frame"));
}

TEST(Lz4FrameTest, ATruncatedFrameIsInvalidArgument) {
  const std::string frame = Frame(Text(10'000));
  for (size_t keep : {size_t{0}, size_t{3}, frame.size() / 2, frame.size() - 1}) {
    absl::StatusOr<std::string> out = Lz4FrameDecompress(frame.substr(0, keep), 1 << 20);
    EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << keep << ": " << out.status();
  }
}

// The frames carry their content size and no content checksum (FLG byte after the magic number:
// bit 3 content size, bit 2 content checksum).
TEST(Lz4FrameTest, FramesDeclareTheirSizeAndCarryNoChecksum) {
  const std::string frame = Frame(Text(10'000));
  ASSERT_GT(frame.size(), 4u);
  const auto flags = static_cast<uint8_t>(frame[4]);
  EXPECT_NE(flags & 0x08, 0) << "content size";
  EXPECT_EQ(flags & 0x04, 0) << "content checksum";
}

// A frame from another encoder may carry checksums: they are verified.
TEST(Lz4FrameTest, AChecksumInTheFrameIsVerified) {
  const std::string text = Text(10'000);
  LZ4F_preferences_t prefs = LZ4F_INIT_PREFERENCES;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
  std::string frame(LZ4F_compressFrameBound(text.size(), &prefs), '\0');
  const size_t n = LZ4F_compressFrame(frame.data(), frame.size(), text.data(), text.size(), &prefs);
  ASSERT_FALSE(LZ4F_isError(n));
  frame.resize(n);
  absl::StatusOr<std::string> out = Lz4FrameDecompress(frame, 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, text);
  frame[frame.size() / 2] ^= 0x20;
  EXPECT_TRUE(absl::IsInvalidArgument(Lz4FrameDecompress(frame, 1 << 20).status()));
}

// Without checksums a corrupted byte may decode to other bytes, but never past the bound and never
// out of the input: every byte of a frame flipped in turn.
TEST(Lz4FrameTest, ACorruptedByteStaysWithinTheBound) {
  const std::string text = Text(3'000);
  const std::string frame = Frame(text);
  for (size_t i = 0; i < frame.size(); ++i) {
    std::string bad = frame;
    bad[i] ^= 0x20;
    absl::StatusOr<std::string> out = Lz4FrameDecompress(bad, 4'000);
    if (out.ok()) EXPECT_LE(out->size(), 4'000u) << i;
  }
}

TEST(Lz4FrameTest, BytesAfterTheFrameThatAreNotAFrameAreInvalidArgument) {
  absl::StatusOr<std::string> out = Lz4FrameDecompress(Frame("abc") + "xyz", 1 << 20);
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("after a frame"));
}

TEST(Lz4FrameTest, ConcatenatedFramesDecodeToTheConcatenationOfTheirContents) {
  const std::string a = Text(70'000), b = "", c = Text(5);
  absl::StatusOr<std::string> out = Lz4FrameDecompress(Frame(a) + Frame(b) + Frame(c), 1 << 20);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, a + b + c);
}

TEST(Lz4FrameTest, TheBoundHoldsOverAllTheFrames) {
  const std::string a = Text(30'000), b = Text(20'000);
  const std::string frames = Frame(a) + Frame(b);
  EXPECT_TRUE(Lz4FrameDecompress(frames, 50'000).ok());
  absl::StatusOr<std::string> out = Lz4FrameDecompress(frames, 49'999);
  EXPECT_TRUE(absl::IsResourceExhausted(out.status())) << out.status();
  EXPECT_THAT(out.status().message(), HasSubstr("exceeds 49999 bytes"));
  const std::string good = Frame(a);
  std::string bad = Frame(b);
  bad[bad.size() / 2] ^= 0x20;
  EXPECT_TRUE(absl::IsInvalidArgument(Lz4FrameDecompress(good + bad, 1 << 20).status()))
      << "a corrupt second frame fails the whole";
}

}  // namespace
}  // namespace tailtrace::collector
