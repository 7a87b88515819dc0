#include "cluster/peer_forwarder.h"

#include <grpc/compression.h>
#include <grpcpp/alarm.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collector/grpc_byte_buffer_peer.h"
#include "collector/gzip.h"
#include "collector/lz4_frame.h"
#include "collector/span_sink.h"
#include "spdlog/spdlog.h"

namespace tailtrace::cluster {
namespace {

constexpr char kExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

std::chrono::system_clock::time_point DeadlineIn(int64_t ns) {
  return std::chrono::system_clock::now() + std::chrono::nanoseconds(ns);
}

// Whether the peer itself answered `status` (as opposed to gRPC failing to reach it): every
// refusal of our receivers carries details (google.rpc.RetryInfo) or another code than the
// transport's UNAVAILABLE and DEADLINE_EXCEEDED.
bool PeerAnswered(const grpc::Status& status) {
  if (status.ok()) return true;
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::DEADLINE_EXCEEDED || code == grpc::StatusCode::CANCELLED) {
    return false;
  }
  return code != grpc::StatusCode::UNAVAILABLE || !status.error_details().empty();
}

}  // namespace

struct PeerForwarder::Batch {
  std::vector<Item> items;
  uint64_t bytes = 0;
  uint64_t spans = 0;
  std::string compressed;  // the gzip-compressed request (request points into it)
  PeerCompression encoding = PeerCompression::kNone;  // how `request` is compressed
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::ClientContext> context;
  grpc::Alarm backoff;
  int attempt = 0;
};

PeerForwarder::PeerForwarder(PeerForwarderOptions options, PeerChannels* channels,
                             Membership* membership, Clock* clock, MetricsRegistry* metrics)
    : options_(std::move(options)),
      channels_(channels),
      membership_(membership),
      clock_(clock),
      stub_(channels->Get(options_.peer)) {
  const Labels peer = {{"peer", options_.peer}, {"kind", options_.handover ? "handover" : "owner"}};
  sent_spans_ = metrics->GetCounter("tailtrace_cluster_forwarded_spans_total",
                                    "Spans handed to the member that owns their trace.", peer);
  sent_batches_ = metrics->GetCounter("tailtrace_cluster_forward_batches_total",
                                      "Export calls to a member that it took.", peer);
  refused_spans_ = metrics->GetCounter(
      "tailtrace_cluster_forward_refused_spans_total",
      "Spans a member refused (e.g. its pipeline was full); the client was asked to retry.", peer);
  unreachable_spans_ = metrics->GetCounter(
      "tailtrace_cluster_forward_unreachable_spans_total",
      "Spans that could not reach their owner and went to the next member in hash order.", peer);
  retries_ =
      metrics->GetCounter("tailtrace_cluster_forward_retries_total",
                          "Export calls to a member retried after it could not be reached.", peer);
  queue_bytes_ = metrics->GetGauge("tailtrace_cluster_forward_queue_bytes",
                                   "Bytes of spans queued or in flight to a member.", peer);
}

PeerForwarder::~PeerForwarder() { Shutdown(clock_->MonotonicNanos()); }

bool PeerForwarder::TryReserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (stopping_ || reserved_bytes_ + bytes > options_.queue_bytes) return false;
  reserved_bytes_ += bytes;
  queue_bytes_->Set(static_cast<int64_t>(reserved_bytes_));
  return true;
}

void PeerForwarder::Unreserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  reserved_bytes_ -= std::min(bytes, reserved_bytes_);
  queue_bytes_->Set(static_cast<int64_t>(reserved_bytes_));
  idle_.notify_all();
}

void PeerForwarder::Send(std::string bytes, uint64_t spans, Done done) {
  std::string frame;
  if (options_.compression == PeerCompression::kLz4 &&
      !lz4_refused_.load(std::memory_order_relaxed)) {
    const std::string_view piece(bytes);
    frame = collector::Lz4FrameCompress({&piece, 1});  // "" (out of memory): the batch gzips
  }
  std::unique_lock lock(mu_);
  queued_bytes_ += bytes.size();
  queue_.push_back(Item{std::move(bytes), std::move(frame), spans, std::move(done)});
  StartBatchesLocked(lock);
}

