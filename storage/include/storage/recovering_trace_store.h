#pragma once

// A TraceStore that survives write faults by reopening the store it wraps.
//
// RocksDB 7.8 does not recover from every background error: after a failed WAL append (disk full,
// EIO, EMFILE) DB::Resume keeps answering the original error even once the fault has cleared, and
// retrying writes on such a database is what used to abort the process. This decorator passes
// every call to the wrapped store; when a Write fails with Unavailable (the store's own recovery,
// DB::Resume, did not help), it closes the wrapped store and opens it again through the opener,
// at most once per reopen_interval_ns (store clock, monotonic). A failed reopen leaves it closed:
// every call answers Unavailable with the cause (naming the path) until a later reopen succeeds.
// Reopening loses nothing: the failed write was not acknowledged (the caller keeps it and
// retries), earlier writes are in RocksDB's WAL, and unsealed index segments are re-indexed by
// Open from their markers.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"
#include "storage/trace_store.h"

namespace tailtrace::storage {

// Thread-safe. Reopening waits for the calls in progress.
class RecoveringTraceStore final : public TraceStore {
 public:
  // Opens the wrapped store; the same function is called to reopen it.
  using Opener = std::function<absl::StatusOr<std::unique_ptr<TraceStore>>()>;
  // Closes a store before it is reopened (the wrapped store's Close; nullptr: just destroy it).
  using Closer = std::function<absl::Status(TraceStore&)>;

  struct Options {
    // The least time between two reopen attempts. Default: 1 s.
    int64_t reopen_interval_ns = 1'000'000'000;
    // Whether the failing store must be reopened (e.g. RocksTraceStore::NeedsReopen); a fault that
    // clears by itself needs none. Default: null (always reopen).
    std::function<bool(const TraceStore&)> needs_reopen;
  };

  // Opens the store once; its error is returned as is (start-up fails with it). `clock` is not
  // owned and must outlive the store.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RecoveringTraceStore>> Create(
      Opener open, Closer close, Clock* clock, Options options);
  ~RecoveringTraceStore() override;

  absl::Status Write(std::span<const TraceWrite> traces) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTrace(const TraceId& id) override;
  absl::StatusOr<std::optional<StoredTrace>> GetTraceUpTo(const TraceId& id,
                                                          uint64_t max_spans) override;
  absl::StatusOr<std::vector<std::string>> GetServices() override;
  absl::StatusOr<std::vector<Operation>> GetOperations(const std::string& service,
                                                       int span_kind) override;
  absl::StatusOr<std::vector<TraceSummary>> FindTraces(const TraceQuery& query) override;
  absl::StatusOr<std::vector<std::string>> SuggestTags(const TagSuggestionQuery& query) override;
  absl::StatusOr<std::vector<DependencyLink>> GetDependencies(int64_t end_ns,
                                                              int64_t lookback_ns) override;
  absl::Status WriteDependencyCalls(std::span<const DependencyCalls> calls) override;
  absl::Status WriteMetricPoints(std::span<const MetricPoint> points) override;
  absl::StatusOr<std::vector<MetricPoint>> ReadMetricPoints(const MetricPointQuery& query) override;
  // As Write: an Unavailable failure reopens the store (at most once per reopen_interval_ns) and
  // tries once more.
  absl::Status ArchiveTrace(const StoredTrace& trace) override;
  absl::StatusOr<std::optional<StoredTrace>> GetArchivedTrace(const TraceId& id) override;
  // Retries a reopen first if the store is closed after a fault.
  absl::Status Flush() override;
  StoreStats Stats() const override;
  // The wrapped store's health, or Unavailable with the cause while it is closed after a fault.
  absl::Status WriteHealth() const override;

  // Closes the wrapped store (with the closer). Afterwards every call answers FailedPrecondition.
  [[nodiscard]] absl::Status Close();

  // Successful reopens since Create.
  uint64_t reopens() const { return reopens_.load(std::memory_order_relaxed); }

 private:
  RecoveringTraceStore(Opener open, Closer close, Clock* clock, Options options);

  // Closes and reopens the wrapped store unless the last attempt is less than
  // reopen_interval_ns ago. `failed` is the error that asked for it.
  void MaybeReopen(const absl::Status& failed);
  // The error every call answers while no store is open.
  absl::Status ClosedError() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Opener open_;
  const Closer close_;
  Clock* const clock_;
  const Options options_;

  mutable std::shared_mutex mu_;  // calls hold it shared, reopening exclusively
  std::unique_ptr<TraceStore> store_ ABSL_GUARDED_BY(mu_);
  absl::Status open_error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> last_attempt_ns_;
  std::atomic<uint64_t> reopens_{0};
  StoreStats last_stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tailtrace::storage
