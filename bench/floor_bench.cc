// tailtrace-bench-floor: the least work a durable span store must do, as a yardstick for the
// daemon, on the requests the load generator sends. Two floors (--mode):
//
//   append (the floor): each request is copied out of a receive buffer and scanned with
//     ScanExportRequest (proto/otlp_wire.h, what the receivers run, with the daemon's default
//     span limits). Its resources and scopes (once each) and its spans' bytes (each with a
//     varint length) are compressed in 64 KiB blocks with the codec RocksTraceStore writes span
//     chunks with (storage/rocks/rocks_options.cc: LZ4 at RocksDB's default level, acceleration 1,
//     in the span column family's 64 KiB blocks; --codec zstd is its bottommost level's, level 6),
//     and appended to one file as a frame of the write-ahead log's format (wal/wal.h: length,
//     CRC-32, sequence number), one write per request. Like the log's default (wal.fsync: false),
//     nothing is synced; --fsync adds an fdatasync per request, as `wal: {fsync: true}` does.
//   rocksdb (issue 5's floor): each request is parsed with protobuf on an arena, its spans
//     grouped by trace ID (resource and scope copied once per group), each group serialized and
//     Put as a raw blob under trace_id | sequence, one RocksDB WriteBatch (WAL on, not synced) per
//     request, with the store's memtable size and compression (LZ4, ZSTD bottommost).
//
// Neither samples, indexes or summarizes. Reports spans per CPU-second of the whole process
// (RocksDB's background flushes and compactions included) and per wall second.

#include <fcntl.h>
#include <libdeflate.h>
#include <lz4.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/bench_util.h"
#include "bench/workload.h"
#include "google/protobuf/arena.h"
#include "proto/otlp_ids.h"
#include "proto/otlp_wire.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::TracesData;

// The span column family's block size (kBucketBlockBytes in storage/rocks/rocks_options.cc).
constexpr size_t kBlockBytes = 64 << 10;
// The store's codecs: RocksDB's LZ4 at its default level is acceleration 1; the bottommost level's
// ZSTD is level 6 (kBottommostZstdLevel in storage/rocks/rocks_options.cc; with a trained
// dictionary, which the floor does without).
constexpr int kStoreLz4Acceleration = 1;
constexpr int kStoreZstdLevel = 6;
// The write-ahead log's frame header: u32 payload length | u32 CRC-32 | u64 sequence number.
constexpr size_t kFrameHeaderBytes = 16;

struct FloorFlags {
  int64_t spans = 2'000'000;
  std::string path;
  std::string mode = "append";
  std::string codec = "lz4";
  int level = -1;  // -1: the store's (LZ4 acceleration 1, ZSTD level 6); set by ParseFlags
  bool fsync = false;
  int64_t write_buffer_mb = 64;
  int64_t pool_spans = 0;  // 0: min(spans, 262144)
  WorkloadOptions workload;
};

// What one floor did.
struct FloorResult {
  uint64_t spans = 0;
  uint64_t requests = 0;
  uint64_t records = 0;       // frames appended, or blobs Put
  uint64_t raw_bytes = 0;     // bytes before compression (append) or blob bytes (rocksdb)
  uint64_t stored_bytes = 0;  // bytes appended to the file (append)
  double cpu = 0;
  double wall = 0;
  std::string error;  // empty when it ran
};

// ---- append: scan, compress, append ------------------------------------------------------------

void PutU32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

void PutU64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Compresses a buffer in kBlockBytes blocks, each appended as u32 raw size | u32 compressed
// size | compressed bytes. One instance, reused: no allocation per block.
class BlockCompressor {
 public:
  BlockCompressor(bool zstd, int level)
      : zstd_(zstd), level_(level), lz4_state_(zstd ? 0 : (LZ4_sizeofState() + 7) / 8) {
    if (zstd_) cctx_ = ZSTD_createCCtx();
  }
  ~BlockCompressor() { ZSTD_freeCCtx(cctx_); }
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;

