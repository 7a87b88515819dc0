// The trace archive (trace_store.h, "Archive semantics") against both stores: the archived copy is
// read back whole, archiving again merges (idempotent, late spans added, nothing lost), it is
// apart from the stored trace; RocksTraceStore keeps it across reopening and when retention drops
// the trace's bucket.

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "storage/rocks/rocks_trace_store.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/both_stores_fixture.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using google::protobuf::util::MessageDifferencer;
using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeTraceId;
using testing::SpanSpec;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSec;
constexpr int64_t kT0 = 1'699'999'200 * kSec;  // hour-aligned

const TraceId kId = MakeTraceId(7, 1);

// A copy of trace kId with spans `span_ids` (of `service`).
StoredTrace Trace(std::vector<uint64_t> span_ids, std::string policy = "errors", double rate = 1.0,
                  std::string service = "checkout") {
  std::vector<SpanSpec> spans;
  for (uint64_t id : span_ids) {
    spans.push_back(
        {.service = service, .span_id = id, .start_ns = kT0 + 1000 * static_cast<int64_t>(id)});
  }
  StoredTrace t;
  t.trace_id = kId;
  t.data = BuildChunk(kId, spans);
  t.sampling_policy = std::move(policy);
  t.sample_rate = rate;
  return t;
}

// The (service, span ID) of every span, sorted.
std::vector<std::pair<std::string, std::string>> SpansOf(const TracesData& data) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& rs : data.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        out.emplace(ServiceNameOf(rs), HexEncode(span.span_id()));
      }
    }
  }
  return {out.begin(), out.end()};
}

std::pair<std::string, std::string> Span(uint64_t id, std::string service = "checkout") {
  return {std::move(service), HexEncode(testing::SpanIdBytes(id))};
}

class ArchiveTest : public testing::BothStoresTest {
 protected:
  ArchiveTest() : BothStoresTest(kT0) {
    // Four one-hour buckets.
    options_.retention_ns = 4 * kHour;
    options_.retention_buckets = 4;
  }

  void Archive(const StoredTrace& trace) {
    absl::Status s = store_->ArchiveTrace(trace);
    ASSERT_TRUE(s.ok()) << s;
  }
  std::optional<StoredTrace> Archived(const TraceId& id = kId) {
    auto got = store_->GetArchivedTrace(id);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }
  void Write(const StoredTrace& trace) {
    const TraceWrite w{trace.trace_id, &trace.data, trace.sampling_policy, trace.sample_rate, {}};
    ASSERT_TRUE(store_->Write({&w, 1}).ok());
  }
};

TEST_P(ArchiveTest, TheArchivedCopyIsReadBackWhole) {
  EXPECT_EQ(Archived(), std::nullopt);
  const StoredTrace trace = Trace({1, 2, 3}, "slow", 4.0);
  Archive(trace);
  std::optional<StoredTrace> got = Archived();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->trace_id, kId);
  EXPECT_TRUE(MessageDifferencer::Equals(got->data, trace.data));
  EXPECT_EQ(got->sampling_policy, "slow");
  EXPECT_EQ(got->sample_rate, 4.0);
  EXPECT_FALSE(got->truncated);
  EXPECT_EQ(Archived(MakeTraceId(7, 2)), std::nullopt);
}

TEST_P(ArchiveTest, ArchivingTheSameTraceAgainChangesNothing) {
  const StoredTrace trace = Trace({1, 2, 3});
  Archive(trace);
  Archive(trace);
  std::optional<StoredTrace> got = Archived();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(got->data, trace.data));
}

TEST_P(ArchiveTest, ArchivingAgainAddsNewSpansAndLosesNone) {
  Archive(Trace({1, 2}));
  Archive(Trace({2, 3}));  // late span 3; span 2 again
  EXPECT_THAT(SpansOf(Archived()->data), ElementsAre(Span(1), Span(2), Span(3)));
  // A copy holding fewer spans (e.g. only the late ones, written after retention removed the
  // rest) removes none.
  Archive(Trace({3}));
  EXPECT_THAT(SpansOf(Archived()->data), ElementsAre(Span(1), Span(2), Span(3)));
  // The same span ID under another resource is another span.
  Archive(Trace({1}, "errors", 1.0, "payment"));
  EXPECT_THAT(SpansOf(Archived()->data),
              ElementsAre(Span(1), Span(2), Span(3), Span(1, "payment")));
}

TEST_P(ArchiveTest, TheFirstPolicyStaysUnlessItWasEmpty) {
  Archive(Trace({1}, "", 1.0));
  Archive(Trace({2}, "latency", 10.0));
  Archive(Trace({3}, "errors", 1.0));
  EXPECT_EQ(Archived()->sampling_policy, "latency");
  EXPECT_EQ(Archived()->sample_rate, 10.0);
}

