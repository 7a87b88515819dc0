// The span metrics history (storage/metric_points.h) and added dependency calls against both
// stores: what is written is read back, points of one (series, slot) add up, queries select by
// service and slot, bad input is refused; RocksTraceStore keeps the points across reopening,
// expires them by retention, and counts no calls of its own without dependencies_from_traces.

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metric_keys.h"
#include "storage/rocks/rocks_trace_store.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/storage/both_stores_fixture.h"

namespace tailtrace::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kT0 = 1'700'000'040'000'000'000 / kMinute * kMinute;
constexpr int kServer = 2;
constexpr int kClient = 3;
constexpr int kError = 2;

MetricPoint Point(std::string service, std::string operation, int kind, int status, int64_t time,
                  std::vector<uint64_t> counts, double sum_ms,
                  std::vector<double> bounds = {10, 100}) {
  MetricPoint p;
  p.series = {std::move(service), std::move(operation), kind, status};
  p.time_ns = time;
  for (uint64_t c : counts) p.calls += c;
  p.bounds_ms = std::move(bounds);
  p.counts = std::move(counts);
  p.sum_ms = sum_ms;
  return p;
}

MetricPointQuery Query(std::vector<std::string> services, int64_t start, int64_t end) {
  return MetricPointQuery{std::move(services), start, end};
}

class MetricPointsTest : public testing::BothStoresTest {
 protected:
  MetricPointsTest() : BothStoresTest(kT0) { options_.metrics_retention_ns = 60 * kMinute; }

  std::vector<MetricPoint> Read(const MetricPointQuery& query) {
    auto points = store_->ReadMetricPoints(query);
    EXPECT_TRUE(points.ok()) << points.status();
    return points.ok() ? *points : std::vector<MetricPoint>{};
  }
};

TEST_P(MetricPointsTest, WrittenPointsAreReadBackSortedBySeriesThenTime) {
  const std::vector<MetricPoint> points = {
      Point("frontend", "GET /", kServer, 0, kT0 + kMinute, {1, 2, 0}, 120),
      Point("frontend", "GET /", kServer, 0, kT0, {3, 0, 1}, 400),
      Point("frontend", "GET /", kServer, kError, kT0, {0, 0, 2}, 900),
      Point("cart", "add", kClient, 0, kT0, {5, 0, 0}, 20)};
  ASSERT_TRUE(store_->WriteMetricPoints(points).ok());
  EXPECT_THAT(Read(Query({"frontend", "cart"}, kT0, kT0 + kMinute)),
              ElementsAre(points[3], points[1], points[0], points[2]));
}

TEST_P(MetricPointsTest, PointsOfOneSeriesAndSlotAddUp) {
  ASSERT_TRUE(store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {1, 2, 3}, 10)}}).ok());
  ASSERT_TRUE(store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {4, 0, 1}, 5)}}).ok());
  EXPECT_THAT(Read(Query({"a"}, kT0, kT0)),
              ElementsAre(Point("a", "op", kServer, 0, kT0, {5, 2, 4}, 15)));
}

TEST_P(MetricPointsTest, OtherBoundsReplaceTheHistogramButCallsAddUp) {
  ASSERT_TRUE(store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {1, 2, 3}, 10)}}).ok());
  ASSERT_TRUE(
      store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {4, 1}, 5, {50})}}).ok());
  MetricPoint expected = Point("a", "op", kServer, 0, kT0, {4, 1}, 5, {50});
  expected.calls = 11;
  EXPECT_THAT(Read(Query({"a"}, kT0, kT0)), ElementsAre(expected));
}

TEST_P(MetricPointsTest, QuerySelectsServicesAndSlotsInclusively) {
  std::vector<MetricPoint> points;
  for (int i = 0; i < 5; ++i) {
    points.push_back(Point("a", "op", kServer, 0, kT0 + i * kMinute, {1, 0, 0}, 1));
    points.push_back(Point("ab", "op", kServer, 0, kT0 + i * kMinute, {1, 0, 0}, 1));
  }
  ASSERT_TRUE(store_->WriteMetricPoints(points).ok());
  const std::vector<MetricPoint> got = Read(Query({"a", "a"}, kT0 + kMinute, kT0 + 3 * kMinute));
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].series.service, "a");
    EXPECT_EQ(got[i].time_ns, kT0 + (i + 1) * kMinute);
  }
  EXPECT_TRUE(Read(Query({"nobody"}, 0, INT64_MAX)).empty());
  EXPECT_EQ(Read(Query({"ab"}, 0, INT64_MAX)).size(), 5u);
}

