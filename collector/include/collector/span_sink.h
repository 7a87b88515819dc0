#pragma once

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "proto/otlp_wire.h"

namespace tailtrace::collector {

// gRPC metadata that marks a call as made by a member of the cluster for the cluster (its value
// is the calling member's name): a forwarded Export is taken by the receiving node itself and
// never forwarded again; a fan-out query is answered from the receiving node's store only.
inline constexpr char kPeerCallMetadata[] = "tailtrace-peer";
// Marks a forwarded Export as a handover (with kPeerCallMetadata): the receiving member was the
// owner of these traces before membership changed, and keeps the spans of traces it took lately;
// the rest it passes to their new owner (cluster/span_router.h).
inline constexpr char kHandoverMetadata[] = "tailtrace-handover";
// Marks a forwarded Export (with kPeerCallMetadata) whose message is an LZ4 frame of the request
// (collector/lz4_frame.h), value kPeerEncodingLz4: the receiving member decodes it, within its
// max_recv_msg_size, before reading the request. A member that does not know the marker refuses
// the call as malformed, and the sender falls back to gzip (cluster/peer_forwarder.h).
inline constexpr char kPeerEncodingMetadata[] = "tailtrace-peer-encoding";
inline constexpr char kPeerEncodingLz4[] = "lz4";

// Where a request came from, as far as routing cares.
struct ConsumeContext {
  // Forwarded by another member of the cluster (kPeerCallMetadata): not to be forwarded again,
  // unless it is a handover.
  bool from_peer = false;
  // A handover from a member that routes by the new membership (kHandoverMetadata).
  bool handover = false;
};

// Called once with the outcome of ConsumeAsync, on any thread.
using ConsumeDone = absl::AnyInvocable<void(absl::Status) &&>;

// Where receivers hand validated spans. Implemented by the Pipeline (router + sampler shards),
// the admission gate in front of it and, in a cluster, the router that forwards spans to the
// members that own their traces.
class SpanSink {
 public:
  virtual ~SpanSink() = default;

  // Takes every span listed in `request` (scanned by ScanExportRequest, so each has valid IDs
  // and parses). OK means the pipeline holds all of them; Unavailable means it is full and took
  // none of them (the client should retry later); FailedPrecondition means it is shutting down.
  // Thread-safe; never blocks on a full pipeline.
  [[nodiscard]] virtual absl::Status Consume(WireRequest&& request) = 0;

  // As Consume, but the outcome may come later (`done` is called once, on any thread, perhaps
  // before this returns): a cluster router answers only when the members that own the spans
  // hold them. Receivers call this one. The default calls Consume.
  virtual void ConsumeAsync(WireRequest&& request, const ConsumeContext& context,
                            ConsumeDone done) {
    (void)context;
    std::move(done)(Consume(std::move(request)));
  }
};

}  // namespace tailtrace::collector
