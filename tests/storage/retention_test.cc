// Retention of RocksTraceStore with an injected clock: whole buckets are dropped, their disk
// space comes back, and nothing newer is lost.

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::MakeTraceId;
using testing::SpanSpec;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSec;
// Hour-aligned, so bucket boundaries are easy to reason about.
constexpr int64_t kT0 = 1'699'999'200 * kSec;
static_assert(kT0 % kHour == 0);

const TraceId kOld = MakeTraceId(0, 1);
const TraceId kMid = MakeTraceId(0, 2);
const TraceId kNew = MakeTraceId(0, 3);

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("tailtrace_retention_") + info->name() + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    options_.path = (dir_ / "db").string();
    options_.block_cache_bytes = 1 << 20;
    options_.write_buffer_bytes = 1 << 20;
    options_.retention_check_interval_ms = 0;
    // Four one-hour buckets.
    options_.retention_ns = 4 * kHour;
    options_.retention_buckets = 4;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    store_.reset();
    auto store = RocksTraceStore::Open(options_, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A trace of `service` whose spans carry `payload_bytes` of incompressible data.
  void Write(const TraceId& id, const std::string& service, size_t payload_bytes = 0,
             uint64_t span_id = 1) {
    SpanSpec span{.service = service, .span_id = span_id, .start_ns = clock_.UnixNanos()};
    if (payload_bytes > 0) {
      std::string payload(payload_bytes, '\0');
      // Random base64 characters: valid UTF-8, and about 6 bits of entropy per byte.
      constexpr char kAlphabet[] =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      for (char& c : payload) c = kAlphabet[rng_() % 64];
      span.attributes.emplace_back("payload", payload);
    }
    const TracesData data = BuildChunk(id, {span});
    const TraceWrite w{id, &data, "", 1.0, {}};
    ASSERT_TRUE(store_->Write({&w, 1}).ok());
  }

  bool Has(const TraceId& id) {
    auto got = store_->GetTrace(id);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && got->has_value();
  }

  std::vector<TraceId> FindAll() {
    auto found = store_->FindTraces(TraceQuery{});
    EXPECT_TRUE(found.ok()) << found.status();
    std::vector<TraceId> ids;
    if (found.ok()) {
      for (const TraceSummary& s : *found) ids.push_back(s.trace_id);
    }
    return ids;
  }

  // Bytes of SST files in the store directory (what a dropped bucket gives back).
  uint64_t SstBytesOnDisk() const {
    uint64_t total = 0;
    for (const auto& entry : std::filesystem::directory_iterator(options_.path)) {
      if (entry.path().extension() == ".sst") total += entry.file_size();
    }
    return total;
  }

  FakeClock clock_{kT0};
  std::mt19937 rng_{7};
  std::filesystem::path dir_;
  StoreOptions options_;
  std::unique_ptr<RocksTraceStore> store_;
};

TEST_F(RetentionTest, ExpiredBucketIsDroppedWholeAndItsDiskSpaceComesBack) {
  Open();
  Write(kOld, "old-service", 200'000);
  ASSERT_TRUE(store_->Flush().ok());
  clock_.Advance(2 * kHour);
  Write(kNew, "new-service");
  ASSERT_TRUE(store_->Flush().ok());
  ASSERT_EQ(store_->BucketsForTest().size(), 2u);
  const uint64_t before = SstBytesOnDisk();
  ASSERT_GT(before, 200'000u);

  // The old bucket [T0, T0+1h) expires at T0+5h; not a nanosecond earlier.
  clock_.Advance(3 * kHour - 1);
  auto dropped = store_->EnforceRetention();
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 0);
  EXPECT_TRUE(Has(kOld));
  clock_.Advance(1);
  dropped = store_->EnforceRetention();
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 1);

  EXPECT_FALSE(Has(kOld));
  EXPECT_TRUE(Has(kNew));
  EXPECT_THAT(FindAll(), ElementsAre(kNew));
  auto services = store_->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("new-service"));
  EXPECT_EQ(store_->Stats().buckets, 1u);
  EXPECT_EQ(store_->Stats().buckets_dropped, 1u);
  // The old trace's 200 kB (about 150 kB compressed) are gone from the disk.
  const uint64_t after = SstBytesOnDisk();
  EXPECT_LT(after + 100'000, before) << "before " << before << " after " << after;
}

