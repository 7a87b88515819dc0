#include "storage/recovering_trace_store.h"

#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace tailtrace::storage {

RecoveringTraceStore::RecoveringTraceStore(Opener open, Closer close, Clock* clock, Options options)
    : open_(std::move(open)),
      close_(std::move(close)),
      clock_(clock),
      options_(options),
      last_attempt_ns_(std::numeric_limits<int64_t>::min() / 2) {}

absl::StatusOr<std::unique_ptr<RecoveringTraceStore>> RecoveringTraceStore::Create(
    Opener open, Closer close, Clock* clock, Options options) {
  if (!open || clock == nullptr) {
    return absl::InvalidArgumentError("RecoveringTraceStore: opener or clock missing");
  }
  if (options.reopen_interval_ns < 0) {
    return absl::InvalidArgumentError("RecoveringTraceStore: reopen_interval_ns is negative");
  }
  absl::StatusOr<std::unique_ptr<TraceStore>> first = open();
  if (!first.ok()) return first.status();
  std::unique_ptr<RecoveringTraceStore> store(
      new RecoveringTraceStore(std::move(open), std::move(close), clock, options));
  std::unique_lock lock(store->mu_);
  store->store_ = *std::move(first);
  lock.unlock();
  return store;
}

RecoveringTraceStore::~RecoveringTraceStore() {
  absl::Status s = Close();
  if (!s.ok()) spdlog::warn("storage: closing: {}", std::string(s.message()));
}

absl::Status RecoveringTraceStore::Close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  if (store_ == nullptr) return absl::OkStatus();
  absl::Status s = close_ ? close_(*store_) : absl::OkStatus();
  store_.reset();
  return s;
}

absl::Status RecoveringTraceStore::ClosedError() const {
  if (closed_) return absl::FailedPreconditionError("trace store is closed");
  return open_error_;
}

void RecoveringTraceStore::MaybeReopen(const absl::Status& failed) {
  const int64_t now = clock_->MonotonicNanos();
  int64_t last = last_attempt_ns_.load(std::memory_order_relaxed);
  if (now - last < options_.reopen_interval_ns) return;
  {
    std::shared_lock lock(mu_);
    if (store_ != nullptr && options_.needs_reopen && !options_.needs_reopen(*store_)) return;
  }
  if (!last_attempt_ns_.compare_exchange_strong(last, now)) return;  // another thread does it
  std::unique_lock lock(mu_);
  if (closed_) return;
  if (store_ != nullptr) {
    // A write that succeeded meanwhile means the store recovered by itself.
    if (store_->WriteHealth().ok()) return;
    spdlog::warn("storage: reopening the store to recover from: {}", std::string(failed.message()));
    if (close_) {
      absl::Status closed = close_(*store_);
      if (!closed.ok()) spdlog::warn("storage: closing: {}", std::string(closed.message()));
    }
    last_stats_ = store_->Stats();
    store_.reset();
    open_error_ = absl::UnavailableError(
        absl::StrCat("trace store cannot write: ", std::string(failed.message())));
  }
  absl::StatusOr<std::unique_ptr<TraceStore>> opened = open_();
  if (!opened.ok()) {
    open_error_ = absl::UnavailableError(absl::StrCat("trace store cannot write (reopen failed): ",
                                                      std::string(opened.status().message())));
    spdlog::error("storage: {}", std::string(open_error_.message()));
    return;
  }
  store_ = *std::move(opened);
  open_error_ = absl::OkStatus();
  reopens_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("storage: store reopened, writes resume");
}

absl::Status RecoveringTraceStore::Write(std::span<const TraceWrite> traces) {
  absl::Status s;
  {
    std::shared_lock lock(mu_);
    s = store_ != nullptr ? store_->Write(traces) : ClosedError();
    if (s.ok() || !absl::IsUnavailable(s)) return s;
  }
  MaybeReopen(s);
  std::shared_lock lock(mu_);
  // One more try right after a successful reopen, so the caller need not wait for its next tick.
  if (store_ != nullptr && store_->WriteHealth().ok()) return store_->Write(traces);
  return s;
}

absl::StatusOr<std::optional<StoredTrace>> RecoveringTraceStore::GetTrace(const TraceId& id) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->GetTrace(id);
}

absl::StatusOr<std::optional<StoredTrace>> RecoveringTraceStore::GetTraceUpTo(const TraceId& id,
                                                                              uint64_t max_spans) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->GetTraceUpTo(id, max_spans);
}

absl::StatusOr<std::vector<std::string>> RecoveringTraceStore::GetServices() {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->GetServices();
}

absl::StatusOr<std::vector<Operation>> RecoveringTraceStore::GetOperations(
    const std::string& service, int span_kind) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->GetOperations(service, span_kind);
}

absl::StatusOr<std::vector<TraceSummary>> RecoveringTraceStore::FindTraces(
    const TraceQuery& query) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->FindTraces(query);
}

absl::StatusOr<std::vector<std::string>> RecoveringTraceStore::SuggestTags(
    const TagSuggestionQuery& query) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->SuggestTags(query);
}

absl::StatusOr<std::vector<DependencyLink>> RecoveringTraceStore::GetDependencies(
    int64_t end_ns, int64_t lookback_ns) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->GetDependencies(end_ns, lookback_ns);
}

absl::Status RecoveringTraceStore::WriteDependencyCalls(std::span<const DependencyCalls> calls) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->WriteDependencyCalls(calls);
}

absl::Status RecoveringTraceStore::WriteMetricPoints(std::span<const MetricPoint> points) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->WriteMetricPoints(points);
}

absl::StatusOr<std::vector<MetricPoint>> RecoveringTraceStore::ReadMetricPoints(
    const MetricPointQuery& query) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->ReadMetricPoints(query);
}

absl::Status RecoveringTraceStore::ArchiveTrace(const StoredTrace& trace) {
  absl::Status s;
  {
    std::shared_lock lock(mu_);
    s = store_ != nullptr ? store_->ArchiveTrace(trace) : ClosedError();
    if (s.ok() || !absl::IsUnavailable(s)) return s;
  }
  MaybeReopen(s);
  std::shared_lock lock(mu_);
  if (store_ != nullptr && store_->WriteHealth().ok()) return store_->ArchiveTrace(trace);
  return s;
}

absl::StatusOr<std::optional<StoredTrace>> RecoveringTraceStore::GetArchivedTrace(
    const TraceId& id) {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->GetArchivedTrace(id);
}

absl::Status RecoveringTraceStore::Flush() {
  absl::Status s;
  {
    std::shared_lock lock(mu_);
    s = store_ != nullptr ? store_->Flush() : ClosedError();
    if (s.ok() || !absl::IsUnavailable(s)) return s;
  }
  MaybeReopen(s);
  std::shared_lock lock(mu_);
  if (store_ != nullptr && store_->WriteHealth().ok()) return store_->Flush();
  return s;
}

StoreStats RecoveringTraceStore::Stats() const {
  std::shared_lock lock(mu_);
  return store_ != nullptr ? store_->Stats() : last_stats_;
}

absl::Status RecoveringTraceStore::WriteHealth() const {
  std::shared_lock lock(mu_);
  if (store_ == nullptr) return ClosedError();
  return store_->WriteHealth();
}

}  // namespace tailtrace::storage
