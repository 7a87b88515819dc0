#include "http_client/gzip.h"

#include <zlib.h>

#include <string>

#include "gtest/gtest.h"

namespace tailtrace::http_client {
namespace {

// zlib's inflate of a gzip stream (15 window bits + 16: gzip only), or "<error>".
std::string Gunzip(const std::string& data, size_t size) {
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  std::string out(size + 1, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int result = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return result == Z_STREAM_END ? out : "<error>";
}

TEST(GzipFastTest, IsAGzipStreamOfTheData) {
  std::string data;
  for (int i = 0; i < 10'000; ++i) data += "span " + std::to_string(i % 100) + ";";
  const std::string compressed = GzipFast(data);
  EXPECT_LT(compressed.size(), data.size() / 4);
  ASSERT_GE(compressed.size(), 2u);
  EXPECT_EQ(compressed.substr(0, 2), "\x1f\x8b");
  EXPECT_EQ(Gunzip(compressed, data.size()), data);
  EXPECT_EQ(Gunzip(GzipFast(""), 0), "");
}

}  // namespace
}  // namespace tailtrace::http_client