void PeerForwarder::StartBatchesLocked(std::unique_lock<std::mutex>& lock) {
  std::vector<std::shared_ptr<Batch>> started;
  // The first call goes out at once; a second only with a full batch. Otherwise requests wait for
  // the call in flight and go out together when it ends, so that under load a call carries many
  // requests (each call costs both members tens of microseconds whatever its size), and at low
  // load none waits for more than one call.
  while (!queue_.empty() &&
         (calls_in_flight_ == 0 ||
          (calls_in_flight_ < kMaxCallsInFlight && queued_bytes_ >= options_.max_batch_bytes))) {
    auto batch = std::make_shared<Batch>();
    while (!queue_.empty() && (batch->items.empty() || batch->bytes + queue_.front().bytes.size() <=
                                                           options_.max_batch_bytes)) {
      batch->bytes += queue_.front().bytes.size();
      batch->spans += queue_.front().spans;
      batch->items.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_bytes_ -= batch->bytes;
    ++calls_in_flight_;
    in_flight_.push_back(batch);
    started.push_back(std::move(batch));
  }
  lock.unlock();
  for (std::shared_ptr<Batch>& batch : started) {
    PrepareRequest(*batch);
    Call(std::move(batch));
  }
  lock.lock();
}

void PeerForwarder::PrepareRequest(Batch& batch) const {
  batch.encoding = options_.compression;
  if (batch.encoding == PeerCompression::kLz4 &&
      (lz4_refused_.load(std::memory_order_relaxed) ||
       std::any_of(batch.items.begin(), batch.items.end(),
                   [](const Item& item) { return item.frame.empty(); }))) {
    batch.encoding = PeerCompression::kGzip;  // refused, or an item not framed (out of memory)
  }
  if (batch.encoding == PeerCompression::kLz4) {
    // Concatenated frames decode to the concatenation of their contents (collector/lz4_frame.h).
    batch.request = Concatenated(batch.items, &Item::frame);
    return;
  }
  if (batch.encoding == PeerCompression::kGzip) {
    // gRPC's own gzip is zlib's level 6, three times the CPU of level 1 for 15% fewer bytes: the
    // batch goes out compressed here, flagged so that gRPC sends it as it is.
    std::vector<std::string_view> pieces;
    pieces.reserve(batch.items.size());
    for (const Item& item : batch.items) pieces.emplace_back(item.bytes);
    batch.compressed = collector::Gzip(pieces, collector::GzipLevel::kFastest);
    if (!batch.compressed.empty()) {
      grpc_slice slice =
          grpc_slice_from_static_buffer(batch.compressed.data(), batch.compressed.size());
      grpc::internal::GrpcByteBufferPeer(&batch.request)
          .Adopt(grpc_raw_compressed_byte_buffer_create(&slice, 1, GRPC_COMPRESS_GZIP));
      return;
    }  // libdeflate failed (out of memory): gRPC compresses it then
  }
  batch.request = Concatenated(batch.items, &Item::bytes);
}

grpc::ByteBuffer PeerForwarder::Concatenated(const std::vector<Item>& items,
                                             std::string Item::*field) {
  // Concatenated requests are one request (repeated field 1 appends). The slices are the items'
  // strings as they are, without another copy.
  std::vector<grpc::Slice> slices;
  slices.reserve(items.size());
  for (const Item& item : items) {
    const std::string& bytes = item.*field;
    slices.emplace_back(bytes.data(), bytes.size(), grpc::Slice::STATIC_SLICE);
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

bool PeerForwarder::RefusedLz4(const Batch& batch, const grpc::Status& status) {
  if (batch.encoding != PeerCompression::kLz4) return false;
  const grpc::StatusCode code = status.error_code();
  if (code != grpc::StatusCode::INVALID_ARGUMENT && code != grpc::StatusCode::UNIMPLEMENTED) {
    return false;
  }
  if (!lz4_refused_.exchange(true)) {
    spdlog::warn(
        "cluster: member {} cannot read LZ4-framed spans ({}); it gets them gzip-compressed "
        "from now on (is it an older tailtraced? cluster.compression: gzip avoids this)",
        options_.peer, status.error_message());
  }
  return true;
}

void PeerForwarder::Call(std::shared_ptr<Batch> batch) {
  auto fresh = std::make_unique<grpc::ClientContext>();
  fresh->set_deadline(DeadlineIn(options_.attempt_timeout_ns));
  if (batch->encoding == PeerCompression::kGzip) {
    fresh->set_compression_algorithm(GRPC_COMPRESS_GZIP);
  } else if (batch->encoding == PeerCompression::kLz4) {
    fresh->AddMetadata(collector::kPeerEncodingMetadata, collector::kPeerEncodingLz4);
  }
  channels_->Prepare(fresh.get());
  if (options_.handover) fresh->AddMetadata(collector::kHandoverMetadata, "1");
  grpc::ClientContext* context = fresh.get();
  {
    std::lock_guard lock(mu_);  // Shutdown may cancel it
    if (stopping_ && shutdown_cancelled_) context->TryCancel();
    batch->context = std::move(fresh);
  }
  const grpc::ByteBuffer* request = &batch->request;
  grpc::ByteBuffer* response = &batch->response;
  stub_.UnaryCall(context, kExportMethod, grpc::StubOptions(), request, response,
                  [this, batch = std::move(batch)](grpc::Status status) mutable {
                    OnCallDone(std::move(batch), status);
                  });
}

void PeerForwarder::OnCallDone(std::shared_ptr<Batch> batch, const grpc::Status& status) {
  if (RefusedLz4(*batch, status)) {
    // The same batch again, gzip-compressed: from the alarm's thread, as the finished call still
    // holds its request until this callback returns.
    Batch* raw = batch.get();
    raw->backoff.Set(DeadlineIn(0), [this, batch = std::move(batch)](bool fired) mutable {
      if (!fired) {  // cancelled by Shutdown
        return OnCallDone(std::move(batch),
                          grpc::Status(grpc::StatusCode::CANCELLED, "the node is shutting down"));
      }
      PrepareRequest(*batch);
      Call(std::move(batch));
    });
    return;
  }
  if (PeerAnswered(status)) {
    {
      std::lock_guard lock(mu_);
      failing_since_ns_ = 0;
      gave_up_ = false;
    }
    if (membership_ != nullptr) membership_->ReportSuccess(options_.peer);
    if (status.ok()) {
      sent_spans_->Increment(batch->spans);
      sent_batches_->Increment();
      return Finish(std::move(batch), absl::OkStatus(), false);
    }
    refused_spans_->Increment(batch->spans);
    const absl::Status refusal(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("member ", options_.peer, ": ", status.error_message()));
    return Finish(std::move(batch), refusal, false);
  }
  const int64_t now = clock_->MonotonicNanos();
  bool give_up = false;
  bool first_give_up = false;
  {
    std::lock_guard lock(mu_);
    if (failing_since_ns_ == 0) failing_since_ns_ = now;
    give_up = stopping_ || now - failing_since_ns_ >= options_.give_up_after_ns;
    first_give_up = give_up && !gave_up_;
    gave_up_ = gave_up_ || give_up;
  }
  const std::string error = status.error_message();
  if (give_up) {
    if (first_give_up) {  // once per outage, not per batch
      spdlog::warn(
          "cluster: member {} cannot be reached ({}); its traces go to the next member "
          "in hash order until it answers again",
          options_.peer, error);
    }
    if (membership_ != nullptr) membership_->ReportFailure(options_.peer, error);
    unreachable_spans_->Increment(batch->spans);
    return Finish(std::move(batch),
                  absl::UnavailableError(
                      absl::StrCat("member ", options_.peer, " cannot be reached: ", error)),
                  true);
  }
  retries_->Increment();
  const int64_t delay = BackoffNs(++batch->attempt);
  Batch* raw = batch.get();
  raw->backoff.Set(DeadlineIn(delay), [this, batch = std::move(batch)](bool fired) mutable {
    if (!fired) {  // cancelled by Shutdown
      return OnCallDone(std::move(batch),
                        grpc::Status(grpc::StatusCode::CANCELLED, "the node is shutting down"));
    }
    Call(std::move(batch));
  });
}

int64_t PeerForwarder::BackoffNs(int attempt) const {
  const int64_t base = 50'000'000;  // 50 ms, doubling, at most 500 ms
  return std::min<int64_t>(base << std::min(attempt - 1, 4), 500'000'000);
}

void PeerForwarder::Finish(std::shared_ptr<Batch> batch, const absl::Status& status,
                           bool unreachable) {
  {
    std::unique_lock lock(mu_);
    reserved_bytes_ -= std::min(batch->bytes, reserved_bytes_);
    queue_bytes_->Set(static_cast<int64_t>(reserved_bytes_));
    --calls_in_flight_;
    std::erase(in_flight_, batch);
    StartBatchesLocked(lock);
    idle_.notify_all();
  }
  for (Item& item : batch->items) {
    Outcome outcome{status, unreachable, unreachable ? std::move(item.bytes) : std::string()};
    std::move(item.done)(std::move(outcome));
  }
}

void PeerForwarder::Shutdown(int64_t deadline_ns) {
  std::unique_lock lock(mu_);
  stopping_ = true;
  const auto done = [this] { return calls_in_flight_ == 0 && queue_.empty(); };
  const int64_t wait_ns = std::max<int64_t>(0, deadline_ns - clock_->MonotonicNanos());
  if (!idle_.wait_for(lock, std::chrono::nanoseconds(wait_ns), done)) {
    shutdown_cancelled_ = true;
    for (const std::shared_ptr<Batch>& batch : in_flight_) {
      if (batch->context != nullptr) batch->context->TryCancel();
      batch->backoff.Cancel();
    }
    // Cancelled calls answer soon (CANCELLED: given up, as stopping_ is set).
    idle_.wait(lock, done);
  }
}

}  // namespace tailtrace::cluster
