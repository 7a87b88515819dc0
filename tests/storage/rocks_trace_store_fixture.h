#pragma once

// Shared fixture and helpers of the RocksTraceStore tests (rocks_trace_store_test.cc: reads and
// writes; rocks_trace_store_open_test.cc: opening, errors, options and statistics).

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/index/keys.h"
#include "storage/rocks/rocks_trace_store.h"

// Not in an anonymous namespace: both test files must share one fixture class, or GoogleTest
// refuses the RocksTraceStoreTest suite as defined with two fixtures.
namespace tailtrace::storage::rocks_store_test {

using google::protobuf::util::MessageDifferencer;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kInternal = Span::SPAN_KIND_INTERNAL;
constexpr int kServer = Span::SPAN_KIND_SERVER;
constexpr int kClient = Span::SPAN_KIND_CLIENT;

inline TraceId MakeId(uint8_t n, uint8_t last = 1) {
  TraceId id;
  id.bytes[0] = n;
  id.bytes[15] = last;
  return id;
}

struct SpanSpec {
  std::string name;
  int kind = kInternal;
};

// Appends one resource (service) with one scope holding `spans` of trace `id`.
inline void AddResource(TracesData* data, const TraceId& id, const std::string& service,
                        const std::vector<SpanSpec>& spans) {
  auto* rs = data->add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("io.opentelemetry.test");
  ss->mutable_scope()->set_version("1.0");
  static uint64_t next_span = 1;
  for (const SpanSpec& spec : spans) {
    Span* span = ss->add_spans();
    span->set_trace_id(std::string(id.view()));
    std::string span_id;
    PutFixed64BE(&span_id, next_span++);
    span->set_span_id(span_id);
    span->set_name(spec.name);
    span->set_kind(static_cast<Span::SpanKind>(spec.kind));
    span->set_start_time_unix_nano(1'700'000'000'000'000'000ull);
    span->set_end_time_unix_nano(1'700'000'000'250'000'000ull);
    auto* a = span->add_attributes();
    a->set_key("http.status_code");
    a->mutable_value()->set_int_value(200);
  }
}

inline TraceWrite MakeWrite(const TraceId& id, const TracesData* data, std::string policy = "",
                            double rate = 1.0) {
  TraceWrite w;
  w.trace_id = id;
  w.spans = data;
  w.sampling_policy = std::move(policy);
  w.sample_rate = rate;
  return w;
}

class RocksTraceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("tailtrace_storage_") + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    options_.path = (dir_ / "db").string();
    options_.block_cache_bytes = 8 << 20;
    options_.write_buffer_bytes = 1 << 20;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<RocksTraceStore> OpenStore() {
    auto store = RocksTraceStore::Open(options_, &clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Writes straight into a RocksDB column family of the (closed) store: `cf` is a column family
  // name, or "bucket" for the first retention bucket.
  void PutRaw(const std::string& cf, const std::string& key, const std::string& value) {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options_.path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& name : names) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), options_.path, cfs, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* target = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == cf ||
          (cf == "bucket" && target == nullptr && h->GetName().starts_with("bucket-"))) {
        target = h;
      }
    }
    EXPECT_NE(target, nullptr) << "no column family " << cf;
    if (target != nullptr) {
      EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), target, key, value).ok());
    }
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
    delete db;
  }

  // The keys starting with `prefix`, and their values, in the (closed) store's column families
  // named `cf` ("bucket": every bucket).
  std::vector<std::pair<std::string, std::string>> ReadRaw(const std::string& cf,
                                                           const std::string& prefix) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options_.path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& name : names) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(
        rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), options_.path, cfs, &handles, &db).ok());
    std::vector<std::pair<std::string, std::string>> found;
    if (db == nullptr) return found;
    for (auto* h : handles) {
      if (h->GetName() != cf && !(cf == "bucket" && h->GetName().starts_with("bucket-"))) continue;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        found.emplace_back(it->key().ToString(), it->value().ToString());
      }
    }
    for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
    return found;
  }

  // Counts the keys starting with `prefix` in every bucket column family of the (closed) store.
  size_t CountRaw(const std::string& prefix) { return ReadRaw("bucket", prefix).size(); }

  std::filesystem::path dir_;
  StoreOptions options_;
  FakeClock clock_;
};

}  // namespace tailtrace::storage::rocks_store_test