  // Appends the blocks of `in` to `out`; false if the codec failed.
  bool Compress(std::string_view in, std::string* out) {
    for (size_t at = 0; at < in.size(); at += kBlockBytes) {
      const size_t n = std::min(kBlockBytes, in.size() - at);
      const size_t header = out->size();
      const size_t bound = zstd_ ? ZSTD_compressBound(n) : LZ4_compressBound(static_cast<int>(n));
      out->resize(header + 8 + bound);
      char* dst = out->data() + header + 8;
      size_t written = 0;
      if (zstd_) {
        written = ZSTD_compressCCtx(cctx_, dst, bound, in.data() + at, n, level_);
        if (ZSTD_isError(written)) return false;
      } else {
        const int w =
            LZ4_compress_fast_extState(lz4_state_.data(), in.data() + at, dst, static_cast<int>(n),
                                       static_cast<int>(bound), level_);
        if (w <= 0) return false;
        written = static_cast<size_t>(w);
      }
      PutU32(static_cast<uint32_t>(n), out->data() + header);
      PutU32(static_cast<uint32_t>(written), out->data() + header + 4);
      out->resize(header + 8 + written);
    }
    return true;
  }

 private:
  const bool zstd_;
  const int level_;
  std::vector<uint64_t> lz4_state_;  // LZ4_compress_fast_extState's state, 8-byte aligned
  ZSTD_CCtx* cctx_ = nullptr;
};

// The bytes a store keeps of a scanned request: each resource and scope once, then every span's
// bytes with a varint length.
void RequestRecord(const WireRequest& wire, std::string* out) {
  out->clear();
  for (const std::string& resource : wire.resources) {
    AppendVarint(resource.size(), out);
    out->append(resource);
  }
  for (const WireGroup& group : wire.groups) {
    AppendVarint(group.scope.size(), out);
    out->append(group.scope);
  }
  for (const WireSpan& span : wire.spans) {
    AppendVarint(span.size, out);
    out->append(wire.bytes, span.offset, span.size);
  }
}

// Writes all of `bytes` to `fd` (one write unless the kernel takes less); false on an error.
bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Fills the frame header in front of frame[kFrameHeaderBytes..]: as wal.cc's frames, the CRC
// covers the sequence number and the payload.
void SealFrame(uint64_t lsn, std::string* frame) {
  const size_t payload = frame->size() - kFrameHeaderBytes;
  char* header = frame->data();
  PutU32(static_cast<uint32_t>(payload), header);
  PutU64(lsn, header + 8);
  const uint32_t crc = libdeflate_crc32(0, header + 8, frame->size() - 8);
  PutU32(crc, header + 4);
}

// The append floor's state: the file and the buffers every request reuses.
class Appender {
 public:
  Appender(const FloorFlags& flags, int fd)
      : flags_(flags), fd_(fd), compressor_(flags.codec == "zstd", flags.level) {}

  // Scans, compresses and appends one received request (taking its bytes; `received` gets a
  // buffer back to reuse). Sets r->error on a failure.
  void Append(uint64_t lsn, std::string* received, FloorResult* r) {
    if (!ScanExportRequest(std::move(*received), SpanLimits(), &wire_).ok()) {
      r->error = "request " + std::to_string(lsn) + " does not scan";
      return;
    }
    RequestRecord(wire_, &record_);
    *received = std::move(wire_.bytes);
    frame_.assign(kFrameHeaderBytes, '\0');
    if (!compressor_.Compress(record_, &frame_)) {
      r->error = "compression failed";
      return;
    }
    SealFrame(lsn, &frame_);
    if (!WriteAll(fd_, frame_)) {
      r->error = "write to " + flags_.path + ": " + std::strerror(errno);
    } else if (flags_.fsync && ::fdatasync(fd_) != 0) {
      r->error = "fdatasync of " + flags_.path + ": " + std::strerror(errno);
    }
    r->spans += wire_.spans.size();
    r->raw_bytes += record_.size();
    r->stored_bytes += frame_.size();
    ++r->records;
  }

 private:
  const FloorFlags& flags_;
  const int fd_;
  BlockCompressor compressor_;
  WireRequest wire_;
  std::string record_;
  std::string frame_;
};

FloorResult RunAppend(const FloorFlags& flags, const RequestPool& pool) {
  FloorResult r;
  const int fd = ::open(flags.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    r.error = "cannot create --path " + flags.path + ": " + std::strerror(errno);
    return r;
  }
  Appender appender(flags, fd);
  const uint64_t total = pool.RequestsFor(static_cast<uint64_t>(flags.spans));
  std::string received;
  const double cpu0 = ProcessCpuSeconds();
  const double wall0 = WallSeconds();
  for (; r.requests < total && r.error.empty(); ++r.requests) {
    const size_t i = r.requests % pool.requests.size();
    received.resize(pool.requests[i].size());
    pool.Materialize(i, r.requests / pool.requests.size(), received.data());
    appender.Append(r.requests + 1, &received, &r);
  }
  r.cpu = ProcessCpuSeconds() - cpu0;
  r.wall = WallSeconds() - wall0;
  ::close(fd);
  std::error_code ec;
  std::filesystem::remove(flags.path, ec);
  return r;
}

