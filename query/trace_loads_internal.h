#pragma once

// Private to query/: reading the traces of one answer (a search's, or the traces asked by ID) in
// parallel on a shared WorkerPool, handed over in the order asked. Each read returns what the
// answer needs of its trace (the Jaeger search: the trace already rendered), so that a trace's
// objects are made and freed on the one thread that read it, and the request's thread only joins
// the results.
//
// At most `window` reads are under way or waiting to be taken, so a request holds at most that
// many results (each of at most query.max_trace_spans spans) besides the one it took. When the
// pool's queue is full, or without a pool, a trace is read on the request's thread when it is
// taken.
//
// PartialErrors is per request and not thread-safe: each read gets its own, a copy of the
// request's when the read starts (so that a member that already failed in this request is skipped,
// trace_reader.h), and what it records is merged into the request's as its result is taken, in
// order. So an answer lists the partial errors of the sequential reads, though reads already under
// way when a member fails each wait for it once.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/worker_pool.h"
#include "proto/otlp_ids.h"
#include "query/trace_reader.h"

namespace tailtrace::query::internal {

// Not thread-safe (one request's thread uses it); its reads run on the pool.
template <typename T>
class TraceLoads {
 public:
  using Result = absl::StatusOr<T>;
  // Reads one trace; called on the pool's threads, concurrently.
  using ReadFn = std::function<Result(const TraceId& id, PartialErrors* partial_errors)>;

  // `pool` (null: read each trace when it is taken) must outlive this; so must `read`'s
  // captures and `partial_errors` (the request's).
  TraceLoads(WorkerPool* pool, size_t window, std::vector<TraceId> ids, ReadFn read,
             PartialErrors* partial_errors)
      : pool_(pool),
        window_(std::max<size_t>(window, 1)),
        ids_(std::move(ids)),
        read_(std::move(read)),
        partial_errors_(partial_errors),
        slots_(ids_.size()) {}

  // Waits for the reads still under way (they use the caller's reader), e.g. after an error
  // ended the answer early.
  ~TraceLoads() {
    std::unique_lock lock(mu_);
    done_.wait(lock, [this] { return running_ == 0; });
  }
  TraceLoads(const TraceLoads&) = delete;
  TraceLoads& operator=(const TraceLoads&) = delete;

  size_t size() const { return ids_.size(); }
  // Whether Take has traces left.
  bool more() const { return next_ < ids_.size(); }

  // The next trace's read, in the order of `ids`; requires more().
  Result Take() {
    StartAhead();
    const size_t i = next_++;
    if (i >= started_) {
      started_ = i + 1;
      return read_(ids_[i], partial_errors_);
    }
    std::optional<Result> result;
    {
      std::unique_lock lock(mu_);
      done_.wait(lock, [&] { return slots_[i].result.has_value(); });
      result.swap(slots_[i].result);
    }
    partial_errors_->Merge(slots_[i].partial_errors);
    slots_[i].partial_errors = PartialErrors();
    return *std::move(result);
  }

 private:
  struct Slot {
    std::optional<Result> result;  // written under mu_
    PartialErrors partial_errors;
  };

  // Starts the reads of the traces before next_ + window_ not started yet.
  void StartAhead() {
    if (pool_ == nullptr) return;
    const size_t end = std::min(ids_.size(), next_ + window_);
    while (started_ < end) {
      const size_t i = started_;
      slots_[i].partial_errors = *partial_errors_;
      {
        std::lock_guard lock(mu_);
        ++running_;
      }
      if (!pool_->TrySubmit([this, i] { Read(i); })) {
        // The queue is full: this trace and the ones after it are read when they are taken.
        std::lock_guard lock(mu_);
        --running_;
        return;
      }
      ++started_;
    }
  }

  void Read(size_t i) {
    std::optional<Result> result;
    // On the pool's thread an exception would end the process: it becomes the read's error,
    // which the request answers as QueryService::Handle answers one thrown on its own thread.
    try {
      result.emplace(read_(ids_[i], &slots_[i].partial_errors));
    } catch (const std::exception& e) {
      result.emplace(
          absl::InternalError(absl::StrCat("reading trace ", ids_[i].Hex(), ": ", e.what())));
    }
    std::lock_guard lock(mu_);
    slots_[i].result = std::move(result);
    --running_;
    done_.notify_all();
  }

  WorkerPool* const pool_;
  const size_t window_;
  const std::vector<TraceId> ids_;
  const ReadFn read_;
  PartialErrors* const partial_errors_;
  size_t next_ = 0;     // the next to take
  size_t started_ = 0;  // reads started (queued on the pool or done)
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<Slot> slots_;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tailtrace::query::internal
