// ClickHouseTraceStore beyond the contract every store meets (search_test, the property test and
// the other suites run it too): values reach ClickHouse byte for byte, retention drops whole days,
// a retried INSERT is read once, and a server that is down fails writes as Unavailable, pushes
// back through WriteHealth and is used again once it is back.

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/tls_test_util.h"
#include "tests/storage/clickhouse_test_store.h"
#include "tests/storage/trace_builder.h"

namespace tailtrace::storage {
namespace {

using opentelemetry::proto::trace::v1::TracesData;
using testing::BuildChunk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeTraceId;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSec;
constexpr int64_t kT0 = 1'700'000'000 * kSec;

class ClickHouseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions base;
    base.retention_ns = 3 * kDay;
    auto options = testing::ClickHouseTestOptions(base, testing::TestDatabaseName());
    ASSERT_TRUE(options.ok()) << options.status();
    options_ = *std::move(options);
    Reopen();
  }

  void Reopen() {
    store_.reset();
    auto opened = ClickHouseTraceStore::Open(options_, &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }

  absl::Status Write(const TraceId& id, const std::vector<testing::SpanSpec>& spans) {
    const TracesData data = BuildChunk(id, spans);
    const TraceWrite w{id, &data, "", 1.0, {}};
    return store_->Write({&w, 1});
  }

  std::vector<TraceId> Find(TraceQuery q) {
    auto found = store_->FindTraces(q);
    EXPECT_TRUE(found.ok()) << found.status();
    std::vector<TraceId> ids;
    if (found.ok()) {
      for (const TraceSummary& s : *found) ids.push_back(s.trace_id);
    }
    return ids;
  }

  StoreOptions options_;
  FakeClock clock_{kT0};
  std::unique_ptr<ClickHouseTraceStore> store_;
};

TEST_F(ClickHouseStoreTest, EveryCharacterOfNamesAndTagsIsStoredAndSearchedAsIs) {
  // Every ASCII byte (NUL, quotes, backslashes and control characters included) and some of
  // UTF-8's longer sequences: OTLP strings are UTF-8 (the receivers refuse other bytes).
  std::string every_byte;
  for (int c = 0; c < 128; ++c) every_byte.push_back(static_cast<char>(c));
  every_byte += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  const std::string tricky = "a'b\\'c\\\\' OR 1=1 --\n\t";
  const TraceId id = MakeTraceId(0, 1);
  ASSERT_TRUE(Write(id, {{.service = tricky,
                          .name = every_byte,
                          .attributes = {{"k'\\", every_byte.substr(1, 100)}}}})
                  .ok());
  TraceQuery q;
  q.service = tricky;
  q.operation = every_byte;
  q.attributes = {{"k'\\", every_byte.substr(1, 100)}};
  EXPECT_THAT(Find(q), ElementsAre(id));
  q.attributes = {{"k'\\", every_byte.substr(2, 100)}};
  EXPECT_THAT(Find(q), ElementsAre());
  auto services = store_->GetServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ElementsAre(tricky));
  auto operations = store_->GetOperations(tricky, -1);
  ASSERT_TRUE(operations.ok()) << operations.status();
  ASSERT_EQ(operations->size(), 1u);
  EXPECT_EQ((*operations)[0].name, every_byte);
}

TEST_F(ClickHouseStoreTest, RetentionDropsWholeDaysOnceTheyEndedMoreThanTheTtlAgo) {
  const TraceId old_trace = MakeTraceId(0, 1);
  const TraceId new_trace = MakeTraceId(0, 2);
  ASSERT_TRUE(Write(old_trace, {{.span_id = 1}}).ok());
  ASSERT_TRUE(store_->ArchiveTrace(**store_->GetTrace(old_trace)).ok());
  clock_.Advance(2 * kDay);
  ASSERT_TRUE(Write(new_trace, {{.span_id = 2}}).ok());
  // The first write's day ended less than 3 days ago: nothing goes.
  ASSERT_TRUE(store_->EnforceRetentionForTest().ok());
  EXPECT_TRUE(store_->GetTrace(old_trace)->has_value());
  clock_.Advance(2 * kDay);
  ASSERT_TRUE(store_->EnforceRetentionForTest().ok());
  EXPECT_FALSE(store_->GetTrace(old_trace)->has_value());
  EXPECT_TRUE(store_->GetTrace(new_trace)->has_value());
  EXPECT_GT(store_->Stats().buckets_dropped, 0u);
  TraceQuery q;
  q.service = "svc";
  EXPECT_THAT(Find(q), ElementsAre(new_trace));
  // The archive is never removed.
  EXPECT_TRUE(store_->GetArchivedTrace(old_trace)->has_value());
}

