#include "collector/gzip.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gzip_internal.h"

namespace tailtrace::collector {
namespace {

constexpr uint64_t kOutputChunkBytes = 64 * 1024;
constexpr uInt kMaxInputChunk = UINT_MAX;

class Inflater {
 public:
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() {
    if (initialized_) inflateEnd(&z_);
  }
  bool Init(int window_bits) {
    initialized_ = inflateInit2(&z_, window_bits) == Z_OK;
    return initialized_;
  }
  z_stream* z() { return &z_; }

 private:
  z_stream z_{};
  bool initialized_ = false;
};

// True when `data` starts with a valid RFC 1950 (zlib) header.
bool HasZlibHeader(std::string_view data) {
  if (data.size() < 2) return false;
  const auto cmf = static_cast<unsigned char>(data[0]);
  const auto flg = static_cast<unsigned char>(data[1]);
  return (cmf & 0x0f) == Z_DEFLATED && (cmf >> 4) <= 7 && (cmf * 256u + flg) % 31 == 0;
}

absl::StatusOr<std::string> Inflate(std::string_view in, int window_bits, bool multi_member,
                                    const char* format, uint64_t max_output_bytes) {
  Inflater inflater;
  if (!inflater.Init(window_bits)) {
    return absl::ResourceExhaustedError(absl::StrCat(format, ": cannot initialize zlib"));
  }
  z_stream* z = inflater.z();
  size_t fed = 0;  // bytes of `in` handed to zlib so far
  auto feed = [&] {
    if (z->avail_in != 0 || fed == in.size()) return;
    const size_t n = std::min<size_t>(in.size() - fed, kMaxInputChunk);
    z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
    z->avail_in = static_cast<uInt>(n);
    fed += n;
  };
  auto input_left = [&] { return z->avail_in > 0 || fed < in.size(); };

  std::string out;
  for (;;) {
    feed();
    const uint64_t allowed = max_output_bytes - out.size();  // out.size() <= max_output_bytes
    // One byte beyond the limit is enough to detect that the output would exceed it.
    const uint64_t room = allowed >= kOutputChunkBytes ? kOutputChunkBytes : allowed + 1;
    const size_t old_size = out.size();
    out.resize(old_size + room);
    z->next_out = reinterpret_cast<Bytef*>(out.data() + old_size);
    z->avail_out = static_cast<uInt>(room);
    const int rc = inflate(z, Z_NO_FLUSH);
    out.resize(old_size + room - z->avail_out);
    if (out.size() > max_output_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          format, ": decompressed data exceeds the limit of ", max_output_bytes, " bytes"));
    }
    switch (rc) {
      case Z_STREAM_END:
        if (!input_left()) return out;
        if (!multi_member) {
          return absl::InvalidArgumentError(
              absl::StrCat(format, ": unexpected bytes after the end of the compressed stream"));
        }
        if (inflateReset(z) != Z_OK) {
          return absl::InvalidArgumentError(absl::StrCat(format, ": cannot reset zlib"));
        }
        continue;
      case Z_OK:
        if (z->avail_out == 0 || input_left()) continue;
        return absl::InvalidArgumentError(
            absl::StrCat(format, ": data is truncated (input ends inside the compressed stream)"));
      case Z_BUF_ERROR:
        if (input_left()) continue;
        return absl::InvalidArgumentError(
            absl::StrCat(format, ": data is truncated (input ends inside the compressed stream)"));
      case Z_NEED_DICT:
        return absl::InvalidArgumentError(
            absl::StrCat(format, ": data needs a preset dictionary, which is not supported"));
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError(absl::StrCat(format, ": out of memory"));
      default: {
        const std::string detail = z->msg != nullptr ? z->msg : absl::StrCat("code ", rc);
        return absl::InvalidArgumentError(
            absl::StrCat(format, ": data is corrupt (zlib: ", detail, ")"));
      }
    }
  }
}

libdeflate_decompressor* Decompressor() {
  struct Free {
    void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
  };
  thread_local std::unique_ptr<libdeflate_decompressor, Free> slot(libdeflate_alloc_decompressor());
  return slot.get();
}

// Deflate expands at most 1032:1, so a member's output is bounded by its input's size whatever
// its trailer claims (a forged size must not make us allocate the limit for a tiny request).
constexpr uint64_t kMaxDeflateRatio = 1032;

