// RocksTraceStore opening and errors: locks, bad paths, invalid options, compression, statistics,
// closed stores, corrupt data, dependency counts of an older version and foreign format versions.

#include "storage/rocks/rocks_trace_store.h"

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
#include "storage/index/keys.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/rocks_trace_store_fixture.h"

namespace tailtrace::storage {
namespace {

using namespace rocks_store_test;  // NOLINT(build/namespaces): the shared test fixture

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
  StoredTrace archived;
  archived.trace_id = MakeId(1);
  archived.data = a;
  EXPECT_EQ(store->ArchiveTrace(archived).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->GetArchivedTrace(MakeId(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
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

TEST_F(RocksTraceStoreTest, CorruptArchivedTraceIsDataLossNamingTheTrace) {
  const TraceId id = MakeId(12);
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
  }
  PutRaw(kArchiveColumnFamily, std::string(id.view()),
         std::string("\x0a\x05"
                     "ab",
                     4));
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto got = store->GetArchivedTrace(id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr(id.Hex()));
}

TEST_F(RocksTraceStoreTest, CloseSealsIndexSegmentsAndRemovesTheirMarkers) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData data;
  AddResource(&data, MakeId(1), "checkout", {{"pay"}});
  const TraceWrite w = MakeWrite(MakeId(1), &data);
  ASSERT_TRUE(store->Write({&w, 1}).ok());
  ASSERT_TRUE(store->Close().ok());
  EXPECT_EQ(CountRaw(std::string(1, kSegmentMarkerTag)), 0u);
  EXPECT_EQ(CountRaw(std::string(1, kSegmentTableTag)), 1u);
  EXPECT_EQ(CountRaw(ServiceStream("checkout")), 1u);
}

TEST_F(RocksTraceStoreTest, UnsealedIndexSegmentsAreReindexedAfterACrash) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  TracesData first;
  AddResource(&first, MakeId(1), "checkout", {{"pay"}});
  TracesData late;  // a late chunk of the same trace, from another service
  AddResource(&late, MakeId(1), "cart", {{"add"}});
  const TraceWrite w1 = MakeWrite(MakeId(1), &first);
  const TraceWrite w2 = MakeWrite(MakeId(1), &late);
  ASSERT_TRUE(store->Write({&w1, 1}).ok());
  ASSERT_TRUE(store->Write({&w2, 1}).ok());
  ASSERT_TRUE(store->CloseWithoutSealingForTest().ok());
  store.reset();
  // One marker per trace and segment (both writes went to the same open segment).
  EXPECT_EQ(CountRaw(std::string(1, kSegmentMarkerTag)), 1u);
  EXPECT_EQ(CountRaw(std::string(1, kSegmentTableTag)), 0u);

  store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (const char* service : {"checkout", "cart"}) {
    TraceQuery q;
    q.service = service;
    auto found = store->FindTraces(q);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_EQ(found->size(), 1u) << service;
    EXPECT_EQ((*found)[0].trace_id, MakeId(1));
    EXPECT_EQ((*found)[0].span_count, 2u);
  }
  ASSERT_TRUE(store->Close().ok());
  store.reset();
  // Re-indexed once: the markers are gone and the next open has nothing to redo.
  EXPECT_EQ(CountRaw(std::string(1, kSegmentMarkerTag)), 0u);
  EXPECT_EQ(CountRaw(std::string(1, kSegmentTableTag)), 1u);
}

TEST_F(RocksTraceStoreTest, DependencyCountsOfAnOlderVersionAreCallsOnlyAndAddUpWithNewOnes) {
  constexpr int64_t kT0 = 1'700'000'040'000'000'000;  // a dependency slot boundary
  const int64_t slot = DependencySlot(kT0);
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    // Creates the bucket. Flushed: PutRaw's RocksDB has no merge operator to replay it with.
    ASSERT_TRUE(store->WriteDependencyCalls({{DependencyCalls{kT0, "a", "b", 1, 1}}}).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  // What an older version stored: the calls alone, int64 8 bytes big-endian.
  PutRaw("bucket", DependencyKeyOf({slot, "front", "cart"}), std::string("\0\0\0\0\0\0\0\x05", 8));
  PutRaw("bucket", DependencyKeyOf({slot, "front", "db"}), std::string("\0\0\0\0\0\0\0\x02", 8));
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto links = store->GetDependencies(kT0, 0);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_THAT(*links,
              ElementsAre(DependencyLink{"a", "b", 1, 1}, DependencyLink{"front", "cart", 5, 0},
                          DependencyLink{"front", "db", 2, 0}));
  // New counts merge onto the old values, before and after compaction (the merge operator
  // combines both encodings).
  ASSERT_TRUE(store->WriteDependencyCalls({{DependencyCalls{kT0, "front", "cart", 3, 2}}}).ok());
  const std::vector<DependencyLink> want = {DependencyLink{"a", "b", 1, 1},
                                            DependencyLink{"front", "cart", 8, 2},
                                            DependencyLink{"front", "db", 2, 0}};
  links = store->GetDependencies(kT0, 0);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_EQ(*links, want);
  ASSERT_TRUE(store->Flush().ok());
  ASSERT_TRUE(store->CompactForTest().ok());
  ASSERT_TRUE(store->WriteDependencyCalls({{DependencyCalls{kT0, "front", "db", 1, 0}}}).ok());
  links = store->GetDependencies(kT0, 0);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_THAT(*links, ElementsAre(want[0], want[1], DependencyLink{"front", "db", 3, 0}));
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

}  // namespace
}  // namespace tailtrace::storage
