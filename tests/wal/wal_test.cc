#include "wal/wal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tailtrace::wal {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Records = std::vector<std::pair<uint64_t, std::string>>;

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tailtrace-wal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.dir = dir_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Opens the log, collecting what it replays.
  std::unique_ptr<Wal> Open(Records* replayed = nullptr, ReplayStats* stats = nullptr) {
    auto wal = Wal::Open(
        options_,
        [replayed](uint64_t lsn, std::string_view payload) {
          if (replayed != nullptr) replayed->emplace_back(lsn, std::string(payload));
        },
        stats);
    EXPECT_TRUE(wal.ok()) << wal.status();
    return wal.ok() ? *std::move(wal) : nullptr;
  }

  std::vector<fs::path> SegmentFiles() const {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir_)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
  }

  std::string dir_;
  WalOptions options_;
};

TEST_F(WalTest, RecordsComeBackInOrderAndAppendsContinueAfterTheLast) {
  {
    std::unique_ptr<Wal> wal = Open();
    for (int i = 0; i < 100; ++i) {
      absl::StatusOr<uint64_t> lsn =
          wal->Append(std::string(i * 7, static_cast<char>('a' + i % 26)));
      ASSERT_TRUE(lsn.ok()) << lsn.status();
      EXPECT_EQ(*lsn, static_cast<uint64_t>(i + 1));
    }
  }
  Records replayed;
  ReplayStats stats;
  std::unique_ptr<Wal> wal = Open(&replayed, &stats);
  ASSERT_EQ(replayed.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(replayed[i].first, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(replayed[i].second, std::string(i * 7, static_cast<char>('a' + i % 26)));
  }
  EXPECT_EQ(stats.records, 100u);
  EXPECT_EQ(stats.last_lsn, 100u);
  EXPECT_EQ(stats.corrupt_records + stats.torn_tail_bytes, 0u);
  EXPECT_EQ(*wal->Append("next"), 101u);
}

TEST_F(WalTest, ATornTailIsCutAndTheRecordsBeforeItKept) {
  {
    std::unique_ptr<Wal> wal = Open();
    for (const char* p : {"one", "two", "three"}) ASSERT_TRUE(wal->Append(p).ok());
  }
  const fs::path segment = SegmentFiles().back();
  const auto intact_size = fs::file_size(segment);
  {
    // A crash in the middle of writing a fourth frame: its header and part of its payload.
    std::ofstream out(segment, std::ios::binary | std::ios::app);
    out << std::string("\x40\x00\x00\x00\x12\x34", 6) << "partial";
  }
  Records replayed;
  ReplayStats stats;
  std::unique_ptr<Wal> wal = Open(&replayed, &stats);
  EXPECT_THAT(replayed, ElementsAre(std::pair<uint64_t, std::string>{1, "one"},
                                    std::pair<uint64_t, std::string>{2, "two"},
                                    std::pair<uint64_t, std::string>{3, "three"}));
  EXPECT_EQ(stats.torn_tail_bytes, 13u);
  EXPECT_EQ(fs::file_size(segment), intact_size) << "the torn bytes are cut off";
  EXPECT_EQ(*wal->Append("four"), 4u);
  wal.reset();
  replayed.clear();
  Open(&replayed, &stats);
  ASSERT_EQ(replayed.size(), 4u);
  EXPECT_EQ(replayed.back(), (std::pair<uint64_t, std::string>{4, "four"}));
  EXPECT_EQ(stats.torn_tail_bytes, 0u);
}

TEST_F(WalTest, ARecordWithABadChecksumIsSkipped) {
  {
    std::unique_ptr<Wal> wal = Open();
    for (const char* p : {"first", "second", "third"}) ASSERT_TRUE(wal->Append(p).ok());
  }
  const fs::path segment = SegmentFiles().back();
  {
    // Flip one byte of "second" (frame 1 starts after 16 + 5 bytes; its payload 16 bytes later).
    std::fstream f(segment, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(16 + 5 + 16 + 2);
    f.put('X');
  }
  Records replayed;
  ReplayStats stats;
  Open(&replayed, &stats);
  EXPECT_THAT(replayed, ElementsAre(std::pair<uint64_t, std::string>{1, "first"},
                                    std::pair<uint64_t, std::string>{3, "third"}));
  EXPECT_EQ(stats.corrupt_records, 1u);
}

TEST_F(WalTest, GarbageSegmentsAreCutAndOtherFilesIgnored) {
  {
    std::ofstream(fs::path(dir_) / "00000000000000000001.wal", std::ios::binary)
        << "this is not a frame at all";
    std::ofstream(fs::path(dir_) / "README") << "not a segment";
  }
  Records replayed;
  ReplayStats stats;
  std::unique_ptr<Wal> wal = Open(&replayed, &stats);
  EXPECT_TRUE(replayed.empty());
  EXPECT_EQ(stats.torn_tail_bytes, 26u);
  EXPECT_FALSE(fs::exists(fs::path(dir_) / "00000000000000000001.wal"));
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "README"));
  EXPECT_EQ(*wal->Append("x"), 1u);
}

TEST_F(WalTest, SegmentsRollAndOnlyThoseWhollyBeforeAnLsnAreDeleted) {
  options_.segment_bytes = 200;  // a few 50-byte records per segment
  std::unique_ptr<Wal> wal = Open();
  for (int i = 1; i <= 40; ++i) ASSERT_TRUE(wal->Append(std::string(34, 'a' + i % 26)).ok());
  const uint64_t segments = wal->segments();
  EXPECT_GE(segments, 8u);
  EXPECT_EQ(wal->bytes(), 40u * 50u);

  ASSERT_TRUE(wal->DeleteBefore(23).ok());
  EXPECT_LT(wal->segments(), segments);
  wal.reset();
  Records replayed;
  Open(&replayed);
  ASSERT_FALSE(replayed.empty());
  EXPECT_LE(replayed.front().first, 23u) << "a segment holding LSN 23 is kept";
  EXPECT_GT(replayed.front().first, 1u) << "segments wholly before 23 are gone";
  EXPECT_EQ(replayed.back().first, 40u);
  for (size_t i = 1; i < replayed.size(); ++i) {
    EXPECT_EQ(replayed[i].first, replayed[i - 1].first + 1);
  }
}

