#pragma once

// Helpers of the exporter tests: traces to export, and a scripted fake transport.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "exporter/otlp_sender.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/otlp_ids.h"
#include "storage/trace_store.h"

namespace tailtrace::exporter::testing {

using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::trace::v1::TracesData;

inline constexpr int64_t kMs = 1'000'000;
inline constexpr int64_t kS = 1'000'000'000;

// A trace of `spans` spans of service `service`, its trace ID derived from `n`.
inline TracesData MakeTrace(uint64_t n, int spans, const std::string& service = "checkout") {
  TracesData data;
  auto* rs = data.add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("exporter-test");
  std::string trace_id(16, '\0');
  trace_id[0] = 0x42;
  for (int i = 0; i < 8; ++i) trace_id[15 - i] = static_cast<char>((n + 1) >> (8 * i));
  for (int i = 0; i < spans; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(trace_id);
    span->set_span_id(std::string(7, '\x01') + static_cast<char>(i + 1));
    span->set_name("op-" + std::to_string(i));
    span->set_start_time_unix_nano(1'700'000'000'000'000'000ull + n * 1000);
    span->set_end_time_unix_nano(1'700'000'000'000'000'000ull + n * 1000 + 500);
  }
  return data;
}

// The TraceWrite the pipeline would hand the store for `data` (with or without wire bytes).
inline storage::TraceWrite WriteOf(const TracesData& data, std::string_view bytes = {}) {
  storage::TraceWrite write;
  write.trace_id = TraceId::FromBytes(data.resource_spans(0).scope_spans(0).spans(0).trace_id());
  write.spans = &data;
  write.spans_bytes = bytes;
  return write;
}

inline int SpansIn(const ExportTraceServiceRequest& request) {
  int n = 0;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

// Polls `done` until it holds or 10 s pass (a deadline for a hung test, not a wait for an
// outcome).
inline bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A transport answering from a script, recording every request. The exporter owns the sender,
// so the test keeps the shared Backend.
class FakeBackend {
 public:
  explicit FakeBackend(Clock* clock = Clock::Real()) : clock_(clock) {}

  struct Attempt {
    ExportTraceServiceRequest request;
    int64_t clock_ns = 0;   // the exporter's clock at the attempt
    int64_t steady_ns = 0;  // real time, for lower bounds on waits
    int64_t timeout_ns = 0;
  };

  // Results of the next attempts, in order; every attempt after them succeeds (or `fallback`).
  void Script(std::vector<SendResult> results) {
    std::lock_guard lock(mu_);
    script_.insert(script_.end(), results.begin(), results.end());
  }
  void SetFallback(SendResult result) {
    std::lock_guard lock(mu_);
    fallback_ = std::move(result);
  }
  // While held, attempts wait in Send (as for a slow backend).
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    held_ = hold;
    cv_.notify_all();
  }

  // Waits (10 s at most) until `n` attempts have arrived.
  bool WaitForAttempts(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return attempts_.size() >= n; });
  }
  std::vector<Attempt> attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }

  std::unique_ptr<OtlpSender> MakeSender();

 private:
  class Sender;
  SendResult Handle(const std::string& request, int64_t timeout_ns) {
    std::unique_lock lock(mu_);
    Attempt attempt;
    attempt.request.ParseFromString(request);
    attempt.clock_ns = clock_->MonotonicNanos();
    attempt.steady_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    attempt.timeout_ns = timeout_ns;
    attempts_.push_back(std::move(attempt));
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    if (script_.empty()) return fallback_;
    SendResult result = script_.front();
    script_.pop_front();
    return result;
  }

  Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SendResult> script_;
  SendResult fallback_;
  bool held_ = false;
  std::vector<Attempt> attempts_;
};

class FakeBackend::Sender final : public OtlpSender {
 public:
  explicit Sender(FakeBackend* backend) : backend_(backend) {}
  SendResult Send(const std::string& request, int64_t timeout_ns) override {
    return backend_->Handle(request, timeout_ns);
  }

 private:
  FakeBackend* backend_;
};

inline std::unique_ptr<OtlpSender> FakeBackend::MakeSender() {
  return std::make_unique<Sender>(this);
}

inline SendResult Retryable(int64_t retry_after_ns = -1) {
  return SendResult{SendResult::Kind::kRetryable, "UNAVAILABLE: try later", retry_after_ns, 0};
}
inline SendResult Permanent() {
  return SendResult{SendResult::Kind::kPermanent, "INVALID_ARGUMENT: bad data", -1, 0};
}

}  // namespace tailtrace::exporter::testing