TEST_P(MetricPointsTest, RefusesBadPointsAndQueriesNamingWhatIsWrong) {
  absl::Status s = store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {1, 2}, 1)}});
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("2 bucket counts for 2 bounds"));
  s = store_->WriteMetricPoints({{Point("a", "op", kServer, 0, -1, {1, 2, 3}, 1)}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("must not be negative"));
  s = store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {1, 2, 3}, 1, {5, 1})}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("not in order"));
  EXPECT_TRUE(Read(Query({"a"}, 0, INT64_MAX)).empty()) << "nothing of a refused batch is kept";

  auto read = store_->ReadMetricPoints(Query({}, 0, 1));
  EXPECT_THAT(read.status().message(), HasSubstr("at least one service"));
  read = store_->ReadMetricPoints(Query({"a"}, 2, 1));
  EXPECT_THAT(read.status().message(), HasSubstr("is after its end"));
}

TEST_P(MetricPointsTest, AddedDependencyCallsAreSummedPerSlot) {
  const std::vector<DependencyCalls> calls = {{kT0 + 5'000'000'000, "a", "b", 3, 1},
                                              {kT0 + kMinute + 10, "a", "b", 2, 2},
                                              {kT0, "b", "c", 1, 0}};
  ASSERT_TRUE(store_->WriteDependencyCalls(calls).ok());
  ASSERT_TRUE(store_->WriteDependencyCalls({{calls[2]}}).ok());
  auto both = store_->GetDependencies(kT0 + kMinute, kMinute);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_THAT(*both, ElementsAre(DependencyLink{"a", "b", 5, 3}, DependencyLink{"b", "c", 2, 0}));
  auto first = store_->GetDependencies(kT0 + 30'000'000'000, 30'000'000'000);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(*first, ElementsAre(DependencyLink{"a", "b", 3, 1}, DependencyLink{"b", "c", 2, 0}));
  // Failed calls added to counts without any (as an older version wrote them) add up too.
  ASSERT_TRUE(store_->WriteDependencyCalls({{DependencyCalls{kT0, "b", "c", 4, 3}}}).ok());
  first = store_->GetDependencies(kT0 + 30'000'000'000, 30'000'000'000);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(*first, ElementsAre(DependencyLink{"a", "b", 3, 1}, DependencyLink{"b", "c", 6, 3}));

  absl::Status s = store_->WriteDependencyCalls({{DependencyCalls{-1, "a", "b", 1}}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("negative time"));
  s = store_->WriteDependencyCalls({{DependencyCalls{kT0, "a", "", 1}}});
  EXPECT_THAT(std::string(s.message()), HasSubstr("calls[0] (a -> ): empty service name"));
  s = store_->WriteDependencyCalls({{calls[0], DependencyCalls{kT0, "a", "b", 1, 2}}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("calls[1] (a -> b): 2 failed calls of only 1"));
  first = store_->GetDependencies(kT0 + 30'000'000'000, 30'000'000'000);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(*first, ElementsAre(DependencyLink{"a", "b", 3, 1}, DependencyLink{"b", "c", 6, 3}))
      << "nothing of a refused batch is added";
}

INSTANTIATE_TEST_SUITE_P(Stores, MetricPointsTest,
                         ::testing::Values(testing::StoreKind::kInMemory,
                                           testing::StoreKind::kRocks,
                                           testing::StoreKind::kClickHouse),
                         testing::StoreKindName);

class RocksMetricPointsTest : public MetricPointsTest {};

TEST_P(RocksMetricPointsTest, PointsSurviveReopeningAndKeepAddingUp) {
  ASSERT_TRUE(store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {1, 0, 0}, 2)}}).ok());
  Reopen();
  ASSERT_TRUE(store_->WriteMetricPoints({{Point("a", "op", kServer, 0, kT0, {0, 1, 0}, 20)}}).ok());
  ASSERT_TRUE(store_->Flush().ok());
  Reopen();
  EXPECT_THAT(Read(Query({"a"}, kT0, kT0)),
              ElementsAre(Point("a", "op", kServer, 0, kT0, {1, 1, 0}, 22)));
}

