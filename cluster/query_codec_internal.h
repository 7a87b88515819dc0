#pragma once

// Private to cluster/: storage types <-> the ClusterQuery messages (tailtrace/cluster/v1/
// cluster.proto), and absl::Status <-> grpc::Status (their codes are the same canonical codes).

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/trace_store.h"
#include "tailtrace/cluster/v1/cluster.pb.h"

namespace tailtrace::cluster::internal {

namespace pb = ::tailtrace::cluster::v1;

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

void ToProto(const storage::TraceQuery& query, pb::FindTracesRequest* out);
storage::TraceQuery FromProto(const pb::FindTracesRequest& request);

void ToProto(const storage::TagSuggestionQuery& query, pb::SuggestTagsRequest* out);
storage::TagSuggestionQuery FromProto(const pb::SuggestTagsRequest& request);

void ToProto(const storage::TraceSummary& summary, pb::TraceSummary* out);
// InvalidArgument when the trace ID is not 16 bytes (a peer of another version, or garbage).
absl::StatusOr<storage::TraceSummary> FromProto(const pb::TraceSummary& summary);

// The answer of GetTrace for `trace` (nullopt: not found).
void ToProto(const std::optional<storage::StoredTrace>& trace, pb::GetTraceResponse* out);
// nullopt when not found; InvalidArgument when traces_data does not parse.
absl::StatusOr<std::optional<storage::StoredTrace>> FromProto(const TraceId& id,
                                                              const pb::GetTraceResponse& response);

void ToProto(const storage::MetricPoint& point, pb::MetricPoint* out);
storage::MetricPoint FromProto(const pb::MetricPoint& point);

void ToProto(storage::DependencyLink link, pb::DependencyLink* out);
// A link of a peer of an older version (no error_count) has 0 failed calls.
storage::DependencyLink FromProto(const pb::DependencyLink& link);

}  // namespace tailtrace::cluster::internal
