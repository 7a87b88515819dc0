// Property test: random traces (several services, operations, tags, durations and start times,
// many written in several chunks interleaved with other traces, across several retention
// buckets) and random queries. RocksTraceStore's index-based answers must equal the brute-force
// answers of InMemoryTraceStore: same traces, same summaries, same order, same limit behaviour;
// and the same dependency counts. Tag suggestions are equal too without a time window; with one,
// RocksTraceStore may also count a trace at a start it had before late spans moved it earlier:
// its answer lies between InMemoryTraceStore's and that of every start each trace ever had.
// After a clean close, half the segments are rewritten as store format 4 wrote them (no service
// masks, service tag postings instead): the answers stay the same.

#include <memory>
#include <string>
#include <tuple>

#include "gtest/gtest.h"
#include "storage/rocks/rocks_trace_store.h"
#include "tests/storage/clickhouse_test_store.h"
#include "tests/storage/format4_segments.h"
#include "tests/storage/search_property_fixture.h"

namespace tailtrace::storage::property {
namespace {

TEST_P(SearchPropertyTest, RocksIndexesAnswerExactlyLikeTheBruteForceScan) {
  Random r(std::get<0>(GetParam()));
  auto opened = RocksTraceStore::Open(options_, &clock_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<RocksTraceStore> rocks = std::move(*opened);

  WriteRandomTraces(r, *rocks);
  if (HasFatalFailure()) return;
  EXPECT_GT(rocks->BucketsForTest().size(), 2u);

  CompareQueries(r, *rocks, 400);
  if (HasFatalFailure()) return;
  CompareTagSuggestions(r, *rocks, 150);
  if (HasFatalFailure()) return;
  // Everything the store keeps in memory about buckets is rebuilt correctly on reopen. Without
  // the cache the store closes as a crash would leave it (open index segments unsealed), so the
  // reopen re-indexes them from their markers.
  // With the cache, half the segments are then read as format 4 wrote them.
  if (std::get<1>(GetParam())) {
    ASSERT_TRUE(rocks->Flush().ok());
    ASSERT_TRUE(rocks->Close().ok());
    rocks.reset();
    size_t service_tag_postings = 0;
    testing::RewriteSegmentsAsFormat4(
        options_.path, [](const SegmentRef& ref) { return ref.segment % 2 == 0; },
        &service_tag_postings);
    if (HasFatalFailure()) return;
    EXPECT_GT(service_tag_postings, 100u);
  } else {
    ASSERT_TRUE(rocks->CloseWithoutSealingForTest().ok());
    rocks.reset();
  }
  opened = RocksTraceStore::Open(options_, &clock_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  rocks = std::move(*opened);
  CompareQueries(r, *rocks, 200);
  if (HasFatalFailure()) return;
  CompareTagSuggestions(r, *rocks, 100);
  // The comparisons must not be vacuous.
  EXPECT_GT(non_empty_, compared_ / 3) << non_empty_ << " of " << compared_;
  EXPECT_GT(non_empty_sampling_, 10) << "queries with sampling.* conditions that found traces";
  EXPECT_GT(non_empty_suggestions_, 100) << non_empty_suggestions_ << " of 250";
  auto services = rocks->GetServices();
  auto want_services = memory_.GetServices();
  ASSERT_TRUE(services.ok() && want_services.ok());
  EXPECT_EQ(*services, *want_services);
}

// The same traces and queries against ClickHouseTraceStore (its SQL against the brute-force
// scan): searches, dependencies, tag suggestions (exact, so within the bounds the RocksDB store
// is held to), every trace read back, services and operations.
using ClickHouseSearchPropertyTest = SearchPropertyTest;

TEST_P(ClickHouseSearchPropertyTest, ClickHouseAnswersExactlyLikeTheBruteForceScan) {
  Random r(std::get<0>(GetParam()));
  auto options = testing::ClickHouseTestOptions(options_, testing::TestDatabaseName());
  ASSERT_TRUE(options.ok()) << options.status();
  auto opened = ClickHouseTraceStore::Open(*options, &clock_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<ClickHouseTraceStore> store = std::move(*opened);
  CheckClickHouseStore(r, *store);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ClickHouseSearchPropertyTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u),
                                            ::testing::Values(false)),
                         [](const auto& info) {
                           return "seed" + std::to_string(std::get<0>(info.param));
                         });

INSTANTIATE_TEST_SUITE_P(Seeds, SearchPropertyTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u), ::testing::Bool()),
                         [](const auto& info) {
                           return "seed" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_cache" : "_nocache");
                         });

}  // namespace
}  // namespace tailtrace::storage::property
