// RocksTraceStore under write faults: a RocksDB FileSystem wrapper fails writes (no space, I/O
// error, out of file descriptors) on command; the store reports itself unwritable, never aborts,
// keeps nothing half-written, and writes again by itself once the fault clears.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "storage/recovering_trace_store.h"
#include "tests/storage/rocks_trace_store_fixture.h"

namespace tailtrace::storage::rocks_store_test {
namespace {

enum class Fault { kNone, kNoSpace, kIOError, kNoFiles };

rocksdb::IOStatus FaultStatus(Fault f) {
  switch (f) {
    case Fault::kNone:
      return rocksdb::IOStatus::OK();
    case Fault::kNoSpace:
      return rocksdb::IOStatus::NoSpace("injected: No space left on device");
    case Fault::kIOError:
      return rocksdb::IOStatus::IOError("injected: Input/output error");
    case Fault::kNoFiles:
      return rocksdb::IOStatus::IOError("injected: Too many open files");
  }
  return rocksdb::IOStatus::OK();
}

// Fails every write (append, sync, new file) while a fault is set.
class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultyFileSystem"; }

  void Set(Fault f) { fault_.store(f); }
  rocksdb::IOStatus Check() const { return FaultStatus(fault_.load()); }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = Check(); !s.ok()) return s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->NewWritableFile(f, o, &file, dbg);
    if (s.ok()) *r = std::make_unique<File>(std::move(file), this);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    if (rocksdb::IOStatus s = Check(); !s.ok()) return s;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, o, &file, dbg);
    if (s.ok()) *r = std::make_unique<File>(std::move(file), this);
    return s;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& t, const FaultyFileSystem* fs)
        : FSWritableFileOwnerWrapper(std::move(t)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(); !s.ok()) return s;
      return target()->Append(data, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(); !s.ok()) return s;
      return target()->Append(data, o, v, dbg);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(); !s.ok()) return s;
      return target()->Flush(o, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(); !s.ok()) return s;
      return target()->Sync(o, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (rocksdb::IOStatus s = fs_->Check(); !s.ok()) return s;
      return target()->Fsync(o, dbg);
    }

   private:
    const FaultyFileSystem* fs_;
  };

  std::atomic<Fault> fault_{Fault::kNone};
};

class RocksStoreFaultTest : public RocksTraceStoreTest,
                            public ::testing::WithParamInterface<Fault> {
 protected:
  void SetUp() override {
    RocksTraceStoreTest::SetUp();
    fs_ = std::make_shared<FaultyFileSystem>();
    env_ = rocksdb::NewCompositeEnv(fs_);
  }
  std::unique_ptr<RocksTraceStore> OpenFaulty() {
    auto store = RocksTraceStore::Open(options_, &clock_, env_.get());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  // The daemon's stack: the recovering store around a RocksTraceStore on the faulty file system.
  std::unique_ptr<RecoveringTraceStore> OpenRecovering() {
    auto store = RecoveringTraceStore::Create(
        [this]() -> absl::StatusOr<std::unique_ptr<TraceStore>> {
          auto s = RocksTraceStore::Open(options_, &clock_, env_.get());
          if (!s.ok()) return s.status();
          return std::unique_ptr<TraceStore>(std::move(*s));
        },
        [](TraceStore& s) { return static_cast<RocksTraceStore&>(s).Close(); }, &clock_,
        RecoveringTraceStore::Options{});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  absl::Status WriteTrace(TraceStore& store, uint8_t n) {
    data_.push_back(std::make_unique<TracesData>());
    AddResource(data_.back().get(), MakeId(n), "checkout", {{"GET /cart", kServer}});
    TraceWrite w = MakeWrite(MakeId(n), data_.back().get());
    return store.Write(std::span<const TraceWrite>(&w, 1));
  }

  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::vector<std::unique_ptr<TracesData>> data_;
};

// The RocksTraceStore alone: its own recovery (DB::Resume) is tried before every write after a
// fault and never lets a write reach a database in a background-error state.
TEST_P(RocksStoreFaultTest, StoreReportsTheFaultAndNeverAborts) {
  auto store = OpenFaulty();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WriteTrace(*store, 1).ok());
  EXPECT_TRUE(store->WriteHealth().ok());

  fs_->Set(GetParam());
  absl::Status failed = WriteTrace(*store, 2);
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_TRUE(absl::IsUnavailable(store->WriteHealth())) << store->WriteHealth();
  EXPECT_THAT(std::string(store->WriteHealth().message()), HasSubstr("injected"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(absl::IsUnavailable(WriteTrace(*store, 2)));
    EXPECT_TRUE(absl::IsUnavailable(store->WriteHealth()));
  }
  EXPECT_GE(store->write_failures(), 1u);
  fs_->Set(Fault::kNone);
  // Written before the fault: still readable.
  auto got = store->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
}

// The daemon's stack: writes fail while the fault lasts, resume by themselves (a reopen) once it
// clears, and nothing written, before or after, is lost.
TEST_P(RocksStoreFaultTest, WriteFailsThenResumesWhenTheFaultClears) {
  auto store = OpenRecovering();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WriteTrace(*store, 1).ok());
  EXPECT_TRUE(store->WriteHealth().ok());

  fs_->Set(GetParam());
  absl::Status failed = WriteTrace(*store, 2);
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_TRUE(absl::IsUnavailable(store->WriteHealth())) << store->WriteHealth();
  EXPECT_THAT(std::string(store->WriteHealth().message()), HasSubstr("injected"));
  // Retries while the fault lasts (reopen attempts included) fail the same way, never abort.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(2'000'000'000);
    EXPECT_TRUE(absl::IsUnavailable(WriteTrace(*store, 2)));
    EXPECT_TRUE(absl::IsUnavailable(store->WriteHealth()));
  }

  fs_->Set(Fault::kNone);
  clock_.Advance(2'000'000'000);
  absl::Status retried = WriteTrace(*store, 2);
  ASSERT_TRUE(retried.ok()) << retried;
  EXPECT_TRUE(store->WriteHealth().ok());
  ASSERT_TRUE(WriteTrace(*store, 3).ok());
  for (uint8_t n : {1, 2, 3}) {
    auto got = store->GetTrace(MakeId(n));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->has_value()) << "trace " << int(n) << " lost";
  }
  ASSERT_TRUE(store->Close().ok());

  auto reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  for (uint8_t n : {1, 2, 3}) {
    auto got = reopened->GetTrace(MakeId(n));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->has_value()) << "trace " << int(n) << " lost after reopen";
  }
}

