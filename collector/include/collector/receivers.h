#pragma once

// OTLP receivers. Each decodes and validates, hands the valid spans to a SpanSink, and answers
// the client only after the sink took them.

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "collector/options.h"
#include "collector/span_sink.h"
#include "common/metrics.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace tailtrace::collector {

// OTLP/gRPC TraceService/Export. gzip accepted. Invalid spans are rejected through
// partial_success while the valid ones are kept; a full pipeline is UNAVAILABLE.
class GrpcReceiver {
 public:
  // Starts serving. `sink` and `metrics` must outlive the receiver. `extra_services` (e.g. the
  // cluster's query service) are served on the same port, behind the same TLS; each checks its
  // callers itself. They must outlive the receiver.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GrpcReceiver>> Create(
      const GrpcReceiverOptions& options, SpanSink* sink, MetricsRegistry* metrics,
      const std::vector<grpc::Service*>& extra_services = {});
  virtual ~GrpcReceiver() = default;
  virtual int port() const = 0;
  // Stops accepting and waits for calls in flight until `deadline_ms` from now. Idempotent.
  virtual void Shutdown(int64_t deadline_ms) = 0;
};

// OTLP/HTTP POST /v1/traces, application/x-protobuf and application/json, gzip.
class HttpReceiver {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpReceiver>> Create(
      const HttpReceiverOptions& options, SpanSink* sink, MetricsRegistry* metrics);
  virtual ~HttpReceiver() = default;
  virtual int port() const = 0;
  virtual void Shutdown() = 0;
};

}  // namespace tailtrace::collector
