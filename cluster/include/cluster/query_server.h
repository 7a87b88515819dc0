#pragma once

// The members' side of query fan-out: the gRPC service tailtrace.cluster.v1.ClusterQuery
// (proto/tailtrace/cluster/v1/cluster.proto), answered from this node's own TraceStore only. A
// member that fans a query out (cluster_reader.h) calls it on every other live member and
// merges; since this service never asks anyone else, a fanned-out request cannot fan out again.
//
// It is served on the OTLP/gRPC receiver's port (GrpcReceiver::Create's extra_services) and
// checks its callers as that receiver does: with the receiver's auth.bearer_token_file, a call
// needs "authorization: Bearer <token>" (UNAUTHENTICATED otherwise). Store errors are answered as
// the gRPC status with the store's code and message. Store reads run on a small pool of the
// server's own threads (not on gRPC's callback threads, which also take spans); when too many
// calls wait, a call is answered RESOURCE_EXHAUSTED at once.
//
// Wiring (daemon):
//   auto server = cluster::QueryServer::Create(options, store);
//   GrpcReceiver::Create(grpc_options, sink, metrics, {(*server)->service()});
// The receiver must be shut down before the QueryServer is destroyed.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/trace_store.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace tailtrace::cluster {

struct QueryServerOptions {
  // This node's member name (cluster.self): what Ping answers.
  // Default: ""
  std::string self;
  // The OTLP/gRPC receiver's auth.bearer_token_file; "" lets every caller in.
  // Default: "" (no authentication)
  std::string bearer_token_file;
  // The most spans one GetTrace reads (a request's smaller non-zero max_spans wins), so that a
  // peer cannot make this node read a huge trace whole. 0: no bound of its own.
  // Default: 100000 (query.max_trace_spans)
  uint64_t max_trace_spans = 100'000;
  // A FindTraces (or SuggestTags) limit above this is lowered to it.
  // Default: 10000 (the query API's largest search limit)
  int max_search_limit = 10'000;
  // Threads running store reads.
  // Default: 2
  int num_threads = 2;
  // Calls waiting for a thread at most; one more is answered RESOURCE_EXHAUSTED.
  // Default: 64
  size_t max_queued_calls = 64;
};

class QueryServer {
 public:
  // `store` is not owned and must outlive the server. InvalidArgument for num_threads < 1 or
  // max_search_limit < 1 or max_queued_calls < 1; the token file's error (naming it) when it cannot
  // be read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<QueryServer>> Create(
      const QueryServerOptions& options, storage::TraceStore* store);
  // Finishes the calls still queued, then stops the threads.
  virtual ~QueryServer() = default;

  // The service to register on a grpc::ServerBuilder; owned by this object.
  virtual grpc::Service* service() = 0;
};

}  // namespace tailtrace::cluster
