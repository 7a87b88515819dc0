// ExportingTraceStore: what the pipeline writes reaches the store first and the exporter only
// once stored; NullTraceStore: the store of storage.enabled: false.

#include "exporter/exporting_trace_store.h"

#include <mutex>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/null_trace_store.h"
#include "storage/testing/in_memory_trace_store.h"
#include "tests/exporter/exporter_test_util.h"

namespace tailtrace::exporter {
namespace {

using testing::MakeTrace;
using testing::TracesData;
using testing::WriteOf;

// Records the trace IDs it is given.
class RecordingExporter final : public TraceExporter {
 public:
  void Enqueue(const storage::TraceWrite& trace) override {
    std::lock_guard lock(mu_);
    ids_.push_back(trace.trace_id);
  }
  absl::Status Shutdown(int64_t) override { return absl::OkStatus(); }
  ExporterStats Stats() const override { return {}; }
  std::vector<TraceId> ids() const {
    std::lock_guard lock(mu_);
    return ids_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<TraceId> ids_;
};

TEST(ExportingTraceStoreTest, StoresThenExportsEveryTraceOfAWrite) {
  storage::InMemoryTraceStore inner;
  RecordingExporter exporter;
  ExportingTraceStore store(&inner, &exporter);
  const TracesData a = MakeTrace(1, 2);
  const TracesData b = MakeTrace(2, 3);
  const std::vector<storage::TraceWrite> writes = {WriteOf(a), WriteOf(b)};
  ASSERT_TRUE(store.Write(writes).ok());
  EXPECT_EQ(exporter.ids(), (std::vector<TraceId>{writes[0].trace_id, writes[1].trace_id}));
  // Reads pass through to the wrapped store.
  auto stored = store.GetTrace(writes[1].trace_id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(storage::SpanCountOf((*stored)->data), 3u);
}

TEST(ExportingTraceStoreTest, AFailedStoreWriteExportsNothingUntilItIsRetried) {
  storage::InMemoryTraceStore inner;
  RecordingExporter exporter;
  ExportingTraceStore store(&inner, &exporter);
  const TracesData a = MakeTrace(1, 2);
  const std::vector<storage::TraceWrite> writes = {WriteOf(a)};
  inner.FailWritesForTest(absl::UnavailableError("disk full"));
  EXPECT_TRUE(absl::IsUnavailable(store.Write(writes)));
  EXPECT_TRUE(absl::IsUnavailable(store.WriteHealth()));
  EXPECT_TRUE(exporter.ids().empty());
  // The pipeline retries the same traces; they are exported once, then.
  inner.FailWritesForTest(absl::OkStatus());
  ASSERT_TRUE(store.Write(writes).ok());
  EXPECT_EQ(exporter.ids().size(), 1u);
}

TEST(NullTraceStoreTest, TakesEveryWriteAndHoldsNothing) {
  storage::NullTraceStore none;
  RecordingExporter exporter;
  ExportingTraceStore store(&none, &exporter);
  const TracesData a = MakeTrace(1, 2);
  const std::vector<storage::TraceWrite> writes = {WriteOf(a)};
  ASSERT_TRUE(store.Write(writes).ok());
  EXPECT_EQ(exporter.ids().size(), 1u);
  EXPECT_TRUE(store.WriteHealth().ok());
  auto trace = store.GetTrace(writes[0].trace_id);
  ASSERT_TRUE(trace.ok());
  EXPECT_FALSE(trace->has_value());
  auto services = store.GetServices();
  ASSERT_TRUE(services.ok());
  EXPECT_TRUE(services->empty());
  EXPECT_TRUE(store.Flush().ok());
}

}  // namespace
}  // namespace tailtrace::exporter