TEST_F(WalTest, ConcurrentAppendersWithFsyncAllSurviveWithDistinctLsns) {
  options_.fsync = true;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::vector<uint64_t>> lsns(kThreads);
  {
    std::unique_ptr<Wal> wal = Open();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          absl::StatusOr<uint64_t> lsn = wal->Append(std::to_string(t * 1000 + i));
          ASSERT_TRUE(lsn.ok()) << lsn.status();
          lsns[t].push_back(*lsn);
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  std::set<uint64_t> all;
  for (const auto& v : lsns) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  Records replayed;
  Open(&replayed);
  std::set<std::string> payloads;
  for (const auto& [lsn, payload] : replayed) payloads.insert(payload);
  ASSERT_EQ(replayed.size(), static_cast<size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_TRUE(payloads.count(std::to_string(t * 1000 + i))) << t << "/" << i;
    }
  }
}

// Hundreds of appenders released at once, batched while a sync is in progress, all come back
// whole (pieces of every size, an empty one among them).
TEST_F(WalTest, ManyAppendersReleasedAtOnceAllComeBackWhole) {
  options_.fsync = true;
  constexpr int kThreads = 600;
  {
    std::unique_ptr<Wal> wal = Open();
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        const std::string head = "t" + std::to_string(t) + ":";
        const std::string body(static_cast<size_t>(t % 97), static_cast<char>('a' + t % 26));
        const std::array<std::string_view, 3> pieces{head, "", body};
        EXPECT_TRUE(wal->Append(pieces).ok());
      });
    }
    go.store(true);
    for (std::thread& t : threads) t.join();
  }
  Records replayed;
  Open(&replayed);
  std::set<std::string> got;
  for (const auto& [lsn, payload] : replayed) got.insert(payload);
  std::set<std::string> want;
  for (int t = 0; t < kThreads; ++t) {
    want.insert("t" + std::to_string(t) + ":" +
                std::string(static_cast<size_t>(t % 97), static_cast<char>('a' + t % 26)));
  }
  EXPECT_EQ(replayed.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(got, want);
}

TEST_F(WalTest, AFailedWriteIsReportedAndNeverReplayed) {
  std::unique_ptr<Wal> wal = Open();
  ASSERT_TRUE(wal->Append("kept").ok());
  // The file size limit makes the next write fail (EFBIG) as a full disk would.
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  void (*old_handler)(int) = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  absl::StatusOr<uint64_t> failed = wal->Append(std::string(1000, 'x'));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  EXPECT_THAT(failed.status().message(), HasSubstr("cannot write"));
  // The log goes on once the fault is gone.
  ASSERT_TRUE(wal->Append("after").ok());
  wal.reset();
  Records replayed;
  ReplayStats stats;
  Open(&replayed, &stats);
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].second, "kept");
  EXPECT_EQ(replayed[1].second, "after");
  EXPECT_EQ(stats.torn_tail_bytes + stats.corrupt_records, 0u);
}

TEST_F(WalTest, BadOptionsAndOversizedRecordsAreRefused) {
  EXPECT_FALSE(Wal::Open(WalOptions{}, nullptr, nullptr).ok());
  options_.max_record_bytes = 8;
  std::unique_ptr<Wal> wal = Open();
  absl::StatusOr<uint64_t> big = wal->Append("123456789");
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(big.status()));
}

TEST_F(WalTest, PiecesAreAppendedAsOneRecord) {
  std::unique_ptr<Wal> wal = Open();
  EXPECT_EQ(wal->next_lsn(), 1u);
  const std::string big(100'000, 'z');
  const std::vector<std::string_view> pieces{"head|", "", big, "|tail"};
  absl::StatusOr<uint64_t> lsn = wal->Append(pieces);
  ASSERT_TRUE(lsn.ok()) << lsn.status();
  EXPECT_EQ(*lsn, 1u);
  EXPECT_EQ(wal->next_lsn(), 2u);
  wal.reset();
  Records replayed;
  ReplayStats stats;
  Open(&replayed, &stats);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_EQ(replayed[0].second, "head|" + big + "|tail");
  EXPECT_EQ(stats.corrupt_records, 0u) << "the CRC of the pieces matches the CRC of the whole";
}

TEST_F(WalTest, TheActiveSegmentIsDeletedOnceEverythingInItIsReleased) {
  std::unique_ptr<Wal> wal = Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(wal->Append("record").ok());
  ASSERT_TRUE(wal->DeleteBefore(3).ok());
  EXPECT_EQ(wal->segments(), 1u) << "LSN 3 is still held";
  ASSERT_TRUE(wal->DeleteBefore(wal->next_lsn()).ok());
  EXPECT_EQ(wal->segments(), 0u);
  EXPECT_EQ(wal->bytes(), 0u);
  EXPECT_TRUE(SegmentFiles().empty());

  // Appends go on in a new segment, after the last LSN.
  absl::StatusOr<uint64_t> next = wal->Append("after");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 4u);
  wal.reset();
  Records replayed;
  Open(&replayed);
  EXPECT_THAT(replayed, ElementsAre(std::make_pair(4u, std::string("after"))));
}

}  // namespace
}  // namespace tailtrace::wal
