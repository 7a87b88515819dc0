#include "cluster/query_server.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_auth.h"
#include "common/listener_security.h"
#include "query_codec_internal.h"
#include "tailtrace/cluster/v1/cluster.grpc.pb.h"
#include "worker_pool_internal.h"

namespace tailtrace::cluster {
namespace {

namespace pb = ::tailtrace::cluster::v1;
using internal::FromProto;
using internal::ToGrpcStatus;
using internal::ToProto;

class QueryServerImpl final : public QueryServer, public pb::ClusterQuery::CallbackService {
 public:
  QueryServerImpl(const QueryServerOptions& options, storage::TraceStore* store,
                  std::unique_ptr<security::BearerTokens> tokens)
      : options_(options),
        store_(store),
        tokens_(std::move(tokens)),
        pool_(options.num_threads, options.max_queued_calls) {}

  grpc::Service* service() override { return this; }

  grpc::ServerUnaryReactor* GetTrace(grpc::CallbackServerContext* context,
                                     const pb::GetTraceRequest* request,
                                     pb::GetTraceResponse* response) override {
    return Submit(context, [this, request, response] { return DoGetTrace(*request, response); });
  }

  grpc::ServerUnaryReactor* GetArchivedTrace(grpc::CallbackServerContext* context,
                                             const pb::GetTraceRequest* request,
                                             pb::GetTraceResponse* response) override {
    return Submit(context,
                  [this, request, response] { return DoGetArchivedTrace(*request, response); });
  }

  grpc::ServerUnaryReactor* FindTraces(grpc::CallbackServerContext* context,
                                       const pb::FindTracesRequest* request,
                                       pb::FindTracesResponse* response) override {
    return Submit(context, [this, request, response] { return DoFindTraces(*request, response); });
  }