TEST_P(RocksMetricPointsTest, RetentionDeletesOnlyPointsOlderThanTheMetricsRetention) {
  std::vector<MetricPoint> points;
  for (const std::string service : {"a", "b"}) {
    for (int i = 0; i < 4; ++i) {
      points.push_back(Point(service, "op", kServer, 0, kT0 + i * 30 * kMinute, {1, 0, 0}, 1));
    }
  }
  ASSERT_TRUE(store_->WriteMetricPoints(points).ok());
  // Retention 60 min: at kT0 + 120 min the points of kT0 and kT0 + 30 min have passed it.
  clock_.Advance(120 * kMinute);
  ASSERT_TRUE(rocks_->EnforceRetention().ok());
  for (const std::string service : {"a", "b"}) {
    const std::vector<MetricPoint> left = Read(Query({service}, 0, INT64_MAX));
    ASSERT_EQ(left.size(), 2u) << service;
    EXPECT_EQ(left[0].time_ns, kT0 + 60 * kMinute);
    EXPECT_EQ(left[1].time_ns, kT0 + 90 * kMinute);
  }
  Reopen();
  EXPECT_EQ(Read(Query({"a", "b"}, 0, INT64_MAX)).size(), 4u);
}

TEST_P(RocksMetricPointsTest, WithoutDependenciesFromTracesOnlyAddedCallsCount) {
  options_.dependencies_from_traces = false;
  Reopen();
  // frontend -> checkout in a stored trace: no call when the service graph counts them instead.
  opentelemetry::proto::trace::v1::TracesData data;
  const std::string trace_id(16, '\x01');
  for (const auto& [service, id, parent] :
       {std::tuple{"frontend", "\x01", ""}, std::tuple{"checkout", "\x02", "\x01"}}) {
    auto* rs = data.add_resource_spans();
    auto* attr = rs->mutable_resource()->add_attributes();
    attr->set_key("service.name");
    attr->mutable_value()->set_string_value(service);
    auto* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(trace_id);
    span->set_span_id(std::string(7, '\0') + id);
    if (*parent != '\0') span->set_parent_span_id(std::string(7, '\0') + parent);
    span->set_name("op");
    span->set_start_time_unix_nano(kT0);
    span->set_end_time_unix_nano(kT0 + 1000);
  }
  TraceWrite write;
  write.trace_id = TraceId::FromBytes(trace_id);
  write.spans = &data;
  ASSERT_TRUE(store_->Write({&write, 1}).ok());
  auto links = store_->GetDependencies(kT0 + kMinute, 2 * kMinute);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_TRUE(links->empty());
  ASSERT_TRUE(
      store_->WriteDependencyCalls({{DependencyCalls{kT0, "frontend", "checkout", 7, 1}}}).ok());
  links = store_->GetDependencies(kT0 + kMinute, 2 * kMinute);
  ASSERT_TRUE(links.ok());
  EXPECT_THAT(*links, ElementsAre(DependencyLink{"frontend", "checkout", 7, 1}));
}

INSTANTIATE_TEST_SUITE_P(Rocks, RocksMetricPointsTest,
                         ::testing::Values(testing::StoreKind::kRocks), testing::StoreKindName);

TEST(MetricKeysTest, KeysAndValuesRoundTripAndCorruptValuesAreRefused) {
  const MetricPoint p = Point(std::string("svc\0x", 5), "op|1", 5, 1, kT0, {7, 0, 300}, 1e9);
  const std::string key = MetricPointKey(p.series, p.time_ns);
  const auto decoded = DecodeMetricPointKey(key);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->first, p.series);
  EXPECT_EQ(decoded->second, kT0);
  EXPECT_EQ(DecodeMetricKeyService(key), p.series.service);

  MetricPoint got;
  const std::string value = EncodeMetricValue(p);
  ASSERT_TRUE(DecodeMetricValue(value, &got));
  got.series = p.series;
  got.time_ns = p.time_ns;
  EXPECT_EQ(got, p);
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(DecodeMetricValue(value.substr(0, n), &got)) << n;
  }
  EXPECT_FALSE(DecodeMetricValue(value + "x", &got));
  EXPECT_FALSE(DecodeMetricPointKey(key + "x").has_value());
}

}  // namespace
}  // namespace tailtrace::storage
