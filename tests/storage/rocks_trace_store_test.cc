#include "storage/rocks_trace_store.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "storage/in_memory_trace_store.h"
#include "storage/keys.h"

namespace tailtrace::storage {
namespace {

using google::protobuf::util::MessageDifferencer;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::TracesData;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kInternal = Span::SPAN_KIND_INTERNAL;
constexpr int kServer = Span::SPAN_KIND_SERVER;
constexpr int kClient = Span::SPAN_KIND_CLIENT;

TraceId MakeId(uint8_t n, uint8_t last = 1) {
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
void AddResource(TracesData* data, const TraceId& id, const std::string& service,
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

TraceWrite MakeWrite(const TraceId& id, const TracesData* data, std::string policy = "",
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

  std::filesystem::path dir_;
  StoreOptions options_;
  FakeClock clock_;
};

TEST_F(RocksTraceStoreTest, MultiResourceTraceRoundTrips) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(7);
  TracesData data;
  AddResource(&data, id, "frontend", {{"GET /checkout", kServer}, {"render", kInternal}});
  AddResource(&data, id, "payment", {{"charge", kServer}, {"SELECT", kClient}});
  const TraceWrite w = MakeWrite(id, &data, "slow-traces", 4.0);
  ASSERT_TRUE(store->Write({&w, 1}).ok());

  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  const StoredTrace& t = **got;
  EXPECT_EQ(t.trace_id, id);
  EXPECT_TRUE(MessageDifferencer::Equals(t.data, data)) << t.data.DebugString();
  EXPECT_EQ(t.data.SerializeAsString(), data.SerializeAsString());
  EXPECT_EQ(t.sampling_policy, "slow-traces");
  EXPECT_EQ(t.sample_rate, 4.0);
}

TEST_F(RocksTraceStoreTest, UnknownTraceIsNullopt) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto empty = store->GetTrace(MakeId(1));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->has_value());

  // Neighbours in key order (differing in the first or last byte) must not leak in.
  TracesData data;
  AddResource(&data, MakeId(1, 2), "svc", {{"op"}});
  TracesData data2;
  AddResource(&data2, MakeId(2, 1), "svc", {{"op"}});
  const TraceWrite writes[] = {MakeWrite(MakeId(1, 2), &data), MakeWrite(MakeId(2, 1), &data2)};
  ASSERT_TRUE(store->Write(writes).ok());
  ASSERT_TRUE(store->Flush().ok());
  auto missing = store->GetTrace(MakeId(1, 1));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
  auto found = store->GetTrace(MakeId(1, 2));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->data.SerializeAsString(), data.SerializeAsString());
}

TEST_F(RocksTraceStoreTest, LateChunksAppendInWriteOrder) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(3);
  TracesData first, late1, late2;
  AddResource(&first, id, "frontend", {{"GET /", kServer}});
  AddResource(&late1, id, "backend", {{"query", kClient}});
  AddResource(&late2, id, "frontend", {{"flush", kInternal}});
  // The first chunk has no policy; the first chunk with one decides policy and rate.
  const TraceWrite w1 = MakeWrite(id, &first, "", 1.0);
  const TraceWrite w2 = MakeWrite(id, &late1, "errors", 10.0);
  const TraceWrite w3 = MakeWrite(id, &late2, "latency", 2.0);
  ASSERT_TRUE(store->Write({&w1, 1}).ok());
  ASSERT_TRUE(store->Flush().ok());  // chunks in an SST file and in the memtable
  ASSERT_TRUE(store->Write({&w2, 1}).ok());
  ASSERT_TRUE(store->Write({&w3, 1}).ok());

  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  TracesData expected = first;
  expected.MergeFrom(late1);
  expected.MergeFrom(late2);
  EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, expected)) << (*got)->data.DebugString();
  EXPECT_EQ((*got)->sampling_policy, "errors");
  EXPECT_EQ((*got)->sample_rate, 10.0);
}