TEST_P(ArchiveTest, RefusesATruncatedTraceAndStoresNothingForAnEmptyOne) {
  StoredTrace truncated = Trace({1, 2});
  truncated.truncated = true;
  absl::Status s = store_->ArchiveTrace(truncated);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr(kId.Hex()));
  StoredTrace empty;
  empty.trace_id = kId;
  EXPECT_TRUE(store_->ArchiveTrace(empty).ok());
  EXPECT_EQ(Archived(), std::nullopt);
}

TEST_P(ArchiveTest, TheArchiveIsApartFromTheStoredTrace) {
  Archive(Trace({1}));
  // Archiving stores no trace ...
  auto stored = store_->GetTrace(kId);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, std::nullopt);
  auto found = store_->FindTraces(TraceQuery{});
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
  // ... and writing the trace changes no archived copy.
  Write(Trace({2}));
  EXPECT_THAT(SpansOf(Archived()->data), ElementsAre(Span(1)));
}

// (RocksTraceStore's write faults: rocks_store_faults_test.cc.)
TEST(InMemoryArchiveTest, AStoreThatCannotWriteRefusesToArchive) {
  InMemoryTraceStore store;
  store.FailWritesForTest(absl::UnavailableError("disk"));
  EXPECT_TRUE(absl::IsUnavailable(store.ArchiveTrace(Trace({1}))));
  store.FailWritesForTest(absl::OkStatus());
  auto got = store.GetArchivedTrace(kId);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Stores, ArchiveTest,
                         ::testing::Values(testing::StoreKind::kInMemory,
                                           testing::StoreKind::kRocks,
                                           testing::StoreKind::kClickHouse),
                         testing::StoreKindName);

class RocksArchiveTest : public ArchiveTest {};

TEST_P(RocksArchiveTest, TheArchiveSurvivesReopening) {
  Archive(Trace({1, 2}, "slow", 2.0));
  ASSERT_TRUE(store_->Flush().ok());
  Reopen();
  Archive(Trace({3}));
  Reopen();  // without a flush: from the WAL
  std::optional<StoredTrace> got = Archived();
  ASSERT_TRUE(got.has_value());
  EXPECT_THAT(SpansOf(got->data), ElementsAre(Span(1), Span(2), Span(3)));
  EXPECT_EQ(got->sampling_policy, "slow");
  EXPECT_EQ(got->sample_rate, 2.0);
}

TEST_P(RocksArchiveTest, TheArchiveSurvivesRetentionDroppingTheTracesBucket) {
  const StoredTrace trace = Trace({1, 2, 3}, "errors", 1.0);
  Write(trace);
  auto stored = store_->GetTrace(kId);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  Archive(**stored);
  ASSERT_TRUE(store_->Flush().ok());
  ASSERT_EQ(rocks_->BucketsForTest().size(), 1u);

  // The bucket [T0, T0+1h) expires at T0+5h.
  clock_.Advance(5 * kHour);
  auto dropped = rocks_->EnforceRetention();
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_EQ(*dropped, 1);
  stored = store_->GetTrace(kId);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, std::nullopt);
  std::optional<StoredTrace> got = Archived();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(got->data, trace.data));

  // Nor does reopening (which enforces retention again) lose it.
  clock_.Advance(10 * kHour);
  Reopen();
  got = Archived();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(got->data, trace.data));
}

TEST_P(RocksArchiveTest, TheArchiveSurvivesMaxDiskBytesDroppingBuckets) {
  options_.max_disk_bytes = 1;  // every bucket but the newest is over it
  Reopen();
  Write(Trace({1}));
  Archive(Trace({1}));
  ASSERT_TRUE(store_->Flush().ok());
  clock_.Advance(kHour);
  StoredTrace other;
  other.trace_id = MakeTraceId(7, 2);
  other.data = BuildChunk(other.trace_id, {{.span_id = 2, .start_ns = kT0 + kHour}});
  Write(other);  // opens a new bucket, which enforces retention: the first bucket goes
  EXPECT_EQ(store_->Stats().buckets_dropped, 1u);
  auto stored = store_->GetTrace(kId);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, std::nullopt);
  EXPECT_THAT(SpansOf(Archived()->data), ElementsAre(Span(1)));
}

INSTANTIATE_TEST_SUITE_P(Rocks, RocksArchiveTest, ::testing::Values(testing::StoreKind::kRocks),
                         testing::StoreKindName);

}  // namespace
}  // namespace tailtrace::storage
