// tailtrace-bench-storetool: opens a stopped daemon's store and reports its bytes on disk as the
// daemon left it (after its shutdown flush) and after a full compaction (bottommost compression
// applied), for the bytes-per-stored-span figure. With --breakdown it then reads the store's
// RocksDB directly (read-only) and reports, per key space (the first key byte; for 'I' index keys
// the first two bytes), the number of keys, their raw key and value bytes and their approximate
// bytes on disk, so a bytes-per-span figure can be attributed to spans, summaries and indexes.
// The breakdown knows nothing of the key layout beyond "first byte(s) = key space".

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "common/clock.h"
#include "rocksdb/db.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "storage/rocks/rocks_trace_store.h"

namespace tailtrace::bench {
namespace {

// Bytes of the *.sst files under `path`.
uint64_t SstBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".sst") {
      total += entry.file_size(ec);
    }
  }
  return total;
}

// Accepts the store's merge operands when iterating (values are not interpreted).
class KeepLastOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice*, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    new_value->assign(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "tailtrace.bench.KeepLast"; }
};

struct KeySpace {
  uint64_t keys = 0;
  uint64_t key_bytes = 0;
  uint64_t value_bytes = 0;
  uint64_t disk_bytes = 0;
};

// A printable name for a key-space prefix: "I.a" for {'I','a'}, "0x01" for unprintable bytes.
std::string SpaceName(std::string_view prefix) {
  std::string out;
  for (const char c : prefix) {
    if (!out.empty()) out += ".";
    if (c >= 0x21 && c < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

// Adds the per-key-space breakdown of every column family but "default" to `json`; false (with
// a message on stderr) when the store cannot be read.
bool Breakdown(const std::string& path, JsonLine* json) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  if (!s.ok()) {
    std::cerr << "tailtrace-bench-storetool: listing column families: " << s.ToString() << "\n";
    return false;
  }
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.merge_operator = std::make_shared<KeepLastOperator>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& n : names) descriptors.emplace_back(n, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, descriptors, &handles, &raw);
  if (!s.ok()) {
    std::cerr << "tailtrace-bench-storetool: opening read-only: " << s.ToString() << "\n";
    return false;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, KeySpace> spaces;
  for (size_t i = 0; i < handles.size(); ++i) {
    if (names[i] == rocksdb::kDefaultColumnFamilyName) continue;
    std::map<std::string, KeySpace> cf_spaces;
    rocksdb::ReadOptions ro;
    ro.total_order_seek = true;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      const size_t n = key.size() >= 2 && key[0] == 'I' ? 2 : std::min<size_t>(1, key.size());
      KeySpace& ks = cf_spaces[std::string(key.data(), n)];
      ++ks.keys;
      ks.key_bytes += key.size();
      ks.value_bytes += it->value().size();
    }
    if (!it->status().ok()) {
      std::cerr << "tailtrace-bench-storetool: reading " << names[i] << ": "
                << it->status().ToString() << "\n";
      return false;
    }
    for (auto& [prefix, ks] : cf_spaces) {
      std::string limit = prefix;
      limit.back() = static_cast<char>(static_cast<unsigned char>(limit.back()) + 1);
      rocksdb::Range range(prefix, limit);
      uint64_t size = 0;
      rocksdb::SizeApproximationOptions options;
      options.include_files = true;
      options.files_size_error_margin = -1;
      if (db->GetApproximateSizes(options, handles[i], &range, 1, &size).ok()) {
        ks.disk_bytes = size;
      }
      KeySpace& total = spaces[prefix];
      total.keys += ks.keys;
      total.key_bytes += ks.key_bytes;
      total.value_bytes += ks.value_bytes;
      total.disk_bytes += ks.disk_bytes;
    }
  }
  std::string list;
  for (const auto& [prefix, ks] : spaces) {
    const std::string name = SpaceName(prefix);
    absl::StrAppend(&list, list.empty() ? "" : ",", name);
    json->Add(absl::StrCat("ks_", name, "_keys"), ks.keys)
        .Add(absl::StrCat("ks_", name, "_key_bytes"), ks.key_bytes)
        .Add(absl::StrCat("ks_", name, "_value_bytes"), ks.value_bytes)
        .Add(absl::StrCat("ks_", name, "_disk_bytes"), ks.disk_bytes);
    std::fprintf(stderr,
                 "key space %-6s %10llu keys  %12llu key bytes  %12llu value bytes  ~%12llu "
                 "on disk\n",
                 name.c_str(), static_cast<unsigned long long>(ks.keys),
                 static_cast<unsigned long long>(ks.key_bytes),
                 static_cast<unsigned long long>(ks.value_bytes),
                 static_cast<unsigned long long>(ks.disk_bytes));
  }
  json->Add("key_spaces", list);
  for (rocksdb::ColumnFamilyHandle* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return true;
}

int Main(int argc, char** argv) {
  std::string path;
  bool compact = true;
  bool breakdown = false;
  auto app = NewCommandLine("tailtrace-bench-storetool",
                            "Reports a store's SST bytes as found and after a full compaction.");
  app->add_option("--path", path, "the store directory (storage.path of the stopped daemon)")
      ->required();
  AddBool(*app, "--compact", &compact, "compact every column family to the last level");
  AddBool(*app, "--breakdown", &breakdown,
          "then report keys, raw bytes and disk bytes per key space");
  if (const int code = ParseCommandLine(*app, argc, argv); code >= 0) return code;
  if (!std::filesystem::is_directory(path)) {
    std::cerr << "tailtrace-bench-storetool: --path must name an existing store directory, got \""
              << path << "\"\n";
    return 2;
  }
  const uint64_t sst_before = SstBytes(path);
  storage::StoreOptions options;
  options.path = path;
  auto store = storage::RocksTraceStore::Open(options, Clock::Real());
  if (!store.ok()) {
    std::cerr << "tailtrace-bench-storetool: " << store.status().message() << "\n";
    return 1;
  }
  const uint64_t disk_before = (*store)->Stats().disk_bytes;
  double compact_seconds = 0;
  if (compact) {
    const double t0 = WallSeconds();
    if (absl::Status s = (*store)->CompactForTest(); !s.ok()) {
      std::cerr << "tailtrace-bench-storetool: compaction: " << s.message() << "\n";
      return 1;
    }
    compact_seconds = WallSeconds() - t0;
  }
  const uint64_t disk_after = (*store)->Stats().disk_bytes;
  if (absl::Status s = (*store)->Close(); !s.ok()) {
    std::cerr << "tailtrace-bench-storetool: close: " << s.message() << "\n";
    return 1;
  }
  const uint64_t sst_after = SstBytes(path);
  JsonLine json;
  json.Add("tool", "storetool")
      .Add("path", path)
      .Add("sst_bytes_before", sst_before)
      .Add("disk_bytes_before", disk_before)
      .Add("sst_bytes_after_compaction", sst_after)
      .Add("disk_bytes_after_compaction", disk_after)
      .Add("compact_seconds", compact_seconds);
  if (breakdown && !Breakdown(path, &json)) return 1;
  std::printf("%s\n", json.str().c_str());
  return 0;
}

}  // namespace
}  // namespace tailtrace::bench

int main(int argc, char** argv) { return tailtrace::bench::Main(argc, argv); }