TEST_F(RocksTraceStoreTest, WithoutAnyPolicyTheFirstChunkDecidesTheRate) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId id = MakeId(4);
  TracesData a, b;
  AddResource(&a, id, "svc", {{"a"}});
  AddResource(&b, id, "svc", {{"b"}});
  const TraceWrite writes[] = {MakeWrite(id, &a, "", 3.0), MakeWrite(id, &b, "", 5.0)};
  ASSERT_TRUE(store->Write(writes).ok());  // two chunks of one trace in one batch
  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->data.resource_spans_size(), 2);
  EXPECT_EQ((*got)->sampling_policy, "");
  EXPECT_EQ((*got)->sample_rate, 3.0);
}

TEST_F(RocksTraceStoreTest, ServicesAndOperationsAreSortedAndFilteredByKind) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData data;
  const TraceId id = MakeId(5);
  AddResource(&data, id, "payment", {{"charge", kServer}, {"charge", kClient}, {"audit"}});
  AddResource(&data, id, "frontend", {{"GET /", kServer}});
  // "pay" is a prefix of "payment": its operations must stay apart.
  AddResource(&data, id, "pay", {{"ment", kServer}});
  const TraceWrite w = MakeWrite(id, &data);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  // Writing the same names again adds nothing.
  ASSERT_TRUE(store->Write({&w, 1}).ok());

  auto services = store->GetServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre("frontend", "pay", "payment"));

  auto ops = store->GetOperations("payment");
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_THAT(*ops, ElementsAre(Operation{"audit", kInternal}, Operation{"charge", kServer},
                                Operation{"charge", kClient}));
  auto servers = store->GetOperations("payment", kServer);
  ASSERT_TRUE(servers.ok());
  EXPECT_THAT(*servers, ElementsAre(Operation{"charge", kServer}));
  auto pay = store->GetOperations("pay");
  ASSERT_TRUE(pay.ok());
  EXPECT_THAT(*pay, ElementsAre(Operation{"ment", kServer}));
  auto unknown = store->GetOperations("nope");
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->empty());
  auto no_consumers = store->GetOperations("payment", Span::SPAN_KIND_CONSUMER);
  ASSERT_TRUE(no_consumers.ok());
  EXPECT_TRUE(no_consumers->empty());
}

TEST_F(RocksTraceStoreTest, MissingServiceNameIsUnknownService) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData data;
  auto* rs = data.add_resource_spans();
  rs->add_scope_spans()->add_spans()->set_name("orphan");
  const TraceWrite w = MakeWrite(MakeId(6), &data);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("unknown_service"));
}