TEST_F(RetentionTest, AWriteThatOpensANewBucketEnforcesRetention) {
  Open();
  Write(kOld, "svc");
  clock_.Advance(5 * kHour);
  Write(kNew, "svc");  // opens a new bucket, which runs retention
  EXPECT_FALSE(Has(kOld));
  EXPECT_TRUE(Has(kNew));
  EXPECT_EQ(store_->BucketsForTest().size(), 1u);
}

TEST_F(RetentionTest, ReopeningDropsWhatExpiredWhileClosed) {
  Open();
  Write(kOld, "svc");
  clock_.Advance(kHour);
  Write(kMid, "svc");
  store_.reset();
  clock_.Advance(4 * kHour);  // kOld's bucket expired, kMid's not yet
  Open();
  EXPECT_FALSE(Has(kOld));
  EXPECT_TRUE(Has(kMid));
  EXPECT_THAT(FindAll(), ElementsAre(kMid));
}

TEST_F(RetentionTest, LateSpansJoinTheirTraceBucketAndExpireWithIt) {
  Open();
  Write(kOld, "svc", 0, 1);
  clock_.Advance(2 * kHour);
  Write(kNew, "svc");
  Write(kOld, "late-svc", 0, 2);  // a late chunk, written in the new bucket's time
  auto trace = store_->GetTrace(kOld);
  ASSERT_TRUE(trace.ok() && trace->has_value());
  EXPECT_EQ((*trace)->data.resource_spans_size(), 2);
  // Both chunks go with the old bucket.
  clock_.Advance(3 * kHour);
  auto dropped = store_->EnforceRetention();
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 1);
  EXPECT_FALSE(Has(kOld));
  EXPECT_TRUE(Has(kNew));
  auto services = store_->GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ElementsAre("svc"));  // "late-svc" was only in the old bucket
}

TEST_F(RetentionTest, MaxDiskBytesDropsTheOldestBucketsFirst) {
  Open();
  Write(kOld, "svc", 100'000);
  ASSERT_TRUE(store_->Flush().ok());
  clock_.Advance(kHour);
  Write(kMid, "svc", 100'000);
  ASSERT_TRUE(store_->Flush().ok());
  clock_.Advance(kHour);
  Write(kNew, "svc", 100'000);
  ASSERT_TRUE(store_->Flush().ok());
  const uint64_t total = SstBytesOnDisk();
  store_.reset();
  // Room for about two and a half of the three buckets.
  options_.max_disk_bytes = total * 5 / 6;
  Open();
  EXPECT_FALSE(Has(kOld));
  EXPECT_TRUE(Has(kMid));
  EXPECT_TRUE(Has(kNew));
  // Never the newest bucket, even when it alone is too big.
  store_.reset();
  options_.max_disk_bytes = 1;
  Open();
  EXPECT_FALSE(Has(kMid));
  EXPECT_TRUE(Has(kNew));
  EXPECT_EQ(store_->BucketsForTest().size(), 1u);
}

TEST_F(RetentionTest, BucketsFollowTheConfiguredWidth) {
  Open();
  Write(kOld, "svc");
  clock_.Advance(kHour / 2);
  Write(kMid, "svc");  // same bucket
  clock_.Advance(kHour / 2);
  Write(kNew, "svc");  // next bucket
  const auto buckets = store_->BucketsForTest();
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].start_ns, kT0);
  EXPECT_EQ(buckets[0].end_ns, kT0 + kHour);
  EXPECT_EQ(buckets[1].start_ns, kT0 + kHour);
  EXPECT_EQ(buckets[1].column_family,
            "bucket-" + std::to_string(kT0 + kHour) + "-" + std::to_string(kT0 + 2 * kHour));
}

TEST_F(RetentionTest, InvalidRetentionOptionsAreRejectedNamingTheOption) {
  options_.retention_buckets = 0;
  auto store = RocksTraceStore::Open(options_, &clock_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()), ::testing::HasSubstr("retention_buckets"));
  options_.retention_buckets = 4;
  options_.retention_ns = 0;
  store = RocksTraceStore::Open(options_, &clock_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(store.status().message()), ::testing::HasSubstr("retention"));
}

}  // namespace
}  // namespace tailtrace::storage