  grpc::ServerUnaryReactor* GetServices(grpc::CallbackServerContext* context,
                                        const pb::GetServicesRequest*,
                                        pb::GetServicesResponse* response) override {
    return Submit(context, [this, response] {
      absl::StatusOr<std::vector<std::string>> services = store_->GetServices();
      if (!services.ok()) return ToGrpcStatus(services.status());
      for (std::string& s : *services) response->add_services(std::move(s));
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* GetOperations(grpc::CallbackServerContext* context,
                                          const pb::GetOperationsRequest* request,
                                          pb::GetOperationsResponse* response) override {
    return Submit(context, [this, request, response] {
      absl::StatusOr<std::vector<storage::Operation>> ops =
          store_->GetOperations(request->service(), request->span_kind());
      if (!ops.ok()) return ToGrpcStatus(ops.status());
      for (storage::Operation& op : *ops) {
        pb::Operation* out = response->add_operations();
        out->set_name(std::move(op.name));
        out->set_span_kind(op.span_kind);
      }
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* SuggestTags(grpc::CallbackServerContext* context,
                                        const pb::SuggestTagsRequest* request,
                                        pb::SuggestTagsResponse* response) override {
    return Submit(context, [this, request, response] {
      storage::TagSuggestionQuery query = FromProto(*request);
      query.limit = std::min(query.limit, options_.max_search_limit);
      absl::StatusOr<std::vector<std::string>> names = store_->SuggestTags(query);
      if (!names.ok()) return ToGrpcStatus(names.status());
      for (std::string& name : *names) response->add_names(std::move(name));
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* GetDependencies(grpc::CallbackServerContext* context,
                                            const pb::GetDependenciesRequest* request,
                                            pb::GetDependenciesResponse* response) override {
    return Submit(context, [this, request, response] {
      absl::StatusOr<std::vector<storage::DependencyLink>> links =
          store_->GetDependencies(request->end_ns(), request->lookback_ns());
      if (!links.ok()) return ToGrpcStatus(links.status());
      for (storage::DependencyLink& link : *links) ToProto(std::move(link), response->add_links());
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* ReadMetricPoints(grpc::CallbackServerContext* context,
                                             const pb::ReadMetricPointsRequest* request,
                                             pb::ReadMetricPointsResponse* response) override {
    return Submit(context, [this, request, response] {
      storage::MetricPointQuery query;
      query.services.assign(request->services().begin(), request->services().end());
      query.start_ns = request->start_ns();
      query.end_ns = request->end_ns();
      absl::StatusOr<std::vector<storage::MetricPoint>> points = store_->ReadMetricPoints(query);
      if (!points.ok()) return ToGrpcStatus(points.status());
      for (const storage::MetricPoint& point : *points) ToProto(point, response->add_points());
      return grpc::Status::OK;
    });
  }

  // Answered inline: it touches no store, and a probe must not wait behind slow searches.
  grpc::ServerUnaryReactor* Ping(grpc::CallbackServerContext* context, const pb::PingRequest*,
                                 pb::PingResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status auth = security::CheckGrpcBearerToken(tokens_.get(), *context);
    if (auth.ok()) response->set_member(options_.self);
    reactor->Finish(std::move(auth));
    return reactor;
  }

 private:
  // Checks the caller, then runs `work` (returning the call's status) on the pool.
  template <typename Work>
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context, Work work) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status auth = security::CheckGrpcBearerToken(tokens_.get(), *context); !auth.ok()) {
      reactor->Finish(std::move(auth));
      return reactor;
    }
    const bool queued = pool_.TrySubmit([context, reactor, work = std::move(work)] {
      // A caller that gave up (its fan-out deadline passed) is not worth a store read.
      if (context->IsCancelled()) {
        reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the caller cancelled"));
        return;
      }
      reactor->Finish(work());
    });
    if (!queued) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("member ", options_.self, " is busy: ", options_.max_queued_calls,
                       " cluster queries are already waiting")));
    }
    return reactor;
  }

  static grpc::Status CheckTraceId(const pb::GetTraceRequest& request) {
    if (request.trace_id().size() == kTraceIdBytes) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("trace_id has ", request.trace_id().size(),
                                     " bytes, expected ", kTraceIdBytes));
  }

  // The smaller non-zero bound of the request's and this node's.
  uint64_t MaxSpansOf(const pb::GetTraceRequest& request) const {
    uint64_t max_spans = options_.max_trace_spans;
    if (request.max_spans() > 0) {
      max_spans = max_spans == 0 ? request.max_spans() : std::min(max_spans, request.max_spans());
    }
    return max_spans;
  }

  grpc::Status DoGetTrace(const pb::GetTraceRequest& request, pb::GetTraceResponse* response) {
    if (grpc::Status id = CheckTraceId(request); !id.ok()) return id;
    absl::StatusOr<std::optional<storage::StoredTrace>> trace =
        store_->GetTraceUpTo(TraceId::FromBytes(request.trace_id()), MaxSpansOf(request));
    if (!trace.ok()) return ToGrpcStatus(trace.status());
    ToProto(*trace, response);
    return grpc::Status::OK;
  }

  grpc::Status DoGetArchivedTrace(const pb::GetTraceRequest& request,
                                  pb::GetTraceResponse* response) {
    if (grpc::Status id = CheckTraceId(request); !id.ok()) return id;
    absl::StatusOr<std::optional<storage::StoredTrace>> trace =
        store_->GetArchivedTrace(TraceId::FromBytes(request.trace_id()));
    if (!trace.ok()) return ToGrpcStatus(trace.status());
    const uint64_t max_spans = MaxSpansOf(request);
    if (trace->has_value() && max_spans > 0 && storage::SpanCountOf((*trace)->data) > max_spans) {
      // Too large to be shown anyway: the caller only needs to know.
      (*trace)->data.Clear();
      (*trace)->truncated = true;
    }
    ToProto(*trace, response);
    return grpc::Status::OK;
  }

  grpc::Status DoFindTraces(const pb::FindTracesRequest& request,
                            pb::FindTracesResponse* response) {
    storage::TraceQuery query = FromProto(request);
    query.limit = std::min(query.limit, options_.max_search_limit);
    absl::StatusOr<std::vector<storage::TraceSummary>> summaries = store_->FindTraces(query);
    if (!summaries.ok()) return ToGrpcStatus(summaries.status());
    response->mutable_summaries()->Reserve(static_cast<int>(summaries->size()));
    for (const storage::TraceSummary& s : *summaries) ToProto(s, response->add_summaries());
    return grpc::Status::OK;
  }

  const QueryServerOptions options_;
  storage::TraceStore* const store_;
  // Null without a token file.
  const std::unique_ptr<security::BearerTokens> tokens_;
  // Last: destroyed first, finishing the calls still queued while the rest is alive.
  internal::WorkerPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<QueryServer>> QueryServer::Create(const QueryServerOptions& options,
                                                                 storage::TraceStore* store) {
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster query server: num_threads must be >= 1, got ", options.num_threads));
  }
  if (options.max_queued_calls < 1) {
    return absl::InvalidArgumentError("cluster query server: max_queued_calls must be >= 1, got 0");
  }
  if (options.max_search_limit < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster query server: max_search_limit must be >= 1, got ", options.max_search_limit));
  }
  std::unique_ptr<security::BearerTokens> tokens;
  if (!options.bearer_token_file.empty()) {
    absl::StatusOr<std::unique_ptr<security::BearerTokens>> read =
        security::BearerTokens::Create(options.bearer_token_file);
    if (!read.ok()) return read.status();
    tokens = *std::move(read);
  }
  return std::make_unique<QueryServerImpl>(options, store, std::move(tokens));
}

}  // namespace tailtrace::cluster