TEST_F(RocksTraceStoreTest, BehavesLikeTheInMemoryStore) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  InMemoryTraceStore reference;
  std::vector<TracesData> datas(20);
  std::vector<TraceWrite> writes;
  for (int i = 0; i < 20; ++i) {
    // 10 traces, each written twice (late spans), across 3 services and all span kinds.
    const TraceId trace = MakeId(static_cast<uint8_t>(i % 10));
    AddResource(
        &datas[i], trace, "svc" + std::to_string(i % 3),
        {{"op" + std::to_string(i % 4), i % 6}, {"op" + std::to_string(i % 5), (i + 1) % 6}});
    // Late spans carry the trace's decision: each trace has one policy, on its first write
    // (odd traces) or only on the late one (even traces).
    const int k = i % 10;
    const bool with_policy = (k % 2 == 1) == (i < 10);
    writes.push_back(MakeWrite(trace, &datas[i], with_policy ? "policy" + std::to_string(k) : "",
                               with_policy ? 1.0 + k : 1.0));
  }
  ASSERT_TRUE(store->Write({writes.data(), 7}).ok());
  ASSERT_TRUE(store->Write({writes.data() + 7, writes.size() - 7}).ok());
  ASSERT_TRUE(reference.Write({writes.data(), 7}).ok());
  ASSERT_TRUE(reference.Write({writes.data() + 7, writes.size() - 7}).ok());

  auto services = store->GetServices();
  auto ref_services = reference.GetServices();
  ASSERT_TRUE(services.ok() && ref_services.ok());
  EXPECT_EQ(*services, *ref_services);
  for (const std::string& service : *ref_services) {
    for (int kind = -1; kind <= 5; ++kind) {
      auto ops = store->GetOperations(service, kind);
      auto ref_ops = reference.GetOperations(service, kind);
      ASSERT_TRUE(ops.ok() && ref_ops.ok());
      EXPECT_EQ(*ops, *ref_ops) << service << " kind " << kind;
    }
  }
  for (int i = 0; i < 10; ++i) {
    auto got = store->GetTrace(MakeId(static_cast<uint8_t>(i)));
    auto ref = reference.GetTrace(MakeId(static_cast<uint8_t>(i)));
    ASSERT_TRUE(got.ok() && ref.ok());
    ASSERT_TRUE(got->has_value() && ref->has_value());
    EXPECT_EQ((*got)->data.SerializeAsString(), (*ref)->data.SerializeAsString()) << i;
    EXPECT_EQ((*got)->sampling_policy, (*ref)->sampling_policy) << i;
    EXPECT_EQ((*got)->sample_rate, (*ref)->sample_rate) << i;
  }
  EXPECT_EQ(store->Stats().traces_written, reference.Stats().traces_written);
  EXPECT_EQ(store->Stats().spans_written, reference.Stats().spans_written);
}

TEST_F(RocksTraceStoreTest, DataSurvivesCloseAndReopen) {
  const TraceId id = MakeId(9);
  TracesData first, late;
  AddResource(&first, id, "frontend", {{"GET /", kServer}});
  AddResource(&late, id, "backend", {{"work", kInternal}});
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const TraceWrite w = MakeWrite(id, &first, "keep-all");
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    // No Flush: the data is only in the WAL when the store closes.
  }
  {
    // Same (frozen) clock: chunk numbers must still not repeat, or the late chunk would replace
    // the first one.
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto got = store->GetTrace(id);
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
    EXPECT_EQ((*got)->data.SerializeAsString(), first.SerializeAsString());
    const TraceWrite w = MakeWrite(id, &late);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto got = store->GetTrace(id);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  TracesData expected = first;
  expected.MergeFrom(late);
  EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, expected)) << (*got)->data.DebugString();
  EXPECT_EQ((*got)->sampling_policy, "keep-all");
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("backend", "frontend"));
  auto ops = store->GetOperations("frontend");
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(*ops, ElementsAre(Operation{"GET /", kServer}));
}

TEST_F(RocksTraceStoreTest, KnownNamesAreReloadedAndNewOnesStillStored) {
  const TraceId id = MakeId(10);
  TracesData a, b;
  AddResource(&a, id, "svc", {{"old", kServer}});
  AddResource(&b, id, "svc", {{"old", kServer}, {"new", kClient}});
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    const TraceWrite w = MakeWrite(id, &a);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceWrite w = MakeWrite(id, &b);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  auto ops = store->GetOperations("svc");
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(*ops, ElementsAre(Operation{"new", kClient}, Operation{"old", kServer}));
}

TEST_F(RocksTraceStoreTest, SecondOpenOfTheSamePathFailsNamingThePath) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto second = RocksTraceStore::Open(options_, &clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(options_.path));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));

  // Closing releases the lock.
  ASSERT_TRUE(store->Close().ok());
  auto third = RocksTraceStore::Open(options_, &clock_);
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_F(RocksTraceStoreTest, LockHeldByAnotherProcessIsFailedPrecondition) {
  std::filesystem::create_directories(options_.path);
  const std::string lock_path = options_.path + "/LOCK";
  int ready[2];
  int release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls in the child.
    ::close(ready[0]);
    ::close(release[1]);
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fd < 0 || ::fcntl(fd, F_SETLK, &fl) != 0) ::_exit(1);
    char c = 'r';
    if (::write(ready[1], &c, 1) != 1) ::_exit(2);
    (void)::read(release[0], &c, 1);  // returns when the parent closes its end
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char c = 0;
  const bool locked = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  absl::Status status = absl::OkStatus();
  if (locked) status = RocksTraceStore::Open(options_, &clock_).status();
  ::close(release[1]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(locked) << "child could not lock " << lock_path;
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("storage.path " + options_.path + " is in use"));

  // The lock is free again.
  auto store = RocksTraceStore::Open(options_, &clock_);
  EXPECT_TRUE(store.ok()) << store.status();
}