TEST_F(ClickHouseStoreTest, MetricPointsGoByTheDayOfTheirSlotAfterTheMetricsRetention) {
  options_.metrics_retention_ns = kDay;
  Reopen();
  MetricPoint point;
  point.series = MetricSeries{"svc", "op", 2, 0};
  point.time_ns = kT0;
  point.calls = 3;
  point.counts = {3};
  ASSERT_TRUE(store_->WriteMetricPoints({&point, 1}).ok());
  const TraceId id = MakeTraceId(0, 1);
  ASSERT_TRUE(Write(id, {{.span_id = 1}}).ok());
  const MetricPointQuery query{{"svc"}, 0, kT0 + 10 * kDay};
  clock_.Advance(kDay);
  ASSERT_TRUE(store_->EnforceRetentionForTest().ok());
  EXPECT_EQ(store_->ReadMetricPoints(query)->size(), 1u);
  clock_.Advance(kDay);
  ASSERT_TRUE(store_->EnforceRetentionForTest().ok());
  EXPECT_TRUE(store_->ReadMetricPoints(query)->empty());
  EXPECT_TRUE(store_->GetTrace(id)->has_value());  // the traces' ttl is 3 days
}

TEST_F(ClickHouseStoreTest, MetricPointsOutliveTracesWhenTheMetricsRetentionIsLonger) {
  options_.metrics_retention_ns = 10 * kDay;
  Reopen();
  MetricPoint point;
  point.series = MetricSeries{"svc", "op", 2, 0};
  point.time_ns = kT0;
  point.calls = 1;
  point.counts = {1};
  ASSERT_TRUE(store_->WriteMetricPoints({&point, 1}).ok());
  const TraceId id = MakeTraceId(0, 1);
  ASSERT_TRUE(Write(id, {{.span_id = 1}}).ok());
  clock_.Advance(5 * kDay);
  ASSERT_TRUE(store_->EnforceRetentionForTest().ok());
  EXPECT_FALSE(store_->GetTrace(id)->has_value());
  EXPECT_EQ(store_->ReadMetricPoints(MetricPointQuery{{"svc"}, 0, kT0})->size(), 1u);
}

TEST_F(ClickHouseStoreTest, ATraceWrittenInPartsOnSeveralDaysIsReadWhole) {
  const TraceId id = MakeTraceId(0, 1);
  ASSERT_TRUE(Write(id, {{.span_id = 1, .start_ns = kT0}}).ok());
  clock_.Advance(kDay);
  ASSERT_TRUE(Write(id, {{.span_id = 2, .parent_id = 1, .start_ns = kT0 + kSec}}).ok());
  auto trace = store_->GetTrace(id);
  ASSERT_TRUE(trace.ok() && trace->has_value()) << trace.status();
  EXPECT_EQ(SpanCountOf((*trace)->data), 2u);
  auto cut = store_->GetTraceUpTo(id, 1);
  ASSERT_TRUE(cut.ok() && cut->has_value());
  EXPECT_TRUE((*cut)->truncated);
  TraceQuery q;
  q.service = "svc";
  auto found = store_->FindTraces(q);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].span_count, 2u);
}

TEST_F(ClickHouseStoreTest, ADownServerFailsWritesAsUnavailableAndIsUsedAgainOnceBack) {
  auto server = testing::ClickHouseServer::Shared();
  ASSERT_TRUE(server.ok()) << server.status();
  const TraceId id = MakeTraceId(0, 1);
  (*server)->Stop();
  absl::Status failed = Write(id, {{.span_id = 1}});
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_THAT(std::string(failed.message()), HasSubstr((*server)->endpoint().substr(7)));
  EXPECT_EQ(store_->WriteHealth().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->GetTrace(id).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*server)->Start().ok());
  // The pipeline writes the same traces again; the store is writable once an INSERT succeeds.
  ASSERT_TRUE(Write(id, {{.span_id = 1}}).ok());
  EXPECT_TRUE(store_->WriteHealth().ok());
  auto trace = store_->GetTrace(id);
  ASSERT_TRUE(trace.ok() && trace->has_value()) << trace.status();
  EXPECT_EQ(SpanCountOf((*trace)->data), 1u);
}

