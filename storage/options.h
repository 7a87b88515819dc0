#pragma once

#include <cstdint>
#include <string>

namespace tailtrace::storage {

struct StoreOptions {
  // Directory of the RocksDB store; created if missing.
  // Default: ./data
  std::string path = "./data";
  // Traces older than this are removed (by whole time buckets, never by a scan).
  // Default: 168h
  int64_t retention_ns = 168ll * 3600 * 1'000'000'000;
  // RocksDB block cache for data and index blocks.
  // Default: 256 MiB
  uint64_t block_cache_bytes = 256ull << 20;
  // RocksDB write buffer (memtable) size per column family.
  // Default: 64 MiB
  uint64_t write_buffer_bytes = 64ull << 20;
};

}  // namespace tailtrace::storage