TEST_F(RocksTraceStoreTest, PathThatIsAFileFailsNamingThePath) {
  const std::string file = (dir_ / "not_a_dir").string();
  std::ofstream(file) << "x";
  options_.path = file;
  auto store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(file));
  EXPECT_THAT(store.status().message(), HasSubstr("not a directory"));

  options_.path = file + "/db";  // below a file: cannot be created
  store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("cannot create storage.path " + options_.path));
}

TEST_F(RocksTraceStoreTest, UnwritableDirectoryIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write to any directory";
  std::filesystem::create_directories(options_.path);
  std::filesystem::permissions(
      options_.path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  auto store = RocksTraceStore::Open(options_, &clock_);
  std::filesystem::permissions(options_.path, std::filesystem::perms::owner_all);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(options_.path));
}

TEST_F(RocksTraceStoreTest, InvalidOptionsAreRejected) {
  options_.path = "";
  EXPECT_EQ(RocksTraceStore::Open(options_, &clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  options_.path = (dir_ / "db").string();
  EXPECT_EQ(RocksTraceStore::Open(options_, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options_.write_buffer_bytes = 0;
  auto store = RocksTraceStore::Open(options_, &clock_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("write_buffer_bytes"));
}

TEST_F(RocksTraceStoreTest, UpperLevelsUseLz4AndTheBottommostLevelZstd) {
  const auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  if (!has(rocksdb::kLZ4Compression) || !has(rocksdb::kZSTD)) {
    GTEST_SKIP() << "this RocksDB build lacks LZ4 or ZSTD";
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<TracesData> datas(50);
  std::vector<TraceWrite> writes;
  for (int i = 0; i < 50; ++i) {
    const TraceId id = MakeId(static_cast<uint8_t>(i));
    AddResource(&datas[i], id, "svc", {{"op"}, {"op2"}, {"op3"}});
    writes.push_back(MakeWrite(id, &datas[i]));
  }
  ASSERT_TRUE(store->Write(writes).ok());
  ASSERT_TRUE(store->Flush().ok());
  auto flushed = store->SpanFileCompressionsForTest();
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_THAT(*flushed, ElementsAre("LZ4"));

  ASSERT_TRUE(store->CompactForTest().ok());
  auto compacted = store->SpanFileCompressionsForTest();
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_THAT(*compacted, ElementsAre("ZSTD"));
  // Still readable after compaction.
  auto got = store->GetTrace(MakeId(17));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->data.SerializeAsString(), datas[17].SerializeAsString());
}

TEST_F(RocksTraceStoreTest, StatsCountTracesSpansAndDiskBytes) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats().traces_written, 0u);
  TracesData a, b;
  AddResource(&a, MakeId(1), "svc", {{"x"}, {"y"}});
  AddResource(&b, MakeId(2), "svc", {{"z"}});
  AddResource(&b, MakeId(2), "other", {{"w"}, {"v"}});
  const TraceWrite writes[] = {MakeWrite(MakeId(1), &a), MakeWrite(MakeId(2), &b)};
  ASSERT_TRUE(store->Write(writes).ok());
  ASSERT_TRUE(store->Write({writes, 1}).ok());  // a late write counts again
  StoreStats stats = store->Stats();
  EXPECT_EQ(stats.traces_written, 3u);
  EXPECT_EQ(stats.spans_written, 2u + 3u + 2u);
  EXPECT_GT(stats.disk_bytes, 0u);  // the WAL

  ASSERT_TRUE(store->Flush().ok());
  const uint64_t after_flush = store->Stats().disk_bytes;
  EXPECT_GT(after_flush, 0u);  // SST files
  uint64_t sst_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.path)) {
    if (entry.path().extension() == ".sst") sst_bytes += entry.file_size();
  }
  EXPECT_GT(sst_bytes, 0u);
  EXPECT_GE(after_flush, sst_bytes);
}