TEST_F(ClickHouseStoreTest, AWriteThatTimedOutButWasStoredIsReadOnceWhenWrittenAgain) {
  options_.clickhouse.timeout_ns = 500'000'000;
  Reopen();
  auto server = testing::ClickHouseServer::Shared();
  ASSERT_TRUE(server.ok()) << server.status();
  const TraceId id = MakeTraceId(0, 1);
  (*server)->Pause();
  absl::Status timed_out = Write(id, {{.span_id = 1}, {.span_id = 2, .parent_id = 1}});
  (*server)->Resume();
  ASSERT_EQ(timed_out.code(), absl::StatusCode::kUnavailable) << timed_out;
  // The server runs the INSERT it had received once it is thawed.
  auto client = clickhouse::ClickHouseClient::Create(options_.clickhouse);
  ASSERT_TRUE(client.ok());
  std::string count;
  for (int i = 0; i < 200 && count != "2\n"; ++i) {
    auto answer = (*client)->Execute("SELECT count() FROM " + options_.clickhouse.database +
                                     ".spans FORMAT TabSeparated");
    if (answer.ok()) count = *answer;
  }
  ASSERT_EQ(count, "2\n") << "the timed-out INSERT was not stored";
  // The pipeline writes the same trace again.
  ASSERT_TRUE(Write(id, {{.span_id = 1}, {.span_id = 2, .parent_id = 1}}).ok());
  auto trace = store_->GetTrace(id);
  ASSERT_TRUE(trace.ok() && trace->has_value()) << trace.status();
  EXPECT_EQ(SpanCountOf((*trace)->data), 2u);
  TraceQuery q;
  q.service = "svc";
  auto found = store_->FindTraces(q);
  ASSERT_TRUE(found.ok() && found->size() == 1u) << found.status();
  EXPECT_EQ((*found)[0].span_count, 2u);
  // Written again after a success, the same spans are stored again, as in every store.
  ASSERT_TRUE(Write(id, {{.span_id = 1}, {.span_id = 2, .parent_id = 1}}).ok());
  EXPECT_EQ(SpanCountOf((*store_->GetTrace(id))->data), 4u);
}

TEST_F(ClickHouseStoreTest, OpeningWithoutAServerNamesTheEndpoint) {
  StoreOptions options = options_;
  options.clickhouse.endpoint = "http://127.0.0.1:1";
  auto opened = ClickHouseTraceStore::Open(options, &clock_);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("127.0.0.1:1"));
}

TEST_F(ClickHouseStoreTest, HttpsWithTheServersCaWorksAndAnUntrustedServerIsRefused) {
  const std::string dir =
      ::testing::TempDir() + "/tailtrace_clickhouse_tls_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto pki = tailtrace::testing::MakeTestPki(dir, "ch");
  ASSERT_TRUE(pki.ok()) << pki.status();
  auto server = testing::ClickHouseServer::StartWithTls(pki->server_cert, pki->server_key);
  ASSERT_TRUE(server.ok()) << server.status();
  StoreOptions options = options_;
  options.clickhouse.endpoint = absl::StrCat("https://localhost:", (*server)->https_port());
  options.clickhouse.tls.ca_file = pki->ca_cert;
  auto opened = ClickHouseTraceStore::Open(options, &clock_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store_ = std::move(*opened);
  const TraceId id = MakeTraceId(0, 1);
  ASSERT_TRUE(Write(id, {{.span_id = 1}}).ok());
  EXPECT_TRUE(store_->GetTrace(id)->has_value());
  // The system's roots do not know the test CA: the handshake fails, naming the server.
  options.clickhouse.tls.ca_file = "";
  auto untrusted = ClickHouseTraceStore::Open(options, &clock_);
  EXPECT_EQ(untrusted.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(untrusted.status().message()), HasSubstr("TLS"));
  store_.reset();
  server->reset();
  std::filesystem::remove_all(dir);
}

TEST_F(ClickHouseStoreTest, TheSchemaIsCreatedOnceAndReopeningKeepsTheData) {
  const TraceId id = MakeTraceId(0, 1);
  ASSERT_TRUE(Write(id, {{.span_id = 1}}).ok());
  Reopen();
  EXPECT_TRUE(store_->GetTrace(id)->has_value());
  options_.clickhouse.create_schema = false;
  Reopen();
  EXPECT_TRUE(store_->GetTrace(id)->has_value());
}

}  // namespace
}  // namespace tailtrace::storage
