// tailtrace-bench-columns: span column blocks (proto/span_columns.h), the encoding of the RocksDB
// store's span blocks. The canonical workload's requests (512 spans of one
// service each, fresh trace IDs every pass over the pool) are grouped --block-requests at a time
// and then:
//
//   encode: EncodeSpanColumns of the group's requests into one block;
//   decode: DecodeSpanColumns of every span of a block encoded beforehand;
//   skip: DecodeSpanColumnRange of a block's last span only (what reading one trace of a block
//         pays for the spans before it: they are read, not built);
//   zstd1, zstd3, zstd6: ZSTD_compress of such a block at that level (one context, reused).
//
// Google Benchmark times each mode over the blocks --spans needs and reports spans per CPU-second
// of the process (one thread). The JSON line adds the bytes per span of the raw block and of each
// level's output, and the decoded TracesData's bytes per span. The checksum (the blocks' bytes)
// shows that every build encoded the same blocks.

#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/micro_bench.h"
#include "bench/workload.h"
#include "proto/span_columns.h"

namespace tailtrace::bench {
namespace {

// The requests of group `g` (cycling over the pool with fresh trace IDs), in `*buffers`.
void Materialize(const RequestPool& pool, uint64_t g, int per_block,
                 std::vector<std::string>* buffers, uint64_t* spans) {
  buffers->resize(static_cast<size_t>(per_block));
  for (int r = 0; r < per_block; ++r) {
    const uint64_t k = g * static_cast<uint64_t>(per_block) + static_cast<uint64_t>(r);
    const size_t i = static_cast<size_t>(k % pool.requests.size());
    (*buffers)[r].resize(pool.requests[i].size());
    pool.Materialize(i, k / pool.requests.size(), (*buffers)[r].data());
    *spans += pool.span_counts[i];
  }
}

uint64_t Checksum(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

struct Sizes {
  uint64_t spans = 0, block = 0, decoded = 0, zstd[3] = {0, 0, 0};
};

// Encodes `blocks` groups (built once, outside any timing) and records their sizes.
std::vector<std::string> EncodeAll(const RequestPool& pool, uint64_t blocks, int per_block,
                                   Sizes* sizes) {
  std::vector<std::string> out;
  std::vector<std::string> buffers;
  for (uint64_t g = 0; g < blocks; ++g) {
    Materialize(pool, g, per_block, &buffers, &sizes->spans);
    std::vector<std::string_view> views(buffers.begin(), buffers.end());
    std::string block;
    if (!EncodeSpanColumns(views, &block)) return {};
    sizes->block += block.size();
    std::string decoded;
    if (!DecodeSpanColumns(
            block, [](std::string_view) { return true; }, &decoded))
      return {};
    sizes->decoded += decoded.size();
    const int levels[3] = {1, 3, 6};
    std::string z(ZSTD_compressBound(block.size()), '\0');
    for (int l = 0; l < 3; ++l) {
      sizes->zstd[l] += ZSTD_compress(z.data(), z.size(), block.data(), block.size(), levels[l]);
    }
    out.push_back(std::move(block));
  }
  return out;
}

int Main(int argc, char** argv) {
  int64_t spans = 1'000'000;
  int64_t pool_spans = 65'536;
  int64_t block_requests = 8;
  WorkloadOptions workload;
  auto app = NewCommandLine("tailtrace-bench-columns",
                            "Span column blocks: encoding, decoding and compressing them, spans "
                            "per CPU-second\nof one thread, and their bytes per span.");
  AddInt(*app, "--spans", &spans, "spans encoded (and decoded, compressed) in each mode");
  AddInt(*app, "--pool-spans", &pool_spans, "spans pre-generated and cycled with fresh trace IDs");
  AddInt(*app, "--block-requests", &block_requests, "requests (512 spans each) per block");
  AddWorkloadFlags(*app, &workload);
  if (const int code = ParseMicroBenchmarkFlags(*app, argc, argv); code >= 0) return code;
  workload.start_unix_ns = 1'700'000'000'000'000'000;  // deterministic checksums
  const RequestPool pool =
      BuildRequestPool(workload, static_cast<uint64_t>(std::max<int64_t>(pool_spans, 1)));
  const int per_block = static_cast<int>(std::max<int64_t>(block_requests, 1));
  const uint64_t blocks = std::max<uint64_t>(
      1, pool.RequestsFor(static_cast<uint64_t>(std::max<int64_t>(spans, 1))) / per_block);
  Sizes sizes;
  const std::vector<std::string> encoded = EncodeAll(pool, blocks, per_block, &sizes);
  if (encoded.empty()) {
    std::fprintf(stderr, "tailtrace-bench-columns: a block did not encode or decode\n");
    return 1;
  }
  const uint64_t spans_per_block = sizes.spans / blocks;

  benchmark::RegisterBenchmark("encode",
                               [&](benchmark::State& state) {
                                 std::vector<std::string> buffers;
                                 std::string block;
                                 uint64_t done = 0, checksum = 0, g = 0;
                                 for (auto _ : state) {
                                   Materialize(pool, g++, per_block, &buffers, &done);
                                   std::vector<std::string_view> views(buffers.begin(),
                                                                       buffers.end());
                                   if (!EncodeSpanColumns(views, &block))
                                     state.SkipWithError("a block did not encode");
                                   checksum = Checksum(checksum, block);
                                 }
                                 ReportSpans(state, done, checksum);
                               })
      ->Iterations(static_cast<benchmark::IterationCount>(blocks))
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(
      "decode",
      [&](benchmark::State& state) {
        std::string decoded;
        uint64_t checksum = 0, g = 0;
        for (auto _ : state) {
          const std::string& block = encoded[g++ % encoded.size()];
          if (!DecodeSpanColumns(
                  block, [](std::string_view) { return true; }, &decoded)) {
            state.SkipWithError("a block did not decode");
          }
          checksum = Checksum(checksum, decoded.substr(0, 64));
        }
        ReportSpans(state, blocks * spans_per_block, checksum);
      })
      ->Iterations(static_cast<benchmark::IterationCount>(blocks))
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("skip",
                               [&](benchmark::State& state) {
                                 std::string decoded;
                                 uint64_t checksum = 0, g = 0;
                                 for (auto _ : state) {
                                   const std::string& block = encoded[g++ % encoded.size()];
                                   uint64_t count = 0;
                                   if (!CountSpanColumns(block, &count) || count == 0 ||
                                       !DecodeSpanColumnRange(block, count - 1, 1, &decoded)) {
                                     state.SkipWithError("a block's last span did not decode");
                                   }
                                   checksum = Checksum(checksum, decoded.substr(0, 64));
                                 }
                                 ReportSpans(state, blocks * spans_per_block, checksum);
                               })
      ->Iterations(static_cast<benchmark::IterationCount>(blocks))
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
  for (int level : {1, 3, 6}) {
    benchmark::RegisterBenchmark(("zstd" + std::to_string(level)).c_str(),
                                 [&, level](benchmark::State& state) {
                                   ZSTD_CCtx* ctx = ZSTD_createCCtx();
                                   std::string out;
                                   uint64_t g = 0, bytes = 0;
                                   for (auto _ : state) {
                                     const std::string& block = encoded[g++ % encoded.size()];
                                     out.resize(ZSTD_compressBound(block.size()));
                                     bytes += ZSTD_compressCCtx(ctx, out.data(), out.size(),
                                                                block.data(), block.size(), level);
                                   }
                                   ZSTD_freeCCtx(ctx);
                                   ReportSpans(state, blocks * spans_per_block, bytes);
                                 })
        ->Iterations(static_cast<benchmark::IterationCount>(blocks))
        ->MeasureProcessCPUTime()
        ->Unit(benchmark::kMillisecond);
  }
  const std::vector<MicroResult> results = RunMicroBenchmarks();

  const auto per_span = [&](uint64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(sizes.spans);
  };
  JsonLine json;
  json.Add("bench", "columns").Add("workload", DescribeWorkload(workload));
  json.Add("spans_per_block", static_cast<double>(spans_per_block));
  json.Add("wire_bytes_per_span",
           static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  json.Add("block_bytes_per_span", per_span(sizes.block));
  json.Add("decoded_bytes_per_span", per_span(sizes.decoded));
  json.Add("zstd1_bytes_per_span", per_span(sizes.zstd[0]));
  json.Add("zstd3_bytes_per_span", per_span(sizes.zstd[1]));
  json.Add("zstd6_bytes_per_span", per_span(sizes.zstd[2]));
  const bool ok = AddMicroResults(results, &json);
  json.Add("ok", ok);
  std::fprintf(stderr, "block %.1f B/span raw; zstd 1/3/6: %.1f / %.1f / %.1f B/span\n",
               per_span(sizes.block), per_span(sizes.zstd[0]), per_span(sizes.zstd[1]),
               per_span(sizes.zstd[2]));
  std::printf("%s\n", json.str().c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
