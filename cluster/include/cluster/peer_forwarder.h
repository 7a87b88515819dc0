#pragma once

// Sends spans to one peer over OTLP/gRPC (TraceService/Export, marked as a peer call): requests
// wait in a byte-bounded queue and go out as batches (the queued requests' bytes concatenated,
// which is one ExportTraceServiceRequest holding all of their spans), at most
// kMaxCallsInFlight calls at a time (the second only for a full batch), compressed (LZ4 frames
// unless configured otherwise: one frame per request, the batch's frames concatenated).
//
// Outcomes, per request:
// - the peer took the batch: OK;
// - the peer answered but refused it (its pipeline is full, it is shutting down, ...): the
//   refusal, which the router passes to the client as backpressure (the peer is alive, so its
//   traces must not move elsewhere);
// - the peer cannot be reached (connection refused or reset, no answer within attempt_timeout):
//   retried with backoff while the peer has been failing for less than give_up_after, then
//   kUnreachable with the bytes given back, so the router hands the spans to the next member in
//   their traces' hash order.
// Membership hears of every answer (ReportSuccess) and every unreachable give-up (ReportFailure).

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "cluster/membership.h"
#include "cluster/options.h"
#include "cluster/peer_channels.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace tailtrace::cluster {

struct PeerForwarderOptions {
  // The peer's member name (host:port).
  std::string peer;
  // Bytes of requests queued or in flight at most (TryReserve refuses beyond it).
  uint64_t queue_bytes = 64ull << 20;
  // A batch holds requests up to about this many bytes (one request may be larger). Small
  // enough that the owner decodes, scans and logs a batch while it is still in its CPU's cache
  // (4 MiB batches cost the owners' receivers about 10% more CPU: bench/README.md, "Cluster
  // mode").
  uint64_t max_batch_bytes = 512ull << 10;
  // One call's deadline.
  int64_t attempt_timeout_ns = 2'000'000'000;
  // How long a peer may fail to be reached before its batches give up (and go elsewhere).
  int64_t give_up_after_ns = 1'000'000'000;
  // How requests go to the peer (ClusterOptions::compression). With kLz4, a peer that refuses an
  // LZ4-framed call as malformed or unsupported (a member without kPeerEncodingMetadata) gets
  // that batch and every later one gzip-compressed.
  PeerCompression compression = PeerCompression::kLz4;
  // Sends handovers (collector::kHandoverMetadata): the peer keeps the spans of traces it took
  // lately and passes the rest on to their new owner.
  bool handover = false;
};

// The status a request gets when its peer could not be reached (its bytes come back with it).
inline constexpr absl::StatusCode kUnreachable = absl::StatusCode::kUnavailable;

class PeerForwarder {
 public:
  // Called once per request: OK, the peer's refusal (`bytes` empty), or kUnreachable with the
  // request's bytes given back (`unreachable` true).
  struct Outcome {
    absl::Status status;
    bool unreachable = false;
    std::string bytes;
  };
  using Done = absl::AnyInvocable<void(Outcome) &&>;

  // None owned; all must outlive the forwarder. `membership` may be null (tests).
  PeerForwarder(PeerForwarderOptions options, PeerChannels* channels, Membership* membership,
                Clock* clock, MetricsRegistry* metrics);
  ~PeerForwarder();
  PeerForwarder(const PeerForwarder&) = delete;
  PeerForwarder& operator=(const PeerForwarder&) = delete;

  // Reserves queue room for a request of `bytes`; false when the queue is full (or the
  // forwarder is stopping). A reservation is used by Send or given back by Unreserve.
  bool TryReserve(uint64_t bytes);
  void Unreserve(uint64_t bytes);

  // Queues a request (an ExportTraceServiceRequest of `spans` spans, room reserved) and sends it
  // with the next batch. `done` runs on a gRPC thread, or on this one.
  void Send(std::string bytes, uint64_t spans, Done done);

  // Stops taking requests and waits until every queued request got its outcome, at most until
  // `deadline_ns` (monotonic); calls still in flight then are cancelled. Idempotent.
  void Shutdown(int64_t deadline_ns);

  const std::string& peer() const { return options_.peer; }

 private:
  struct Item {
    std::string bytes;
    // `bytes` as one LZ4 frame, compressed by Send in the caller's thread while the bytes are in
    // its cache; a batch's LZ4 frames go out concatenated. "" unless LZ4 frames are sent.
    std::string frame;
    uint64_t spans = 0;
    Done done;
  };
  struct Batch;

  void StartBatchesLocked(std::unique_lock<std::mutex>& lock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets batch.request (and batch.encoding): the items as one Export request, compressed as the
  // options say unless the peer refused LZ4 frames.
  void PrepareRequest(Batch& batch) const;
  // One ByteBuffer of every item's `field`, back to back, slicing the strings without a copy.
  static grpc::ByteBuffer Concatenated(const std::vector<Item>& items, std::string Item::*field);
  // Whether `status` is the peer refusing an LZ4-framed `batch` because it cannot read it; then
  // the peer gets gzip from now on.
  bool RefusedLz4(const Batch& batch, const grpc::Status& status);
  void Call(std::shared_ptr<Batch> batch);
  void OnCallDone(std::shared_ptr<Batch> batch, const grpc::Status& status);
  // Ends a batch: every item gets `status` (its bytes back when `unreachable`).
  void Finish(std::shared_ptr<Batch> batch, const absl::Status& status, bool unreachable);
  int64_t BackoffNs(int attempt) const;

  static constexpr int kMaxCallsInFlight = 2;

  const PeerForwarderOptions options_;
  PeerChannels* const channels_;
  Membership* const membership_;
  Clock* const clock_;
  grpc::GenericStub stub_;

  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  // The bytes of the requests in queue_ (not yet in a batch).
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reserved_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int calls_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Batch>> in_flight_ ABSL_GUARDED_BY(mu_);
  // Monotonic time of the first unreachable answer since the last answer; 0 while reachable.
  int64_t failing_since_ns_ ABSL_GUARDED_BY(mu_) = 0;
  // A batch gave up since the last answer (logged once per outage).
  bool gave_up_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Shutdown's deadline passed: calls are cancelled, new attempts too.
  bool shutdown_cancelled_ ABSL_GUARDED_BY(mu_) = false;

  // The peer refused an LZ4-framed call: it gets gzip.
  std::atomic<bool> lz4_refused_{false};

  Counter* sent_spans_;
  Counter* sent_batches_;
  Counter* refused_spans_;
  Counter* unreachable_spans_;
  Counter* retries_;
  Gauge* queue_bytes_;
};

}  // namespace tailtrace::cluster