// ---- rocksdb: protobuf parse, raw blobs by trace ID
// ----------------------------------------------

std::unique_ptr<rocksdb::DB> OpenFloorDb(const FloorFlags& flags, std::string* error) {
  std::error_code ec;
  std::filesystem::remove_all(flags.path, ec);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = static_cast<size_t>(flags.write_buffer_mb) << 20;
  options.max_background_jobs = 2;
  options.compression = rocksdb::kLZ4Compression;
  options.bottommost_compression = rocksdb::kZSTD;
  options.level_compaction_dynamic_level_bytes = true;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, flags.path, &raw_db);
  if (!s.ok()) *error = "opening RocksDB at --path " + flags.path + ": " + s.ToString();
  return std::unique_ptr<rocksdb::DB>(raw_db);
}

// Moves the spans of `request` into one TracesData per trace ID (on the request's arena), with
// its resource and scope copied once per group. Returns the spans moved.
uint64_t GroupByTrace(ExportTraceServiceRequest* request, google::protobuf::Arena* arena,
                      absl::flat_hash_map<TraceId, TracesData*>* groups) {
  uint64_t moved = 0;
  absl::flat_hash_map<TraceId, ScopeSpans*> dest;
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      dest.clear();
      for (auto& span : *ss.mutable_spans()) {
        const TraceId id = TraceId::FromBytes(span.trace_id());
        ScopeSpans*& d = dest[id];
        if (d == nullptr) {
          TracesData*& g = (*groups)[id];
          if (g == nullptr) g = google::protobuf::Arena::CreateMessage<TracesData>(arena);
          auto* out_rs = g->add_resource_spans();
          *out_rs->mutable_resource() = rs.resource();
          d = out_rs->add_scope_spans();
          *d->mutable_scope() = ss.scope();
        }
        *d->add_spans() = std::move(span);  // same arena: the move is a pointer swap
        ++moved;
      }
    }
  }
  return moved;
}

// One request into `db`: parse, group, one WriteBatch of blobs keyed trace_id | seq.
bool PutRequest(rocksdb::DB* db, const std::string& received, uint64_t* seq, FloorResult* r) {
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 256 << 10;
  arena_options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(arena_options);  // no per-field allocation or free
  auto* request = google::protobuf::Arena::CreateMessage<ExportTraceServiceRequest>(&arena);
  if (!request->ParseFromString(received)) {
    r->error = "request " + std::to_string(r->requests) + " does not parse";
    return false;
  }
  absl::flat_hash_map<TraceId, TracesData*> groups;
  r->spans += GroupByTrace(request, &arena, &groups);
  rocksdb::WriteBatch batch;
  std::string key(24, '\0');
  std::string value;
  for (const auto& [trace_id, data] : groups) {
    value.clear();
    data->AppendToString(&value);
    std::memcpy(key.data(), trace_id.view().data(), 16);
    ++*seq;
    for (int b = 0; b < 8; ++b) key[16 + b] = static_cast<char>(*seq >> (56 - 8 * b));
    batch.Put(key, value);
    ++r->records;
    r->raw_bytes += value.size();
  }
  const rocksdb::Status s = db->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) r->error = "write: " + s.ToString();
  return s.ok();
}

FloorResult RunRocksdb(const FloorFlags& flags, const RequestPool& pool) {
  FloorResult r;
  std::unique_ptr<rocksdb::DB> db = OpenFloorDb(flags, &r.error);
  if (db == nullptr) return r;
  const uint64_t total = pool.RequestsFor(static_cast<uint64_t>(flags.spans));
  std::string received;
  uint64_t seq = 0;
  const double cpu0 = ProcessCpuSeconds();
  const double wall0 = WallSeconds();
  for (; r.requests < total; ++r.requests) {
    const size_t i = r.requests % pool.requests.size();
    received.resize(pool.requests[i].size());
    pool.Materialize(i, r.requests / pool.requests.size(), received.data());
    if (!PutRequest(db.get(), received, &seq, &r)) break;
  }
  r.cpu = ProcessCpuSeconds() - cpu0;
  r.wall = WallSeconds() - wall0;
  db.reset();
  std::error_code ec;
  std::filesystem::remove_all(flags.path, ec);
  return r;
}

// ---- main --------------------------------------------------------------------------------------

