// OTLP/gRPC sender: asynchronous unary calls of TraceService/Export through a generic stub, so
// that the pre-serialized request bytes go out as they are (no per-call serialization).

#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "bench/loadgen/sender.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tailtrace::bench {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

constexpr char kExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "OTHER";
  }
}

bool Retryable(grpc::StatusCode code) {
  // The OTLP specification's retryable codes (RESOURCE_EXHAUSTED only with RetryInfo; the
  // receiver does not send it, so it is not retried).
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED || code == grpc::StatusCode::ABORTED ||
         code == grpc::StatusCode::OUT_OF_RANGE || code == grpc::StatusCode::DATA_LOSS;
}

std::chrono::system_clock::time_point After(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
}

class Worker {
 public:
  Worker(const SenderOptions& options, SendPlan* plan, std::vector<grpc::GenericStub*> stubs)
      : options_(options), plan_(plan), stubs_(std::move(stubs)) {}

  SenderStats Run() {
    int active = 0;
    std::vector<std::unique_ptr<Call>> calls;
    for (size_t c = 0; c < stubs_.size(); ++c) {
      for (int k = 0; k < options_.inflight; ++k) {
        auto call = std::make_unique<Call>();
        call->conn = c;
        if (!Next(call.get())) break;
        ++active;
        calls.push_back(std::move(call));
      }
    }
    void* tag = nullptr;
    bool ok = false;
    while (active > 0 && cq_.Next(&tag, &ok)) {
      Call* call = static_cast<Call*>(tag);
      if (call->waiting) {
        call->waiting = false;
        Start(call);
        continue;
      }
      if (!Done(call)) continue;  // retrying
      if (!Next(call)) --active;
    }
    cq_.Shutdown();
    while (cq_.Next(&tag, &ok)) {
    }
    return std::move(stats_);
  }

 private:
  struct Call {
    size_t conn = 0;
    uint64_t index = 0;
    int attempt = 0;
    double start = 0;
    bool waiting = false;
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
    grpc::ByteBuffer response;
    grpc::Status status;
    grpc::Alarm alarm;
  };

  // Claims the next request for `call` and starts it; false when the plan is done.
  bool Next(Call* call) {
    if (!plan_->Claim(&call->index)) return false;
    call->attempt = 0;
    ++stats_.requests;
    stats_.spans_sent += plan_->Spans(call->index);
    Start(call);
    return true;
  }

  void Start(Call* call) {
    const size_t len = plan_->Bytes(call->index);
    grpc_slice raw = grpc_slice_malloc(len);
    plan_->pool().Materialize(plan_->PoolIndex(call->index), plan_->Cycle(call->index),
                              reinterpret_cast<char*>(GRPC_SLICE_START_PTR(raw)));
    grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
    grpc::ByteBuffer request(&slice, 1);
    call->context = std::make_unique<grpc::ClientContext>();
    call->context->set_deadline(After(options_.timeout_seconds));
    call->response.Clear();
    call->start = WallSeconds();
    call->reader =
        stubs_[call->conn]->PrepareUnaryCall(call->context.get(), kExportMethod, request, &cq_);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  }

  // Accounts for a finished attempt; false when it is being retried.
  bool Done(Call* call) {
    const uint32_t spans = plan_->Spans(call->index);
    if (call->status.ok()) {
      stats_.latencies_ms.push_back((WallSeconds() - call->start) * 1e3);
      ++stats_.requests_ok;
      stats_.bytes_accepted += plan_->Bytes(call->index);
      uint64_t rejected = 0;
      ExportTraceServiceResponse response;
      std::vector<grpc::Slice> slices;
      if (call->response.Dump(&slices).ok()) {
        std::string bytes;
        for (const auto& s : slices)
          bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
        if (response.ParseFromString(bytes) && response.has_partial_success()) {
          rejected = static_cast<uint64_t>(std::max<int64_t>(
              0, std::min<int64_t>(spans, response.partial_success().rejected_spans())));
          if (rejected > 0 && stats_.first_error.empty()) {
            stats_.first_error = "partial success: " + response.partial_success().error_message();
          }
        }
      }
      stats_.spans_rejected += rejected;
      stats_.spans_accepted += spans - rejected;
      return true;
    }
    const grpc::StatusCode code = call->status.error_code();
    ++stats_.errors[std::string("grpc ") + CodeName(code)];
    if (stats_.first_error.empty()) {
      stats_.first_error = std::string(CodeName(code)) + ": " + call->status.error_message();
    }
    if (Retryable(code) && call->attempt < options_.max_retries) {
      ++stats_.retries;
      const double delay_ms = std::min(options_.max_backoff_ms,
                                       options_.backoff_ms * (1 << std::min(call->attempt, 20)));
      ++call->attempt;
      call->waiting = true;
      call->alarm.Set(&cq_, After(delay_ms / 1e3), call);
      return false;
    }
    stats_.spans_failed += spans;
    return true;
  }

  const SenderOptions& options_;
  SendPlan* plan_;
  std::vector<grpc::GenericStub*> stubs_;
  grpc::CompletionQueue cq_;
  SenderStats stats_;
};

}  // namespace

SenderStats RunGrpc(const SenderOptions& options, SendPlan* plan) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int c = 0; c < std::max(1, options.connections); ++c) {
    grpc::ChannelArguments args;
    // A channel of its own per connection: no subchannel (TCP connection) sharing.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("tailtrace.loadgen.connection", c);
    args.SetMaxSendMessageSize(-1);
    args.SetMaxReceiveMessageSize(-1);
    auto channel =
        grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(After(10))) {
      SenderStats failed;
      failed.first_error = "cannot connect to " + options.target + " (gRPC) within 10 s";
      ++failed.errors["connect"];
      return failed;
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
    channels.push_back(std::move(channel));
  }
  const int threads = std::clamp(options.threads, 1, static_cast<int>(stubs.size()));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) {
    std::vector<grpc::GenericStub*> mine;
    for (size_t c = t; c < stubs.size(); c += threads) mine.push_back(stubs[c].get());
    workers.push_back(std::make_unique<Worker>(options, plan, std::move(mine)));
  }
  std::vector<SenderStats> results(threads);
  std::vector<std::thread> running;
  for (int t = 1; t < threads; ++t) {
    running.emplace_back([&, t] { results[t] = workers[t]->Run(); });
  }
  results[0] = workers[0]->Run();
  for (auto& th : running) th.join();
  SenderStats total;
  for (auto& r : results) total.Merge(std::move(r));
  return total;
}

void SenderStats::Merge(SenderStats&& o) {
  requests += o.requests;
  requests_ok += o.requests_ok;
  spans_sent += o.spans_sent;
  spans_accepted += o.spans_accepted;
  spans_rejected += o.spans_rejected;
  spans_failed += o.spans_failed;
  bytes_accepted += o.bytes_accepted;
  retries += o.retries;
  for (const auto& [k, v] : o.errors) errors[k] += v;
  latencies_ms.insert(latencies_ms.end(), o.latencies_ms.begin(), o.latencies_ms.end());
  if (first_error.empty()) first_error = std::move(o.first_error);
}

}  // namespace tailtrace::bench
