// tailtrace-bench-floor: the least work any OTLP store must do, as a yardstick for the daemon.
// Each request (the loadgen's bytes) is copied out of a receive buffer, parsed with protobuf on an
// arena, its spans grouped by trace ID (resource and scope copied once per group), each group
// serialized and
// Put as a raw blob under trace_id | sequence, one RocksDB WriteBatch (WAL on, not synced) per
// request. No sampling, no indexes, no summaries. Reports spans per CPU-second of the whole
// process (RocksDB's background flushes and compactions included).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "bench/bench_util.h"
#include "bench/workload.h"
#include "google/protobuf/arena.h"
#include "proto/otlp_ids.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::TracesData;

int Main(int argc, char** argv) {
  std::map<std::string, std::string> known = {
      {"spans", "spans to write (default 2000000)"},
      {"path", "RocksDB directory (created; removed first when it exists) (required)"},
      {"write-buffer", "RocksDB write_buffer_size in MiB, as the store's (default 64)"},
      {"pool-spans", "spans pre-generated and cycled with fresh trace IDs (default 262144)"},
  };
  AddWorkloadFlags(&known);
  Flags flags("tailtrace-bench-floor",
              "The floor: protobuf parse + raw blobs keyed by trace ID in RocksDB, no indexes.",
              known);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const int64_t spans = flags.Int("spans", 2'000'000);
  const std::string path = flags.String("path", "");
  if (path.empty()) {
    std::cerr << "tailtrace-bench-floor: --path is required\n";
    return 2;
  }
  const WorkloadOptions workload = WorkloadFromFlags(flags);
  const RequestPool pool = BuildRequestPool(
      workload, static_cast<uint64_t>(flags.Int("pool-spans", std::min<int64_t>(spans, 262'144))));

  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = static_cast<size_t>(flags.Int("write-buffer", 64)) << 20;
  options.max_background_jobs = 2;
  options.compression = rocksdb::kLZ4Compression;
  options.bottommost_compression = rocksdb::kZSTD;
  options.level_compaction_dynamic_level_bytes = true;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw_db);
  if (!s.ok()) {
    std::cerr << "tailtrace-bench-floor: opening RocksDB at --path " << path << ": " << s.ToString()
              << "\n";
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);

  const uint64_t total_requests = pool.RequestsFor(static_cast<uint64_t>(spans));
  std::string received;
  std::string value;
  std::string key(24, '\0');
  uint64_t seq = 0;
  uint64_t written = 0;
  uint64_t blobs = 0;
  uint64_t blob_bytes = 0;
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 256 << 10;
  arena_options.max_block_size = 1 << 20;
  absl::flat_hash_map<TraceId, TracesData*> groups;
  absl::flat_hash_map<TraceId, ScopeSpans*> dest;
  const double cpu0 = ProcessCpuSeconds();
  const double wall0 = WallSeconds();
  for (uint64_t r = 0; r < total_requests; ++r) {
    const size_t i = r % pool.requests.size();
    received.resize(pool.requests[i].size());
    pool.Materialize(i, r / pool.requests.size(), received.data());

    // Everything of one request lives on one arena: no per-field allocation or free.
    google::protobuf::Arena arena(arena_options);
    auto* request = google::protobuf::Arena::CreateMessage<ExportTraceServiceRequest>(&arena);
    if (!request->ParseFromString(received)) {
      std::cerr << "tailtrace-bench-floor: request " << r << " does not parse\n";
      return 1;
    }
    groups.clear();
    for (auto& rs : *request->mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        dest.clear();
        for (auto& span : *ss.mutable_spans()) {
          const TraceId id = TraceId::FromBytes(span.trace_id());
          ScopeSpans*& d = dest[id];
          if (d == nullptr) {
            TracesData*& g = groups[id];
            if (g == nullptr) g = google::protobuf::Arena::CreateMessage<TracesData>(&arena);
            auto* out_rs = g->add_resource_spans();
            *out_rs->mutable_resource() = rs.resource();
            d = out_rs->add_scope_spans();
            *d->mutable_scope() = ss.scope();
          }
          // Same arena: the move is a pointer swap.
          *d->add_spans() = std::move(span);
          ++written;
        }
      }
    }
    rocksdb::WriteBatch batch;
    for (const auto& [trace_id, data] : groups) {
      value.clear();
      data->AppendToString(&value);
      std::memcpy(key.data(), trace_id.view().data(), 16);
      ++seq;
      for (int b = 0; b < 8; ++b) key[16 + b] = static_cast<char>(seq >> (56 - 8 * b));
      batch.Put(key, value);
      ++blobs;
      blob_bytes += value.size();
    }
    s = db->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) {
      std::cerr << "tailtrace-bench-floor: write: " << s.ToString() << "\n";
      return 1;
    }
  }
  const double cpu = ProcessCpuSeconds() - cpu0;
  const double wall = WallSeconds() - wall0;
  const double rate = cpu > 0 ? static_cast<double>(written) / cpu : 0;
  std::fprintf(stderr,
               "floor: %llu spans (%llu blobs, %.1f MB) in %.2f CPU-s = %.0f spans/CPU-s, %.0f "
               "spans/wall-s\n",
               static_cast<unsigned long long>(written), static_cast<unsigned long long>(blobs),
               static_cast<double>(blob_bytes) / 1e6, cpu, rate,
               wall > 0 ? static_cast<double>(written) / wall : 0);

  JsonLine json;
  json.Add("bench", "floor")
      .Add("workload", DescribeWorkload(workload))
      .Add("spans", written)
      .Add("requests", total_requests)
      .Add("blobs", blobs)
      .Add("blob_bytes", blob_bytes)
      .Add("cpu_seconds", cpu)
      .Add("wall_seconds", wall)
      .Add("spans_per_cpu_second", rate)
      .Add("spans_per_wall_second", wall > 0 ? static_cast<double>(written) / wall : 0.0)
      .Add("wire_bytes_per_span",
           static_cast<double>(pool.bytes) / static_cast<double>(pool.spans));
  std::printf("%s\n", json.str().c_str());
  db.reset();
  std::filesystem::remove_all(path, ec);
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