TEST_F(RocksTraceStoreTest, NullSpansFailTheWholeBatch) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData a;
  AddResource(&a, MakeId(1), "svc", {{"x"}});
  const TraceWrite writes[] = {MakeWrite(MakeId(1), &a), MakeWrite(MakeId(2), nullptr)};
  absl::Status s = store->Write(writes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("TraceWrite[1]"));
  EXPECT_THAT(s.message(), HasSubstr(MakeId(2).Hex()));
  auto got = store->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(store->Stats().traces_written, 0u);
  auto services = store->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_TRUE(services->empty());
}

TEST_F(RocksTraceStoreTest, WriteWithoutSpansStoresNothing) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData empty;
  empty.add_resource_spans()->add_scope_spans();
  const TraceWrite w = MakeWrite(MakeId(1), &empty, "policy");
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  ASSERT_TRUE(store->Write({}).ok());
  auto got = store->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(store->Stats().traces_written, 0u);
}

TEST_F(RocksTraceStoreTest, ClosedStoreRefusesCalls) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(store->Close().ok());  // idempotent
  TracesData a;
  AddResource(&a, MakeId(1), "svc", {{"x"}});
  const TraceWrite w = MakeWrite(MakeId(1), &a);
  EXPECT_EQ(store->Write({&w, 1}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->GetTrace(MakeId(1)).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->GetServices().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->GetOperations("svc").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Flush().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Stats().disk_bytes, 0u);
}

TEST_F(RocksTraceStoreTest, CorruptChunkIsDataLossNamingTheTrace) {
  const TraceId id = MakeId(11);
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    TracesData a;
    AddResource(&a, MakeId(1), "svc", {{"x"}});  // creates the bucket
    const TraceWrite w = MakeWrite(MakeId(1), &a);
    ASSERT_TRUE(store->Write({&w, 1}).ok());
  }
  // Field 1, length 5, but only two bytes follow.
  PutRaw("bucket", SpanKey(id, 5),
         std::string("\x0a\x05"
                     "ab",
                     4));
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto got = store->GetTrace(id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr(id.Hex()));
}

TEST_F(RocksTraceStoreTest, ForeignFormatVersionIsRefused) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
  }
  PutRaw(rocksdb::kDefaultColumnFamilyName, kFormatVersionKey, "1");
  auto store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("format version '1'"));
  EXPECT_THAT(store.status().message(), HasSubstr(options_.path));
}

TEST_F(RocksTraceStoreTest, ConcurrentWritesToOneTraceKeepEveryChunk) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const TraceId shared = MakeId(42);
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 50;
  std::vector<std::vector<TracesData>> datas(kThreads, std::vector<TracesData>(kWritesPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWritesPerThread; ++i) {
      AddResource(&datas[t][i], shared, "svc" + std::to_string(t), {{"op" + std::to_string(i)}});
    }
  }
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const TraceWrite w = MakeWrite(shared, &datas[t][i]);
        absl::Status s = store->Write({&w, 1});
        if (!s.ok()) results[t] = s;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r;
  auto got = store->GetTrace(shared);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->data.resource_spans_size(), kThreads * kWritesPerThread);
  EXPECT_EQ(store->Stats().spans_written, static_cast<uint64_t>(kThreads * kWritesPerThread));
  auto ops = store->GetOperations("svc3");
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops->size(), static_cast<size_t>(kWritesPerThread));
}

}  // namespace
}  // namespace tailtrace::storage