// Returns -1 to go on, else the exit code.
int ParseFlags(int argc, char** argv, FloorFlags* f) {
  auto app = NewCommandLine(
      "tailtrace-bench-floor",
      "The floor: the least a durable span store must do, on the canonical requests. append:\n"
      "ScanExportRequest + the store's codec + an append in the write-ahead log's format.\n"
      "rocksdb (issue 5's floor): protobuf parse + raw blobs keyed by trace ID in RocksDB.");
  AddInt(*app, "--spans", &f->spans, "spans to write");
  app->add_option("--path", f->path,
                  "append: the file to append to; rocksdb: the RocksDB directory (created; "
                  "removed first when it exists, and at the end)")
      ->required();
  app->add_option("--mode", f->mode, "append (the floor) or rocksdb (issue 5's floor)")
      ->check(CLI::IsMember({"append", "rocksdb"}))
      ->capture_default_str();
  app->add_option("--codec", f->codec,
                  "append: lz4 (the store's span chunks as flushed) or zstd (its bottommost "
                  "level)")
      ->check(CLI::IsMember({"lz4", "zstd"}))
      ->capture_default_str();
  AddInt(*app, "--level", &f->level, "append: LZ4 acceleration or ZSTD level")
      ->default_str("the store's: LZ4 1, ZSTD 6");
  AddBool(*app, "--fsync", &f->fsync,
          "append: fdatasync after every request (wal.fsync: true); the log's default is off");
  AddInt(*app, "--write-buffer", &f->write_buffer_mb,
         "rocksdb: write_buffer_size in MiB, as the store's");
  AddInt(*app, "--pool-spans", &f->pool_spans,
         "spans pre-generated and cycled with fresh trace IDs")
      ->default_str("min(spans, 262144)");
  AddWorkloadFlags(*app, &f->workload);
  if (const int code = ParseCommandLine(*app, argc, argv); code >= 0) return code;
  if (f->pool_spans <= 0) f->pool_spans = std::min<int64_t>(f->spans, 262'144);
  if (f->level < 0) f->level = f->codec == "zstd" ? kStoreZstdLevel : kStoreLz4Acceleration;
  return -1;
}

void Report(const FloorFlags& flags, const RequestPool& pool, const FloorResult& r) {
  const double rate = r.cpu > 0 ? static_cast<double>(r.spans) / r.cpu : 0;
  const double wall_rate = r.wall > 0 ? static_cast<double>(r.spans) / r.wall : 0;
  const double spans = std::max<double>(1, static_cast<double>(r.spans));
  const bool append = flags.mode == "append";
  std::fprintf(stderr,
               "floor %s%s%s: %llu spans (%llu %s, %.1f MB) in %.2f CPU-s = %.0f spans/CPU-s, "
               "%.0f spans/wall-s\n",
               flags.mode.c_str(), append ? " " : "", append ? flags.codec.c_str() : "",
               static_cast<unsigned long long>(r.spans), static_cast<unsigned long long>(r.records),
               append ? "frames" : "blobs",
               static_cast<double>(append ? r.stored_bytes : r.raw_bytes) / 1e6, r.cpu, rate,
               wall_rate);
  JsonLine json;
  json.Add("bench", "floor").Add("mode", flags.mode);
  if (append) json.Add("codec", flags.codec).Add("level", flags.level).Add("fsync", flags.fsync);
  json.Add("workload", DescribeWorkload(flags.workload))
      .Add("spans", r.spans)
      .Add("requests", r.requests)
      .Add("records", r.records)
      .Add("raw_bytes_per_span", static_cast<double>(r.raw_bytes) / spans)
      .Add("cpu_seconds", r.cpu)
      .Add("wall_seconds", r.wall)
      .Add("spans_per_cpu_second", rate)
      .Add("spans_per_wall_second", wall_rate)
      .Add("wire_bytes_per_span",
           static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  if (append) json.Add("stored_bytes_per_span", static_cast<double>(r.stored_bytes) / spans);
  std::printf("%s\n", json.str().c_str());
}

int Main(int argc, char** argv) {
  FloorFlags flags;
  if (const int code = ParseFlags(argc, argv, &flags); code >= 0) return code;
  const RequestPool pool =
      BuildRequestPool(flags.workload, static_cast<uint64_t>(flags.pool_spans));
  const FloorResult r = flags.mode == "append" ? RunAppend(flags, pool) : RunRocksdb(flags, pool);
  if (!r.error.empty()) {
    std::cerr << "tailtrace-bench-floor: " << r.error << "\n";
    return 1;
  }
  Report(flags, pool, r);
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