// Archiving is a write like any other: refused while the fault lasts, done once it clears (after
// a reopen), and the archived copy survives.
TEST_P(RocksStoreFaultTest, ArchivingFailsDuringTheFaultAndSucceedsOnceItClears) {
  auto store = OpenRecovering();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WriteTrace(*store, 1).ok());
  auto trace = store->GetTrace(MakeId(1));
  ASSERT_TRUE(trace.ok() && trace->has_value());

  fs_->Set(GetParam());
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(2'000'000'000);
    absl::Status failed = store->ArchiveTrace(**trace);
    EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  }
  fs_->Set(Fault::kNone);
  clock_.Advance(2'000'000'000);
  absl::Status archived = store->ArchiveTrace(**trace);
  ASSERT_TRUE(archived.ok()) << archived;
  ASSERT_TRUE(store->Close().ok());

  auto reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  auto got = reopened->GetArchivedTrace(MakeId(1));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE(MessageDifferencer::Equals((*got)->data, (**trace).data));
}

// Reopen attempts are rate-limited by the injected clock.
TEST_P(RocksStoreFaultTest, ReopensAtMostOncePerInterval) {
  auto store = OpenRecovering();
  ASSERT_NE(store, nullptr);
  fs_->Set(GetParam());
  EXPECT_FALSE(WriteTrace(*store, 1).ok());
  fs_->Set(Fault::kNone);
  // Within the interval of the first attempt: no new attempt, still unavailable.
  EXPECT_TRUE(absl::IsUnavailable(WriteTrace(*store, 1)));
  EXPECT_TRUE(absl::IsUnavailable(store->WriteHealth()));
  clock_.Advance(1'000'000'000);
  EXPECT_TRUE(WriteTrace(*store, 1).ok());
  EXPECT_TRUE(store->WriteHealth().ok());
}

TEST_P(RocksStoreFaultTest, CloseDuringTheFaultDoesNotAbort) {
  auto store = OpenFaulty();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(WriteTrace(*store, 1).ok());
  fs_->Set(GetParam());
  EXPECT_FALSE(WriteTrace(*store, 2).ok());
  absl::Status closed = store->Close();  // may fail, must not abort
  (void)closed;
  fs_->Set(Fault::kNone);
  auto reopened = OpenStore();
  ASSERT_NE(reopened, nullptr);
  auto got = reopened->GetTrace(MakeId(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
}

TEST_P(RocksStoreFaultTest, OpenDuringTheFaultFailsWithTheCause) {
  fs_->Set(GetParam());
  auto store = RocksTraceStore::Open(options_, &clock_, env_.get());
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(options_.path));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("injected"));
}

// The recovering store passes the span bound on: a huge trace costs the query API about
// max_spans spans of memory, not the whole trace (the default GetTraceUpTo reads it all).
TEST_P(RocksStoreFaultTest, TheRecoveringStoreReadsNoFurtherThanTheSpanBound) {
  auto store = OpenRecovering();
  ASSERT_NE(store, nullptr);
  for (int chunk = 0; chunk < 4; ++chunk) ASSERT_TRUE(WriteTrace(*store, 9).ok());
  auto bounded = store->GetTraceUpTo(MakeId(9), 1);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  ASSERT_TRUE(bounded->has_value());
  EXPECT_TRUE((*bounded)->truncated);
  EXPECT_EQ(SpanCountOf((*bounded)->data), 2u) << "stops after the chunk that passed the bound";
}

INSTANTIATE_TEST_SUITE_P(Faults, RocksStoreFaultTest,
                         ::testing::Values(Fault::kNoSpace, Fault::kIOError, Fault::kNoFiles),
                         [](const ::testing::TestParamInfo<Fault>& info) {
                           switch (info.param) {
                             case Fault::kNoSpace:
                               return "NoSpace";
                             case Fault::kIOError:
                               return "IOError";
                             case Fault::kNoFiles:
                               return "NoFiles";
                             default:
                               return "None";
                           }
                         });

}  // namespace
}  // namespace tailtrace::storage::rocks_store_test

namespace tailtrace::storage::rocks_store_test {
namespace {

// Below the free-space reserve the store does not open: a clear message, not a RocksDB abort.
TEST_F(RocksTraceStoreTest, OpenBelowTheFreeSpaceReserveFailsNamingThePath) {
  options_.min_free_disk_bytes = uint64_t{1} << 62;
  auto store = RocksTraceStore::Open(options_, &clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(options_.path));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("No space left on device"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("min_free_disk_bytes"));
}

}  // namespace
}  // namespace tailtrace::storage::rocks_store_test