// The first output size to try for a member: the size its trailer states (exact for the last
// member, so for the usual single-member body), within the input's and the caller's bounds.
uint64_t FirstGuess(std::string_view in, uint64_t room) {
  uint64_t stated = 0;
  if (in.size() >= 18) {  // 10-byte header, 8-byte trailer: CRC-32 and ISIZE (little-endian)
    for (int i = 1; i <= 4; ++i) {
      stated = stated << 8 | static_cast<unsigned char>(in[in.size() - i]);
    }
  }
  const uint64_t bound = kMaxDeflateRatio * in.size() + 64;
  return std::min({room, std::max<uint64_t>(stated, 4 * in.size()), bound});
}

// gzip with libdeflate (about 2.5x zlib's inflate speed on OTLP batches, and its CRC-32 is
// faster still), member by member. nullopt unless every member decoded within the limit: for
// corrupt, truncated or oversized input the zlib path decodes it again and has the last word, so
// that the answer (and its message) does not depend on where each decoder notices the problem.
std::optional<std::string> GunzipFast(std::string_view in, uint64_t max_output_bytes) {
  libdeflate_decompressor* d = Decompressor();
  if (d == nullptr || in.empty()) return std::nullopt;
  std::string out;
  while (!in.empty()) {
    const uint64_t room = max_output_bytes - out.size();
    uint64_t guess = FirstGuess(in, room);
    for (;;) {
      const size_t old_size = out.size();
      out.resize(old_size + guess);
      size_t in_used = 0;
      size_t produced = 0;
      const libdeflate_result rc = libdeflate_gzip_decompress_ex(
          d, in.data(), in.size(), out.data() + old_size, guess, &in_used, &produced);
      if (rc == LIBDEFLATE_SUCCESS) {
        out.resize(old_size + produced);
        in.remove_prefix(in_used);
        break;
      }
      if (rc != LIBDEFLATE_INSUFFICIENT_SPACE || guess == room) return std::nullopt;
      out.resize(old_size);
      guess = std::min(room, 2 * guess);
    }
  }
  return out;
}

}  // namespace

namespace internal {
absl::StatusOr<std::string> GunzipWithZlib(std::string_view compressed, uint64_t max_output_bytes) {
  return Inflate(compressed, 16 + MAX_WBITS, /*multi_member=*/true, "gzip", max_output_bytes);
}
}  // namespace internal

absl::StatusOr<std::string> Decompress(std::string_view compressed, Compression compression,
                                       uint64_t max_output_bytes) {
  switch (compression) {
    case Compression::kGzip:
      if (std::optional<std::string> fast = GunzipFast(compressed, max_output_bytes)) {
        return *std::move(fast);
      }
      return internal::GunzipWithZlib(compressed, max_output_bytes);
    case Compression::kDeflate:
      return Inflate(compressed, HasZlibHeader(compressed) ? MAX_WBITS : -MAX_WBITS,
                     /*multi_member=*/false, "deflate", max_output_bytes);
  }
  return absl::InvalidArgumentError("unknown compression");
}

absl::StatusOr<std::string> Gunzip(std::string_view compressed, uint64_t max_output_bytes) {
  return Decompress(compressed, Compression::kGzip, max_output_bytes);
}

std::string Gzip(std::string_view data, GzipLevel level) {
  return Gzip(std::span<const std::string_view>(&data, 1), level);
}

// libdeflate compresses whole buffers: on OTLP spans at level 1 about 1.8x zlib's speed for the
// same size (bench/README "Cluster mode"). One compressor per thread and level (level 1's holds
// about 100 KiB).
libdeflate_compressor* Compressor(GzipLevel level) {
  struct Free {
    void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
  };
  thread_local std::unique_ptr<libdeflate_compressor, Free> fastest;
  thread_local std::unique_ptr<libdeflate_compressor, Free> standard;
  auto& slot = level == GzipLevel::kFastest ? fastest : standard;
  if (slot == nullptr) slot.reset(libdeflate_alloc_compressor(static_cast<int>(level)));
  return slot.get();
}

std::string Gzip(std::span<const std::string_view> pieces, GzipLevel level) {
  libdeflate_compressor* compressor = Compressor(level);
  if (compressor == nullptr) return "";
  std::string joined;
  std::string_view input;
  if (pieces.size() == 1) {
    input = pieces[0];
  } else {
    uint64_t total = 0;
    for (std::string_view piece : pieces) total += piece.size();
    joined.reserve(total);
    for (std::string_view piece : pieces) joined.append(piece);
    input = joined;
  }
  std::string out(libdeflate_gzip_compress_bound(compressor, input.size()), '\0');
  const size_t n =
      libdeflate_gzip_compress(compressor, input.data(), input.size(), out.data(), out.size());
  if (n == 0) return "";  // cannot happen with a bound-sized buffer
  out.resize(n);
  // A forwarded batch keeps its compressed bytes until its peer answers: not the bound's room.
  out.shrink_to_fit();
  return out;
}

}  // namespace tailtrace::collector
