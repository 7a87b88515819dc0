#include "collector/lz4_frame.h"

#include <lz4frame.h>

#include <algorithm>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tailtrace::collector {
namespace {

struct FreeCompressionContext {
  void operator()(LZ4F_cctx* c) const { LZ4F_freeCompressionContext(c); }
};
struct FreeDecompressionContext {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};

absl::Status FrameError(const char* what, size_t code) {
  return absl::InvalidArgumentError(
      absl::StrCat("lz4 frame: ", what, ": ", LZ4F_getErrorName(code)));
}

// Decodes the frame at `frames[*in_used]` into `*out` from `*out_used` on, advancing both, growing
// `*out` up to `limit` bytes: ResourceExhausted past it.
absl::Status DecodeFrame(LZ4F_dctx* ctx, std::string_view frames, uint64_t limit, size_t* in_used,
                         std::string* out, size_t* out_used) {
  LZ4F_resetDecompressionContext(ctx);
  // The header first: its declared content size sizes the output (plus one byte, so that a frame
  // ending exactly there needs no second buffer). It is a hint only, the input being untrusted:
  // the output grows as it is produced.
  LZ4F_frameInfo_t info = LZ4F_INIT_FRAMEINFO;
  const std::string_view frame = frames.substr(*in_used);
  size_t header = frame.size();
  if (const size_t hint = LZ4F_getFrameInfo(ctx, &info, frame.data(), &header);
      LZ4F_isError(hint)) {
    return FrameError(*in_used == 0 ? "header" : "header after a frame", hint);
  }
  size_t used = header;
  // LZ4 cannot expand a block more than 255 times: a larger declared size is a lie.
  const uint64_t plausible = frame.size() * 255 + 4096;
  const uint64_t declared = info.contentSize > 0 ? info.contentSize + 1 : frame.size() * 4;
  const uint64_t wanted = *out_used + std::min(plausible, std::max<uint64_t>(declared, 4096));
  if (out->size() < wanted) out->resize(std::min(limit, wanted));
  while (true) {
    if (*out_used == out->size()) {
      if (out->size() >= limit) {
        return absl::ResourceExhaustedError(
            absl::StrCat("lz4 frame: content exceeds ", limit - 1, " bytes"));
      }
      out->resize(std::min<uint64_t>(limit, out->size() * 2));
    }
    size_t out_size = out->size() - *out_used;
    size_t in_size = frame.size() - used;
    const size_t hint = LZ4F_decompress(ctx, out->data() + *out_used, &out_size,
                                        frame.data() + used, &in_size, nullptr);
    if (LZ4F_isError(hint)) return FrameError("corrupt", hint);
    used += in_size;
    *out_used += out_size;
    if (hint == 0) break;  // the frame ended
    if (used == frame.size() && *out_used < out->size()) {
      return absl::InvalidArgumentError("lz4 frame: truncated (the input ends inside the frame)");
    }
  }
  *in_used += used;
  return absl::OkStatus();
}

}  // namespace

std::string Lz4FrameCompress(std::span<const std::string_view> pieces) {
  // One context and output scratch per thread, reused: a fresh context and a zero-filled output
  // buffer per call cost more than compressing a batch.
  thread_local std::unique_ptr<LZ4F_cctx, FreeCompressionContext> ctx;
  thread_local std::string scratch;
  if (ctx == nullptr) {
    LZ4F_cctx* raw = nullptr;
    if (LZ4F_isError(LZ4F_createCompressionContext(&raw, LZ4F_VERSION))) return "";
    ctx.reset(raw);
  }
  uint64_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  LZ4F_preferences_t prefs = LZ4F_INIT_PREFERENCES;
  prefs.frameInfo.contentSize = total;
  // No content checksum: xxHash32 over the content took 30% of the encoding's time and 60% of the
  // decoding's (lz4 1.9.4), and protects nothing the transport does not: TCP (and TLS, when on)
  // already checks the bytes, and the owner scans the decoded request as untrusted input.
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  // Independent 64 KiB blocks, staged by lz4 from the pieces: linked blocks compress to 4% fewer
  // bytes (16.8% of a request against 17.5%) at 60% of the speed, since each block then saves the
  // 64 KiB before it as the next one's dictionary (lz4 1.9.4, bench/README.md "Cluster mode").
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  // lz4 bounds each update call's output by LZ4F_compressBound of its own input (and the end
  // mark's by that of 0 bytes); each call writes at most that, so the sum bounds the frame.
  size_t bound = LZ4F_HEADER_SIZE_MAX + LZ4F_compressBound(0, &prefs);
  for (std::string_view piece : pieces) bound += LZ4F_compressBound(piece.size(), &prefs);
  if (scratch.size() < bound) scratch.resize(bound);
  size_t n = LZ4F_compressBegin(ctx.get(), scratch.data(), scratch.size(), &prefs);
  if (LZ4F_isError(n)) return "";
  size_t used = n;
  for (std::string_view piece : pieces) {
    n = LZ4F_compressUpdate(ctx.get(), scratch.data() + used, scratch.size() - used, piece.data(),
                            piece.size(), nullptr);
    if (LZ4F_isError(n)) return "";
    used += n;
  }
  n = LZ4F_compressEnd(ctx.get(), scratch.data() + used, scratch.size() - used, nullptr);
  if (LZ4F_isError(n)) return "";
  used += n;
  // The scratch of one huge batch is not kept.
  std::string out(scratch.data(), used);
  if (scratch.size() > (16u << 20)) std::string().swap(scratch);
  return out;
}

absl::StatusOr<std::string> Lz4FrameDecompress(std::string_view frames, uint64_t max_output_bytes) {
  // One context per thread, reset for each frame (a failed frame leaves it mid-frame).
  thread_local std::unique_ptr<LZ4F_dctx, FreeDecompressionContext> ctx;
  if (ctx == nullptr) {
    LZ4F_dctx* raw = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
      return absl::ResourceExhaustedError("lz4 frame: cannot allocate a decompression context");
    }
    ctx.reset(raw);
  }
  // Up to one byte past the bound, which tells that the content exceeds it.
  const uint64_t limit = max_output_bytes + 1;
  std::string out;
  size_t out_used = 0;
  size_t in_used = 0;
  do {
    if (absl::Status frame = DecodeFrame(ctx.get(), frames, limit, &in_used, &out, &out_used);
        !frame.ok()) {
      return frame;
    }
  } while (in_used < frames.size() && out_used <= max_output_bytes);
  if (out_used > max_output_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("lz4 frame: content exceeds ", max_output_bytes, " bytes"));
  }
  out.resize(out_used);
  return out;
}

}  // namespace tailtrace::collector
