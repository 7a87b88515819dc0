#pragma once

// The two transports of tailtrace-loadgen. Both send requests of a shared RequestPool, claimed in
// order from a SendPlan, retry the retryable refusals (gRPC UNAVAILABLE, HTTP 429/502/503/504)
// with exponential backoff, and return what happened in SenderStats.

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/workload.h"

namespace tailtrace::bench {

struct SenderOptions {
  // host:port of the OTLP receiver (gRPC) or of the OTLP/HTTP server.
  // Default: 127.0.0.1:4317
  std::string target = "127.0.0.1:4317";
  // TCP connections (gRPC channels that share no subchannel; HTTP keep-alive connections).
  // Default: 2
  int connections = 2;
  // Requests in flight per connection (gRPC only; HTTP/1.1 has one per connection).
  // Default: 4
  int inflight = 4;
  // Client threads driving the gRPC completion queues (HTTP: one thread per connection).
  // Default: 1
  int threads = 1;
  // Attempts after a retryable refusal before the request is given up.
  // Default: 1000
  int max_retries = 1000;
  // First retry delay; doubles up to max_backoff_ms.
  // Default: 5 ms
  double backoff_ms = 5;
  // Default: 200 ms
  double max_backoff_ms = 200;
  // Deadline of one attempt.
  // Default: 30 s
  double timeout_seconds = 30;
};

// Which requests to send. Thread-safe.
class SendPlan {
 public:
  // `total_requests` 0 = until `deadline_wall` (WallSeconds()); both set = whichever comes first.
  SendPlan(const RequestPool* pool, uint64_t total_requests, double deadline_wall)
      : pool_(pool), total_(total_requests), deadline_(deadline_wall) {}

  // Claims the next request; false when the plan is done.
  bool Claim(uint64_t* index) {
    if (deadline_ > 0 && WallSeconds() >= deadline_) return false;
    const uint64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (total_ != 0 && i >= total_) return false;
    *index = i;
    return true;
  }
  const RequestPool& pool() const { return *pool_; }
  size_t PoolIndex(uint64_t i) const { return i % pool_->requests.size(); }
  uint64_t Cycle(uint64_t i) const { return i / pool_->requests.size(); }
  uint32_t Spans(uint64_t i) const { return pool_->span_counts[PoolIndex(i)]; }
  size_t Bytes(uint64_t i) const { return pool_->requests[PoolIndex(i)].size(); }

 private:
  const RequestPool* pool_;
  const uint64_t total_;
  const double deadline_;
  std::atomic<uint64_t> next_{0};
};

struct SenderStats {
  uint64_t requests = 0;     // requests claimed (each counted once, whatever its retries)
  uint64_t requests_ok = 0;  // answered OK
  uint64_t spans_sent = 0;   // spans of the claimed requests
  uint64_t spans_accepted = 0;
  uint64_t spans_rejected = 0;  // OK answers with partial_success.rejected_spans
  uint64_t spans_failed = 0;    // requests given up (non-retryable error or too many retries)
  uint64_t bytes_accepted = 0;  // request bytes of the OK answers
  uint64_t retries = 0;
  // Error kind ("grpc UNAVAILABLE", "http 503", "connect", ...) -> attempts that ended so.
  std::map<std::string, uint64_t> errors;
  // Latency of the successful attempts, milliseconds.
  std::vector<double> latencies_ms;
  std::string first_error;

  void Merge(SenderStats&& other);
};

// Both return an error message in stats.first_error (and no requests sent) when they cannot
// connect at all.
SenderStats RunGrpc(const SenderOptions& options, SendPlan* plan);
SenderStats RunHttp(const SenderOptions& options, SendPlan* plan);

}  // namespace tailtrace::bench
